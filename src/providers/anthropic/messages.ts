import type {
  ChatCompletionContentPart,
  ChatCompletionMessageParam,
  ChatCompletionMessageToolCall,
} from "openai/resources/chat/completions";
import { invalidRequest } from "../../errors.ts";
import { unsupportedContent } from "./errors.ts";
import type { ContentBlockParam, ImageBlockParam, ImageMediaType, MessageParam, TextBlockParam, ToolResultBlockParam } from "./wire.ts";

/** OpenAI messages as Anthropic's top-level `system` and alternating user/assistant turns. */
export interface Conversation {
  system: string | TextBlockParam[] | undefined;
  messages: MessageParam[];
}

const MEDIA_TYPES: ReadonlySet<string> = new Set(["image/jpeg", "image/png", "image/gif", "image/webp"]);
const DATA_URL = /^data:([^;,]+)((?:;[^;,]*)*),/;

/**
 * Translates the conversation. System and developer messages, wherever they stand, become the
 * top-level `system` (Anthropic has no system turn); tool results become `tool_result` blocks of a
 * user turn; consecutive turns of one role are merged, since Anthropic expects them to alternate.
 * The schema checked roles and content types; the fields it does not know (tool calls, image URLs)
 * are checked here and a bad one is a 400 naming it.
 */
export function toConversation(messages: readonly ChatCompletionMessageParam[], provider: string): Conversation {
  const system: TextBlockParam[] = [];
  const turns: MessageParam[] = [];
  messages.forEach((message, i) => {
    const at = `messages[${i}]`;
    switch (message.role) {
      case "system":
      case "developer":
        system.push(...textBlocks(message.content, `${at}.content`));
        return;
      case "user":
        return push(turns, "user", userContent(message.content, `${at}.content`, provider));
      case "assistant":
        return push(turns, "assistant", assistantContent(message, at, provider));
      case "tool":
        return push(turns, "user", [toolResult(message, at)]);
      default:
        throw invalidRequest(`Provider '${provider}' (Anthropic) does not take legacy \`function\` messages; send tool messages instead.`, `${at}.role`);
    }
  });
  const only = system.length === 1 ? system[0] : undefined;
  return { system: system.length === 0 ? undefined : only ? only.text : system, messages: turns };
}

/** Appends a turn, merging it into the previous one when the role is the same. */
function push(turns: MessageParam[], role: MessageParam["role"], content: string | ContentBlockParam[]): void {
  if (Array.isArray(content) && content.length === 0) return;
  const last = turns[turns.length - 1];
  if (last === undefined || last.role !== role) {
    turns.push({ role, content });
    return;
  }
  last.content = [...asBlocks(last.content), ...asBlocks(content)];
}

const asBlocks = (content: string | ContentBlockParam[]): ContentBlockParam[] =>
  typeof content === "string" ? [{ type: "text", text: content }] : content;

type Content = string | ReadonlyArray<{ type: string; text?: string }> | null | undefined;

/** Text-only content (system, developer, tool results) as text blocks; anything else is a 400. */
function textBlocks(content: Content, param: string): TextBlockParam[] {
  if (typeof content === "string") return [{ type: "text", text: content }];
  const blocks: TextBlockParam[] = [];
  (content ?? []).forEach((part, j) => {
    if (part.type !== "text" || typeof part.text !== "string") throw invalidRequest(`Only text parts are allowed here, not '${part.type}'.`, `${param}[${j}].type`);
    blocks.push({ type: "text", text: part.text });
  });
  return blocks;
}

function userContent(content: string | ChatCompletionContentPart[], param: string, provider: string): string | ContentBlockParam[] {
  if (typeof content === "string") return content;
  return content.map((part, j): ContentBlockParam => {
    if (part.type === "text") return { type: "text", text: part.text };
    if (part.type === "image_url") return image(part.image_url?.url, `${param}[${j}].image_url.url`);
    throw unsupportedContent(provider, `${param}[${j}].type`, `content parts of type '${part.type}'`);
  });
}

/** A data URL becomes a base64 source (one of the four types Anthropic reads); an http(s) URL a url source. */
function image(url: unknown, param: string): ImageBlockParam {
  if (typeof url !== "string") throw invalidRequest("An image_url part needs a url string.", param);
  if (url.startsWith("https://") || url.startsWith("http://")) return { type: "image", source: { type: "url", url } };
  const match = DATA_URL.exec(url);
  if (match === null) throw invalidRequest("An image URL must be an http(s) URL or a base64 data URL.", param);
  const mediaType = match[1]!.toLowerCase();
  if (!MEDIA_TYPES.has(mediaType)) throw invalidRequest(`Image type '${mediaType}' is not supported; use JPEG, PNG, GIF or WebP.`, param);
  if (!match[2]!.split(";").includes("base64")) throw invalidRequest("An image data URL must be base64-encoded.", param);
  return { type: "image", source: { type: "base64", media_type: mediaType as ImageMediaType, data: url.slice(match[0].length) } };
}

/**
 * An assistant turn: its text, then one `tool_use` block per tool call with the call's id kept
 * (the tool results refer to it). Empty text is left out: Anthropic refuses empty text blocks, and
 * OpenAI clients send `content: ""` beside tool calls.
 */
function assistantContent(message: Extract<ChatCompletionMessageParam, { role: "assistant" }>, at: string, provider: string): ContentBlockParam[] {
  const blocks: ContentBlockParam[] = [];
  const { content } = message;
  if (typeof content === "string") {
    if (content !== "") blocks.push({ type: "text", text: content });
  } else if (Array.isArray(content)) {
    content.forEach((part, j) => {
      if (part.type === "text") {
        if (part.text !== "") blocks.push({ type: "text", text: part.text });
      } else if (part.type !== "refusal") {
        throw unsupportedContent(provider, `${at}.content[${j}].type`, `assistant content parts of type '${(part as { type: string }).type}'`);
      }
    });
  }
  const calls: unknown = message.tool_calls;
  if (calls === undefined || calls === null) return blocks;
  if (!Array.isArray(calls)) throw invalidRequest("tool_calls must be an array.", `${at}.tool_calls`);
  calls.forEach((call: ChatCompletionMessageToolCall, k) => blocks.push(toolUse(call, `${at}.tool_calls[${k}]`, provider)));
  return blocks;
}

function toolUse(call: ChatCompletionMessageToolCall, at: string, provider: string): ContentBlockParam {
  // A custom tool's call is valid OpenAI, but Anthropic has only function-like tools to answer it.
  if (call?.type === "custom") throw unsupportedContent(provider, `${at}.type`, "calls of custom tools (type 'custom')");
  if (call?.type !== "function" || typeof call.function?.name !== "string") {
    throw invalidRequest("A tool call must be a function call with a name.", at);
  }
  if (typeof call.id !== "string" || call.id === "") throw invalidRequest("A tool call needs its id.", `${at}.id`);
  return { type: "tool_use", id: call.id, name: call.function.name, input: toolInput(call.function.arguments, `${at}.function.arguments`) };
}

/** The arguments JSON text as the object Anthropic wants; `""` (no arguments) is `{}`. */
function toolInput(text: unknown, param: string): Record<string, unknown> {
  if (text === "" || text === undefined) return {};
  if (typeof text !== "string") throw invalidRequest("Tool call arguments must be a JSON string.", param);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidRequest("Tool call arguments are not valid JSON.", param);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw invalidRequest("Tool call arguments must be a JSON object.", param);
  return value as Record<string, unknown>;
}

function toolResult(message: Extract<ChatCompletionMessageParam, { role: "tool" }>, at: string): ToolResultBlockParam {
  const id: unknown = message.tool_call_id;
  if (typeof id !== "string" || id === "") throw invalidRequest("A tool message needs the tool_call_id it answers.", `${at}.tool_call_id`);
  const content = message.content;
  return { type: "tool_result", tool_use_id: id, content: typeof content === "string" ? content : textBlocks(content, `${at}.content`) };
}
