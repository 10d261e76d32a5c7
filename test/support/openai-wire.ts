// Builders for OpenAI's chat-completions wire format, shared by the fake upstream and tests that
// want to compare against what "the real thing" would have sent.
import type { ChatCompletion, ChatCompletionChunk } from "openai/resources/chat/completions";
import type { CompletionUsage } from "openai/resources/completions";
import type { Model } from "openai/resources/models";

export interface OpenAIError {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}
export interface ErrorBody {
  error: OpenAIError;
}

export const DEFAULT_CONTENT = "Hello from upstream";
export const DEFAULT_WORDS: readonly string[] = ["Hello", " from", " upstream"];
export const DEFAULT_PROMPT_TOKENS = 5;
export const SYSTEM_FINGERPRINT = "fp_fa4e0c2b17";
// Fixed, like OpenAI's own model objects, so tests can compare whole bodies.
export const MODEL_CREATED = 1686935002;

export function completionId(): string {
  return `chatcmpl-${crypto.randomUUID().replaceAll("-", "").slice(0, 29)}`;
}

export function usageFor(completionTokens: number): CompletionUsage {
  return {
    prompt_tokens: DEFAULT_PROMPT_TOKENS,
    completion_tokens: completionTokens,
    total_tokens: DEFAULT_PROMPT_TOKENS + completionTokens,
  };
}

export function chatCompletion(model: string, content: string, usage?: CompletionUsage): ChatCompletion {
  return {
    id: completionId(),
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: "stop",
      },
    ],
    usage: usage ?? usageFor(content.split(/\s+/).filter(Boolean).length),
    service_tier: "default",
    system_fingerprint: SYSTEM_FINGERPRINT,
  };
}

/**
 * The chunks OpenAI sends for one streamed choice. With include_usage OpenAI puts `usage: null` on
 * every content chunk and appends a `choices: []` chunk carrying the totals; without it the field
 * is absent altogether, which is what clients key on.
 */
export function chatCompletionChunks(model: string, words: readonly string[], includeUsage: boolean): ChatCompletionChunk[] {
  const id = completionId();
  const created = Math.floor(Date.now() / 1000);
  const chunk = (
    delta: ChatCompletionChunk.Choice.Delta,
    finish_reason: ChatCompletionChunk.Choice["finish_reason"],
  ): ChatCompletionChunk => ({
    id,
    object: "chat.completion.chunk",
    created,
    model,
    service_tier: "default",
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices: [{ index: 0, delta, logprobs: null, finish_reason }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const chunks = [
    chunk({ role: "assistant", content: "" }, null),
    ...words.map((content) => chunk({ content }, null)),
    chunk({}, "stop"),
  ];
  if (includeUsage) {
    chunks.push({ ...chunk({}, null), choices: [], usage: usageFor(words.length) });
  }
  return chunks;
}

export function sseEvent(data: unknown): string {
  return `data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;
}
export const SSE_DONE = sseEvent("[DONE]");

/** Defaults mirror bodies OpenAI really returns for these statuses, so gateways classify them as in production. */
export function openAIError(status: number, model = "gpt-4o-mini"): OpenAIError {
  switch (status) {
    case 401:
      return { message: "Incorrect API key provided: sk-up***cret", type: "invalid_request_error", param: null, code: "invalid_api_key" };
    case 403:
      return { message: "Country, region, or territory not supported", type: "request_forbidden", param: null, code: "unsupported_country_region_territory" };
    case 404:
      return { message: `The model \`${model}\` does not exist or you do not have access to it.`, type: "invalid_request_error", param: null, code: "model_not_found" };
    case 429:
      return {
        message: `Rate limit reached for ${model} on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.`,
        type: "requests",
        param: null,
        code: "rate_limit_exceeded",
      };
    case 503:
      return { message: "The engine is currently overloaded, please try again later.", type: "server_error", param: null, code: null };
  }
  if (status >= 500) {
    return { message: "The server had an error while processing your request. Sorry about that!", type: "server_error", param: null, code: null };
  }
  return { message: "Invalid request.", type: "invalid_request_error", param: null, code: null };
}

export function modelObject(id: string): Model {
  return { id, object: "model", created: MODEL_CREATED, owned_by: "openai" };
}
