/**
 * Anthropic Messages API wire shapes (anthropic-version 2023-06-01), the subset chatgate sends and
 * reads. Written from the API reference and the official TypeScript SDK's types
 * (`@anthropic-ai/sdk` src/resources/messages/messages.ts, shared.ts, models.ts) rather than
 * depending on that SDK: only the types are needed, and the gateway never calls through a client.
 */

export interface TextBlockParam {
  type: "text";
  text: string;
}

export interface ImageBlockParam {
  type: "image";
  source:
    | { type: "base64"; media_type: ImageMediaType; data: string }
    | { type: "url"; url: string };
}

export type ImageMediaType = "image/jpeg" | "image/png" | "image/gif" | "image/webp";

export interface ToolUseBlockParam {
  type: "tool_use";
  id: string;
  name: string;
  /** Must be an object: the tool's arguments. */
  input: Record<string, unknown>;
}

export interface ToolResultBlockParam {
  type: "tool_result";
  tool_use_id: string;
  content?: string | Array<TextBlockParam | ImageBlockParam>;
  is_error?: boolean;
}

export type ContentBlockParam = TextBlockParam | ImageBlockParam | ToolUseBlockParam | ToolResultBlockParam;

export interface MessageParam {
  role: "user" | "assistant";
  content: string | ContentBlockParam[];
}

export interface Tool {
  name: string;
  description?: string;
  input_schema: { type: "object"; [key: string]: unknown };
  /** Strict tool use (structured outputs, generally available): the input always matches `input_schema`. */
  strict?: boolean;
}

export type ToolChoice =
  | { type: "auto"; disable_parallel_tool_use?: boolean }
  | { type: "any"; disable_parallel_tool_use?: boolean }
  | { type: "tool"; name: string; disable_parallel_tool_use?: boolean }
  | { type: "none" };

export interface ThinkingConfigEnabled {
  type: "enabled";
  /** At least 1024 and less than `max_tokens`. */
  budget_tokens: number;
}

/** `POST /v1/messages` body. */
export interface MessagesRequest {
  model: string;
  max_tokens: number;
  messages: MessageParam[];
  system?: string | TextBlockParam[];
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  top_k?: number;
  metadata?: { user_id?: string };
  tools?: Tool[];
  tool_choice?: ToolChoice;
  thinking?: ThinkingConfigEnabled;
  /** Structured outputs (GA): the answer is JSON matching the schema. */
  output_config?: { format: { type: "json_schema"; schema: Record<string, unknown> } };
  stream?: boolean;
}

export type StopReason =
  | "end_turn"
  | "max_tokens"
  | "stop_sequence"
  | "tool_use"
  | "pause_turn"
  | "refusal"
  | "model_context_window_exceeded";

export interface TextBlock {
  type: "text";
  text: string;
}
export interface ThinkingBlock {
  type: "thinking";
  thinking: string;
  signature: string;
}
export interface RedactedThinkingBlock {
  type: "redacted_thinking";
  data: string;
}
export interface ToolUseBlock {
  type: "tool_use";
  id: string;
  name: string;
  input: unknown;
}
/** Server tools and other blocks chatgate never asks for: read as "something else" and skipped. */
export interface OtherBlock {
  type: string;
}
export type ContentBlock = TextBlock | ThinkingBlock | RedactedThinkingBlock | ToolUseBlock;

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  output_tokens_details?: { thinking_tokens?: number } | null;
}

export interface StopDetails {
  type: "refusal";
  category?: string | null;
  explanation?: string | null;
}

/** A non-streamed answer, and the skeleton `message_start` carries (with empty content). */
export interface Message {
  id: string;
  type: "message";
  role: "assistant";
  model: string;
  content: Array<ContentBlock | OtherBlock>;
  stop_reason: StopReason | null;
  stop_sequence: string | null;
  stop_details?: StopDetails | null;
  usage: Usage;
}

/** `message_delta`'s usage: cumulative counts; the input fields are null or absent on older answers. */
export interface MessageDeltaUsage {
  output_tokens: number;
  input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  output_tokens_details?: { thinking_tokens?: number } | null;
}

export type ContentBlockDelta =
  | { type: "text_delta"; text: string }
  | { type: "input_json_delta"; partial_json: string }
  | { type: "thinking_delta"; thinking: string }
  | { type: "signature_delta"; signature: string }
  | { type: "citations_delta" };

/** The `data` of each SSE event; the SSE `event:` name repeats `type`. */
export type StreamEvent =
  | { type: "message_start"; message: Message }
  | { type: "content_block_start"; index: number; content_block: ContentBlock | OtherBlock }
  | { type: "content_block_delta"; index: number; delta: ContentBlockDelta }
  | { type: "content_block_stop"; index: number }
  | {
      type: "message_delta";
      delta: { stop_reason: StopReason | null; stop_sequence: string | null; stop_details?: StopDetails | null };
      usage: MessageDeltaUsage;
    }
  | { type: "message_stop" }
  | { type: "ping" }
  | ErrorResponse;

export type ErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "billing_error"
  | "permission_error"
  | "not_found_error"
  | "request_too_large"
  | "rate_limit_error"
  | "api_error"
  | "timeout_error"
  | "overloaded_error";

/** An error body, and the data of an in-stream `error` event. */
export interface ErrorResponse {
  type: "error";
  error: { type: ErrorType | (string & {}); message: string };
  request_id?: string | null;
}

/**
 * A model as Anthropic's Models API (`GET /v1/models`) lists it. Its reference also has `lifecycle` (required by the
 * current SDKs), `deprecated_at`, `retires_at`, `line`, `max_input_tokens`, `max_tokens` and
 * `capabilities`, and may add more: every field is kept as listed (see messages/models.ts).
 */
export interface ModelInfo {
  type: "model";
  id: string;
  display_name: string;
  /** RFC 3339. */
  created_at: string;
  lifecycle?: "active" | "deprecated" | "retired";
  [field: string]: unknown;
}
export interface ModelList {
  data: ModelInfo[];
  has_more: boolean;
  first_id: string | null;
  last_id: string | null;
}
