import { GatewayError, type ErrorBody } from "../errors.ts";
import type { ErrorResponse, ErrorType } from "../providers/anthropic/wire.ts";
import { encodeEvents } from "../sse-encode.ts";
import { promptTooLong } from "./prompt-too-long.ts";

/** Anthropic's error type for each status its errors reference lists. */
const TYPE_OF_STATUS: Readonly<Record<number, ErrorType>> = {
  400: "invalid_request_error",
  401: "authentication_error",
  402: "billing_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  504: "timeout_error",
  529: "overloaded_error",
};

/**
 * The Anthropic error type of one of ours: by status, an overloaded upstream (an Anthropic 529,
 * which a chat completion gets as 503, or any upstream's 503 Service Unavailable, a 502 there) as
 * `overloaded_error`, any other 5xx as `api_error` and any other 4xx as `invalid_request_error`.
 */
export function anthropicErrorType(err: GatewayError): ErrorType {
  if (err.code === "upstream_overloaded" || (err.status >= 500 && err.upstreamStatus === 503)) return "overloaded_error";
  return TYPE_OF_STATUS[err.status] ?? (err.status >= 500 ? "api_error" : "invalid_request_error");
}

/** The status Anthropic sends each of its server-side error types with (its errors reference). */
const STATUS_OF_SERVER_TYPE: Readonly<Partial<Record<ErrorType, number>>> = {
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/**
 * The status one of ours is answered with on Anthropic's routes: the one Anthropic sends its type
 * with — 529 `overloaded_error`, 504 `timeout_error`, 500 `api_error` (an upstream's 502, every
 * target cooling down, a shutdown) — so a client that goes by the status (Anthropic's SDKs retry a
 * 529, Claude Code reports "Overloaded") reads it as it would Anthropic's own. A 4xx keeps its status.
 */
export function anthropicStatus(err: GatewayError): number {
  return err.status >= 500 ? (STATUS_OF_SERVER_TYPE[anthropicErrorType(err)] ?? err.status) : err.status;
}

/**
 * `{"type":"error","error":{type, message},"request_id"}`, Anthropic's error body. An upstream's
 * context overflow takes Anthropic's wording, which Claude Code reads to compact (prompt-too-long.ts).
 */
export function anthropicErrorBody(err: GatewayError, requestId?: string): ErrorResponse {
  const body: ErrorResponse = { type: "error", error: { type: anthropicErrorType(err), message: promptTooLong(err) ?? err.message } };
  if (requestId !== undefined) body.request_id = requestId;
  return body;
}

/** The error type of an OpenAI-compatible upstream's in-stream error event, in Anthropic's words. */
export function errorTypeOfEvent(error: ErrorBody["error"] | { type?: string; code?: string | null }): ErrorType {
  const said = `${error.type ?? ""} ${error.code ?? ""}`;
  if (/overloaded/.test(said)) return "overloaded_error";
  if (/rate_limit|requests|tokens/.test(said)) return "rate_limit_error";
  if (/invalid_request/.test(said)) return "invalid_request_error";
  return "api_error";
}

/**
 * The `error` event that ends a stream after its first event: Anthropic's own, when the upstream
 * was Anthropic and sent one (its data, redacted), else ours in Anthropic's shape. Never a
 * message_stop: a truncated answer is never taken for a complete one.
 */
export function anthropicErrorEvent(err: GatewayError): Uint8Array {
  const own = err.event !== undefined && err.event.startsWith('{"type":"error"');
  const data = own ? err.event! : JSON.stringify(anthropicErrorBody(err));
  return encodeEvents(`event: error\ndata: ${data}\n\n`);
}

/** What a stream waiting on a silent upstream sends: Anthropic's own keep-alive. */
export const PING_EVENT: Uint8Array = encodeEvents('event: ping\ndata: {"type": "ping"}\n\n');

/**
 * Whether a request's errors take Anthropic's shape: the Messages API's routes, and the model list
 * when asked the way Anthropic's SDKs ask (with `anthropic-version`).
 */
export function speaksAnthropic(path: string, headers?: Headers): boolean {
  if (path.startsWith("/v1/messages")) return true;
  return headers !== undefined && path.startsWith("/v1/models") && headers.has("anthropic-version");
}
