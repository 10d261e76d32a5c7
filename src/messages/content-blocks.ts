import { Type, type TSchema } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import { invalidRequest, type GatewayError } from "../errors.ts";
import type { CountTokensRequest } from "./schema.ts";

const open = { additionalProperties: true } as const;
const text = Type.String({ error: "must be a string" });

const TextBlock = Type.Object({ type: Type.Literal("text"), text }, open);

/** Where an image's or a document's bytes are: inline, at a URL, or stored with the Files API. */
const BASE64_SOURCE = Type.Object({ type: Type.Literal("base64"), media_type: text, data: text }, open);
const URL_SOURCE = Type.Object({ type: Type.Literal("url"), url: text }, open);
const FILE_SOURCE = Type.Object({ type: Type.Literal("file"), file_id: text }, open);

const ImageBlock = Type.Object(
  {
    type: Type.Literal("image"),
    source: Type.Union([BASE64_SOURCE, URL_SOURCE, FILE_SOURCE], { error: "must be {type: base64, media_type, data}, {type: url, url} or {type: file, file_id}" }),
  },
  open,
);
const DocumentBlock = Type.Object(
  {
    type: Type.Literal("document"),
    source: Type.Union(
      [
        BASE64_SOURCE,
        Type.Object({ type: Type.Literal("text"), data: text }, open),
        URL_SOURCE,
        FILE_SOURCE,
        Type.Object({ type: Type.Literal("content"), content: Type.Union([text, Type.Array(Type.Object({ type: text }, open))]) }, open),
      ],
      { error: "must be {type: base64, media_type, data}, {type: text, data}, {type: url, url}, {type: file, file_id} or {type: content, content}" },
    ),
  },
  open,
);
const ToolResultContent = Type.Union([text, Type.Array(Type.Object({ type: text }, open))], { error: "must be a string or an array of text and image blocks" });

/**
 * Blocks of Anthropic's server tools and search results: passed on to an Anthropic target (whose
 * conversations hold them, Claude Code's web search among them), left out of a translation.
 */
const SERVER_BLOCKS = [
  "server_tool_use", "web_search_tool_result", "web_fetch_tool_result", "code_execution_tool_result", "bash_code_execution_tool_result",
  "text_editor_code_execution_tool_result", "mcp_tool_use", "mcp_tool_result", "container_upload",
];
const passed = (type: string): TSchema => Type.Object({ type: Type.Literal(type) }, open);

/** The schema of each content block type, by `type`. */
const BLOCKS: Readonly<Record<string, TSchema>> = {
  ...Object.fromEntries(SERVER_BLOCKS.map((type) => [type, passed(type)])),
  search_result: passed("search_result"),
  text: TextBlock,
  image: ImageBlock,
  document: DocumentBlock,
  tool_use: Type.Object({ type: Type.Literal("tool_use"), id: text, name: text, input: Type.Object({}, { ...open, error: "must be an object" }) }, open),
  tool_result: Type.Object({ type: Type.Literal("tool_result"), tool_use_id: text, content: Type.Optional(ToolResultContent), is_error: Type.Optional(Type.Boolean({ error: "must be a boolean" })) }, open),
  thinking: Type.Object({ type: Type.Literal("thinking"), thinking: text, signature: Type.Optional(text) }, open),
  redacted_thinking: Type.Object({ type: Type.Literal("redacted_thinking"), data: text }, open),
};

/** Where each type may appear: a user's turn, an assistant's, the system prompt, a tool result. */
const USER = ["text", "image", "document", "tool_result", "search_result", "container_upload"];
const ASSISTANT = ["text", "tool_use", "thinking", "redacted_thinking", ...SERVER_BLOCKS];
const SYSTEM = ["text"];
const TOOL_RESULT = ["text", "image", "document", "search_result"];

type Loose = Record<string, unknown>;

/** `/source/type` → `.source.type`. */
const dotted = (pointer: string): string => pointer.replaceAll("/", ".").replaceAll("~1", "/").replaceAll("~0", "~");

/** Each type's checker, compiled at the first request (a request of a long conversation holds hundreds of blocks). */
let checkers: Map<string, TypeCheck<TSchema>> | undefined;
const checkerOf = (type: string): TypeCheck<TSchema> | undefined =>
  (checkers ??= new Map(Object.entries(BLOCKS).map(([name, schema]) => [name, TypeCompiler.Compile(schema)]))).get(type);

/**
 * A block type chatgate does not know, in a request whose first target is an Anthropic provider:
 * Anthropic's API is the judge of it (Claude Code's tool search and compaction blocks), and a
 * translation leaves it out.
 */
const passedOn = (type: unknown, open: boolean): boolean => open && typeof type === "string" && !Object.hasOwn(BLOCKS, type);

/** Whether every block of `content` (when it is an array) fits: the common case, which allocates nothing. */
function blocksFit(content: unknown, allowed: readonly string[], open: boolean): boolean {
  if (!Array.isArray(content)) return true;
  for (const block of content as Loose[]) {
    const type = block.type as string;
    if (passedOn(type, open)) continue;
    if (!allowed.includes(type) || !checkerOf(type)!.Check(block)) return false;
    if (type === "tool_result" && !blocksFit(block.content, TOOL_RESULT, open)) return false;
  }
  return true;
}

/** The 400 for the first block of `content` that does not fit, naming it from `where` (`messages.0.content`). */
function misfit(content: Loose[], where: string, allowed: readonly string[], open: boolean): GatewayError {
  for (let i = 0; i < content.length; i++) {
    const block = content[i]!;
    const at = `${where}.${i}`;
    const type = block.type as string;
    if (passedOn(type, open)) continue;
    if (!allowed.includes(type)) {
      const what = Object.hasOwn(BLOCKS, type) ? `a '${type}' block is not allowed here` : `unknown content block type '${type}'`;
      return invalidRequest(`${at}.type: ${what}; expected one of ${allowed.join(", ")}.`, `${at}.type`);
    }
    const check = checkerOf(type)!;
    if (!check.Check(block)) {
      const first = check.Errors(block).First();
      const path = `${at}${first === undefined ? "" : dotted(first.path)}`;
      const why = first?.message === "Expected required property" ? "Field required" : (first?.schema as { error?: string } | undefined)?.error ?? first?.message ?? "is invalid";
      return invalidRequest(`${path}: ${why}.`, path);
    }
    if (type === "tool_result" && !blocksFit(block.content, TOOL_RESULT, open)) return misfit(block.content as Loose[], `${at}.content`, TOOL_RESULT, open);
  }
  return invalidRequest(`${where}: is invalid.`, where);
}

function checkBlocks(content: unknown, where: () => string, allowed: readonly string[], open: boolean): void {
  if (!blocksFit(content, allowed, open)) throw misfit(content as Loose[], where(), allowed, open);
}

/**
 * Checks what the schema cannot say of a request it let through: every content block (known
 * types, in a place they may appear, with their fields), and `thinking` of type `enabled` with its
 * `budget_tokens`, which Anthropic requires. The 400 names the field as Anthropic does
 * (`messages.0.content.1.type`, `thinking.budget_tokens`). `native`: the request's first target is
 * an Anthropic provider, which gets the client's bytes, so a block type chatgate does not know is
 * Anthropic's to judge.
 */
export function checkContent(body: CountTokensRequest, native = false): void {
  if (body.thinking?.type === "enabled" && body.thinking.budget_tokens === undefined) {
    throw invalidRequest("thinking.budget_tokens: Field required.", "thinking.budget_tokens");
  }
  checkBlocks(body.system, () => "system", SYSTEM, native);
  const messages = body.messages;
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!;
    if (message.role === "user" && Array.isArray(message.content) && message.content.length === 0) {
      throw invalidRequest(`messages.${i}.content: List should have at least 1 item.`, `messages.${i}.content`);
    }
    if (!blocksFit(message.content, message.role === "user" ? USER : ASSISTANT, native)) {
      throw misfit(message.content as Loose[], `messages.${i}.content`, message.role === "user" ? USER : ASSISTANT, native);
    }
  }
}
