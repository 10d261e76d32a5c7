// Builders for Anthropic's Messages API wire format (anthropic-version 2023-06-01), shared by the
// fake upstream and tests: a Message, the SSE events of the same message in the order the API
// sends them, error bodies, and the model list.
import type {
  ContentBlock,
  ErrorType,
  Message,
  ModelInfo,
  StopReason,
  StreamEvent,
  Usage,
} from "../../src/providers/anthropic/wire.ts";

export const DEFAULT_MODEL = "claude-sonnet-4-5-20250929";
export const DEFAULT_TEXT = "Hello from Claude";
export const DEFAULT_USAGE: Usage = { input_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 6 };

export const messageId = () => `msg_01${crypto.randomUUID().replaceAll("-", "").slice(0, 22)}`;
export const toolUseId = () => `toolu_01${crypto.randomUUID().replaceAll("-", "").slice(0, 22)}`;

export interface MessageSpec {
  model?: string;
  content?: ContentBlock[];
  stopReason?: StopReason;
  usage?: Partial<Usage>;
  /** For a refusal: Anthropic's stop_details. */
  explanation?: string;
}

export function message(spec: MessageSpec = {}): Message {
  const stop = spec.stopReason ?? "end_turn";
  return {
    id: messageId(),
    type: "message",
    role: "assistant",
    model: spec.model ?? DEFAULT_MODEL,
    content: spec.content ?? [{ type: "text", text: DEFAULT_TEXT }],
    stop_reason: stop,
    stop_sequence: null,
    ...(spec.explanation === undefined ? {} : { stop_details: { type: "refusal", category: "cyber", explanation: spec.explanation } }),
    usage: { ...DEFAULT_USAGE, ...spec.usage },
  };
}

/** Text in word-sized pieces, as the API streams it. */
const pieces = (text: string): string[] => text.match(/\S+\s*|\s+/g) ?? [];

/** A JSON text in fragments of a few characters, split anywhere (inside strings and escapes too). */
function fragments(json: string, size = 7): string[] {
  const out: string[] = [];
  for (let at = 0; at < json.length; at += size) out.push(json.slice(at, at + size));
  return out;
}

function blockEvents(block: ContentBlock, index: number): StreamEvent[] {
  switch (block.type) {
    case "text":
      return [
        { type: "content_block_start", index, content_block: { type: "text", text: "" } },
        ...pieces(block.text).map((text): StreamEvent => ({ type: "content_block_delta", index, delta: { type: "text_delta", text } })),
        { type: "content_block_stop", index },
      ];
    case "thinking":
      return [
        { type: "content_block_start", index, content_block: { type: "thinking", thinking: "", signature: "" } },
        ...pieces(block.thinking).map((thinking): StreamEvent => ({ type: "content_block_delta", index, delta: { type: "thinking_delta", thinking } })),
        { type: "content_block_delta", index, delta: { type: "signature_delta", signature: block.signature } },
        { type: "content_block_stop", index },
      ];
    case "redacted_thinking":
      return [{ type: "content_block_start", index, content_block: block }, { type: "content_block_stop", index }];
    case "tool_use":
      // The API opens a tool_use block with empty input and sends the JSON in fragments, the first one empty.
      return [
        { type: "content_block_start", index, content_block: { type: "tool_use", id: block.id, name: block.name, input: {} } },
        { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: "" } },
        ...fragments(JSON.stringify(block.input)).map((partial_json): StreamEvent => ({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json } })),
        { type: "content_block_stop", index },
      ];
  }
}

/** The events of one streamed message, in the API's order: message_start, ping, blocks, message_delta, message_stop. */
export function messageEvents(m: Message): StreamEvent[] {
  const start: Message = { ...m, content: [], stop_reason: null, stop_sequence: null, stop_details: undefined, usage: { ...m.usage, output_tokens: 1 } };
  const details = m.stop_details ? { stop_details: m.stop_details } : {};
  return [
    { type: "message_start", message: JSON.parse(JSON.stringify(start)) as Message },
    { type: "ping" },
    ...(m.content as ContentBlock[]).flatMap(blockEvents),
    { type: "message_delta", delta: { stop_reason: m.stop_reason, stop_sequence: m.stop_sequence, ...details }, usage: { output_tokens: m.usage.output_tokens } },
    { type: "message_stop" },
  ];
}

/** One SSE event as the API frames it: the event name, then the JSON data. */
export const sse = (event: StreamEvent): string => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;

/** Error messages modelled on what the API says for each type. */
const ERROR_MESSAGES: Record<ErrorType, string> = {
  invalid_request_error: "messages: roles must alternate between \"user\" and \"assistant\", but found multiple \"user\" roles in a row",
  authentication_error: "invalid x-api-key",
  billing_error: "Your credit balance is too low to access the Anthropic API.",
  permission_error: "Your API key does not have permission to use the specified resource.",
  not_found_error: "model: claude-nonexistent",
  request_too_large: "Request exceeds the maximum allowed number of bytes.",
  rate_limit_error: "This request would exceed the rate limit for your organization of 50 requests per minute.",
  api_error: "Internal server error",
  timeout_error: "Request timed out",
  overloaded_error: "Overloaded",
};

export const STATUS_OF_TYPE: Record<ErrorType, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

export function errorBody(type: ErrorType, message = ERROR_MESSAGES[type]) {
  return { type: "error" as const, error: { type, message }, request_id: `req_011C${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}` };
}

const supported = { supported: true };
/** A model's capabilities as the Models API reference's example lists them. */
export const CAPABILITIES = {
  batch: supported, citations: supported, code_execution: supported,
  context_management: { clear_thinking_20251015: supported, clear_tool_uses_20250919: supported, compact_20260112: supported, supported: true },
  effort: { high: supported, low: supported, max: supported, medium: supported, supported: true },
  image_input: supported, pdf_input: supported, structured_outputs: supported,
  thinking: { supported: true, types: { adaptive: supported, enabled: supported } },
};

/** Display names and lifecycles of the fake's default models, as Anthropic lists them. */
const KNOWN_MODELS: Record<string, Partial<ModelInfo>> = {
  "claude-sonnet-4-5-20250929": { display_name: "Claude Sonnet 4.5", line: "sonnet", created_at: "2025-09-29T00:00:00Z" },
  "claude-opus-4-1-20250805": { display_name: "Claude Opus 4.1", line: "opus", created_at: "2025-08-05T00:00:00Z" },
  "claude-3-5-haiku-20241022": {
    display_name: "Claude Haiku 3.5", line: "haiku", created_at: "2024-10-22T00:00:00Z",
    lifecycle: "deprecated", deprecated_at: "2025-12-19T00:00:00Z", retires_at: "2026-02-19T00:00:00Z",
  },
};

/** A model as the Models API lists it today: every field its reference has, the lifecycle's dates null while active. */
export const modelInfo = (id: string): ModelInfo => ({
  type: "model", id, display_name: id, created_at: "2025-09-29T00:00:00Z",
  lifecycle: "active", deprecated_at: null, retires_at: null, line: null,
  max_input_tokens: 200_000, max_tokens: 64_000, capabilities: CAPABILITIES,
  ...KNOWN_MODELS[id],
});
