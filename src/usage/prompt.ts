// What a chat request's prompt costs in tokens, counted the way OpenAI's cookbook counts it ("How
// to count tokens with tiktoken", checked there against the API's own prompt_tokens): each message
// is its role, name and content plus 3 tokens of framing, every reply is primed with 3 more, and
// tools follow the cookbook's num_tokens_for_tools. Close, not exact: OpenAI's formatting may change.
import type { ChatRequest } from "../schema.ts";
import type { Encoding } from "./encoding.ts";
import type { CountText } from "./tokenizer.ts";

const PER_MESSAGE = 3;
const PER_NAME = 1;
/** `<|start|>assistant<|message|>`: the start of the reply. */
const REPLY_PRIMER = 3;
/** A tool call the assistant made: its name and arguments plus about this much framing. */
const PER_TOOL_CALL = 3;
/**
 * An image part: a low-detail image's price. A high-detail one costs 85 + 170 a 512-px tile, which
 * needs the image's size; an estimate does not fetch it.
 */
const IMAGE_TOKENS = 85;

type Message = ChatRequest["messages"][number];
type Loose = Record<string, unknown>;

/** Prompt tokens of `request` counted with `count` (the encoding of the model it goes to). */
export function promptTokens(count: CountText, request: ChatRequest, encoding: Encoding): number {
  let total = REPLY_PRIMER;
  for (const message of request.messages) total += messageTokens(count, message);
  const tools = functionsOf(request);
  if (tools.length > 0) total += toolTokens(count, tools, encoding);
  return total;
}

function messageTokens(count: CountText, message: Message): number {
  let total = PER_MESSAGE + count(message.role) + contentTokens(count, message.content);
  if (typeof message.name === "string") total += count(message.name) + PER_NAME;
  const calls = (message as Loose).tool_calls;
  if (Array.isArray(calls)) {
    for (const call of calls as Loose[]) total += functionCallTokens(count, call.function);
  }
  total += functionCallTokens(count, (message as Loose).function_call);
  return total;
}

function contentTokens(count: CountText, content: Message["content"]): number {
  if (typeof content === "string") return count(content);
  if (!Array.isArray(content)) return 0;
  let total = 0;
  for (const part of content) {
    if (typeof part.text === "string") total += count(part.text);
    else if (part.type === "image_url") total += IMAGE_TOKENS;
    // Audio and files are priced by their own rules (duration, pages): not estimated.
  }
  return total;
}

function functionCallTokens(count: CountText, fn: unknown): number {
  if (fn === null || typeof fn !== "object") return 0;
  const { name, arguments: args } = fn as Loose;
  return PER_TOOL_CALL + (typeof name === "string" ? count(name) : 0) + (typeof args === "string" ? count(args) : 0);
}

interface FunctionDef {
  name?: unknown;
  description?: unknown;
  parameters?: { properties?: Record<string, Loose> };
}

/** The function definitions a request offers: `tools` of type function, or the older `functions`. */
function functionsOf(request: ChatRequest): FunctionDef[] {
  const out: FunctionDef[] = [];
  for (const tool of request.tools ?? []) {
    const fn = (tool as Loose).function;
    if (fn !== null && typeof fn === "object") out.push(fn as FunctionDef);
  }
  const legacy = (request as Loose).functions;
  if (Array.isArray(legacy)) for (const fn of legacy) if (fn !== null && typeof fn === "object") out.push(fn as FunctionDef);
  return out;
}

/** The cookbook's num_tokens_for_tools: its constants were fitted to the API's counts per encoding. */
function toolTokens(count: CountText, functions: readonly FunctionDef[], encoding: Encoding): number {
  const funcInit = encoding === "o200k_base" ? 7 : 10;
  const propInit = 3;
  const propKey = 3;
  const enumInit = -3;
  const enumItem = 3;
  const funcEnd = 12;
  let total = funcEnd;
  for (const fn of functions) {
    total += funcInit + count(`${text(fn.name)}:${withoutFinalPeriod(text(fn.description))}`);
    const properties = fn.parameters?.properties;
    if (properties === null || typeof properties !== "object" || Object.keys(properties).length === 0) continue;
    total += propInit;
    for (const [key, property] of Object.entries(properties)) {
      total += propKey;
      const values = property?.enum;
      if (Array.isArray(values)) {
        total += enumInit;
        for (const item of values) total += enumItem + count(text(item));
      }
      total += count(`${key}:${text(property?.type)}:${withoutFinalPeriod(text(property?.description))}`);
    }
  }
  return total;
}

const text = (value: unknown): string => (typeof value === "string" ? value : value === undefined || value === null ? "" : String(value));
const withoutFinalPeriod = (s: string): string => (s.endsWith(".") ? s.slice(0, -1) : s);
