import { Type, type TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { invalidRequest } from "../errors.ts";
import type { CountTokensRequest } from "./schema.ts";

const open = { additionalProperties: true } as const;
const text = Type.String({ error: "must be a string" });

const TextBlock = Type.Object({ type: Type.Literal("text"), text }, open);
const ImageBlock = Type.Object(
  {
    type: Type.Literal("image"),
    source: Type.Union(
      [
        Type.Object({ type: Type.Literal("base64"), media_type: text, data: text }, open),
        Type.Object({ type: Type.Literal("url"), url: text }, open),
      ],
      { error: "must be {type: base64, media_type, data} or {type: url, url}" },
    ),
  },
  open,
);
const DocumentBlock = Type.Object({ type: Type.Literal("document"), source: Type.Object({ type: text }, { ...open, error: "must be an object with a type" }) }, open);
const ToolResultContent = Type.Union([text, Type.Array(Type.Object({ type: text }, open))], { error: "must be a string or an array of text and image blocks" });

/** The schema of each content block type, by `type`. */
const BLOCKS: Readonly<Record<string, TSchema>> = {
  text: TextBlock,
  image: ImageBlock,
  document: DocumentBlock,
  tool_use: Type.Object({ type: Type.Literal("tool_use"), id: text, name: text, input: Type.Object({}, { ...open, error: "must be an object" }) }, open),
  tool_result: Type.Object({ type: Type.Literal("tool_result"), tool_use_id: text, content: Type.Optional(ToolResultContent), is_error: Type.Optional(Type.Boolean({ error: "must be a boolean" })) }, open),
  thinking: Type.Object({ type: Type.Literal("thinking"), thinking: text, signature: Type.Optional(text) }, open),
  redacted_thinking: Type.Object({ type: Type.Literal("redacted_thinking"), data: text }, open),
};

/** Where each type may appear: a user's turn, an assistant's, the system prompt, a tool result. */
const USER = ["text", "image", "document", "tool_result"];
const ASSISTANT = ["text", "tool_use", "thinking", "redacted_thinking"];
const SYSTEM = ["text"];
const TOOL_RESULT = ["text", "image"];

type Loose = Record<string, unknown>;

/** `/source/type` → `.source.type`. */
const dotted = (pointer: string): string => pointer.replaceAll("/", ".").replaceAll("~1", "/").replaceAll("~0", "~");

/** One block against its type's schema; a 400 naming the block and field when it does not fit. */
function checkBlock(block: Loose, where: string, allowed: readonly string[]): void {
  const type = block.type as string;
  const schema = BLOCKS[type];
  if (schema === undefined || !allowed.includes(type)) {
    const what = schema === undefined ? `unknown content block type '${type}'` : `a '${type}' block is not allowed here`;
    throw invalidRequest(`${where}.type: ${what}; expected one of ${allowed.join(", ")}.`, `${where}.type`);
  }
  if (Value.Check(schema, block)) return;
  const first = Value.Errors(schema, block).First();
  const path = `${where}${first === undefined ? "" : dotted(first.path)}`;
  const why = first?.message === "Expected required property" ? "Field required" : (first?.schema as { error?: string } | undefined)?.error ?? first?.message ?? "is invalid";
  throw invalidRequest(`${path}: ${why}.`, path);
}

function checkBlocks(content: unknown, where: string, allowed: readonly string[]): void {
  if (!Array.isArray(content)) return;
  for (let i = 0; i < content.length; i++) {
    const block = content[i] as Loose;
    checkBlock(block, `${where}.${i}`, allowed);
    if (block.type === "tool_result") checkBlocks(block.content, `${where}.${i}.content`, TOOL_RESULT);
  }
}

/**
 * Checks every content block of a request the schema let through: known types, in a place they
 * may appear, with their fields. The 400 names the field as Anthropic does (`messages.0.content.1.type`).
 */
export function checkContent(body: CountTokensRequest): void {
  checkBlocks(body.system, "system", SYSTEM);
  body.messages.forEach((message, i) => checkBlocks(message.content, `messages.${i}.content`, message.role === "user" ? USER : ASSISTANT));
}
