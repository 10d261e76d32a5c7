// What a request reserves against its key's tokens and spend before it runs. Pure and cheap: it runs
// on every metered request, so no tokenizer here — settlement corrects the estimate to the real usage.
import type { CompletionUsage } from "openai/resources/completions";
import { costOf, tokenCounts } from "../cost/cost.ts";
import type { Price } from "../cost/prices.ts";
import type { EmbeddingRequest } from "../embeddings-schema.ts";
import type { ChatRequest } from "../schema.ts";

/** Spend is counted in whole nano-dollars: exact sums in any store (Redis INCRBY), far below any bill. */
export const NANO_PER_USD = 1e9;
export const toNano = (usd: number): number => Math.round(usd * NANO_PER_USD);
export const fromNano = (nano: number): number => nano / NANO_PER_USD;

/** Tokens a message costs beyond its text (role, separators), as OpenAI counts chat formats. */
const PER_MESSAGE = 4;

/** Tokens an image, audio or file part reserves: about what a 1024×1024 image costs (OpenAI 765, Anthropic ~1,400). */
const MEDIA_PART = 1_000;

/**
 * Prompt tokens, roughly: the messages' text (string contents, text parts, tool call arguments) as
 * textTokens, plus a few per message and MEDIA_PART per image, audio or file part (tool
 * definitions are counted by definitionsEstimate). The reservation is settled to the upstream's
 * count when the request ends.
 */
export function promptEstimate(messages: ChatRequest["messages"]): number {
  let tokens = 0;
  for (const message of messages) {
    const content = message.content;
    if (typeof content === "string") tokens += textTokens(content);
    else if (Array.isArray(content)) for (const part of content) tokens += typeof part.text === "string" ? textTokens(part.text) : part.type === "text" || part.type === "refusal" ? 0 : MEDIA_PART;
    const calls = (message as { tool_calls?: unknown }).tool_calls;
    if (Array.isArray(calls)) for (const call of calls) tokens += textTokens(argumentsOf(call));
  }
  return Math.ceil(tokens) + PER_MESSAGE * messages.length;
}

/**
 * Tokens of a text, roughly, without a tokenizer: a quarter of a token a character of ASCII, and a
 * token a character beyond it. Characters / 4 throughout under-reserved Chinese or Japanese text,
 * about a token a character, three to four times: concurrent requests overshot a budget by that
 * much. The characters beyond ASCII are told from the UTF-8 length (one native count): each adds
 * one or two bytes to it, taken as two (a CJK character's), so none is counted twice.
 */
export function textTokens(text: string): number {
  const bytes = Buffer.byteLength(text);
  if (bytes === text.length) return text.length / 4;
  const beyond = Math.min(text.length, (bytes - text.length) / 2);
  return (text.length - beyond) / 4 + beyond;
}

/**
 * Prompt tokens of what the model is given beside the messages, roughly: characters / 4 of the
 * JSON of its tool (and legacy function) definitions and of a response_format schema. Upstreams
 * bill them as prompt, and a client could otherwise carry a large prompt in them while reserving
 * almost nothing, so that concurrent requests overshoot a budget or tpm many times over.
 */
export function definitionsEstimate(body: ChatRequest): number {
  const extra = body as { tools?: unknown; functions?: unknown; response_format?: { type?: unknown } };
  let chars = 0;
  if (extra.tools !== undefined) chars += JSON.stringify(extra.tools).length;
  if (extra.functions !== undefined) chars += JSON.stringify(extra.functions).length;
  if (extra.response_format !== undefined && extra.response_format.type !== "text") chars += JSON.stringify(extra.response_format).length;
  return Math.ceil(chars / 4);
}

/**
 * An embeddings request's tokens, roughly: textTokens of its texts, or the count of the token ids
 * it sent as they are.
 */
export function inputEstimate(input: EmbeddingRequest["input"]): number {
  if (typeof input === "string") return Math.ceil(textTokens(input));
  let tokens = 0;
  for (const item of input) tokens += typeof item === "number" ? 1 : typeof item === "string" ? Math.ceil(textTokens(item)) : item.length;
  return tokens;
}

function argumentsOf(call: unknown): string {
  const args = (call as { function?: { arguments?: unknown } } | null)?.function?.arguments;
  return typeof args === "string" ? args : "";
}

/**
 * Completion tokens the request may produce: its max_completion_tokens (or the older max_tokens),
 * else `fallback` (reserve_completion_tokens), for each of its `n` choices.
 */
export function completionReserve(body: ChatRequest, fallback: number): number {
  const most = body.max_completion_tokens ?? body.max_tokens ?? fallback;
  return most * (body.n ?? 1);
}

/** The most a request could cost at `price` (nano-USD, rounded up), from its token estimate. */
export function costReserve(prompt: number, completion: number, price: Price): number {
  return Math.ceil(((prompt * price.input + completion * price.output) * NANO_PER_USD) / 1_000_000);
}

/** The highest input and output prices among `prices`: the bound for a route that may fall back. Null if any is unknown. */
export function highestPrice(prices: readonly (Price | null)[]): Price | null {
  let input = 0;
  let output = 0;
  for (const price of prices) {
    if (price === null) return null;
    input = Math.max(input, price.input);
    output = Math.max(output, price.output);
  }
  return { input, output };
}

/** Tokens a usage report counts against tpm: prompt + completion (what OpenAI's limits count). */
export function usedTokens(usage: CompletionUsage): number {
  return usage.prompt_tokens + usage.completion_tokens;
}

/** Nano-USD a usage report costs at `price`; null when the price is unknown. */
export function usedCost(usage: CompletionUsage, price: Price | null): number | null {
  const usd = costOf(tokenCounts(usage), price);
  return usd === null ? null : toNano(usd);
}
