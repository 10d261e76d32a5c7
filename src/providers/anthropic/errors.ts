import { GatewayError, badGateway, upstreamTimeout } from "../../errors.ts";
import { parseRetryAfter } from "../../policy.ts";
import { ERROR_BODY_CAP, readCapped } from "../read-body.ts";
import type { Redact } from "../upstream-error.ts";
import type { ErrorResponse } from "./wire.ts";

/** The status each Anthropic error type is sent with (its errors reference), for in-stream errors that have none. */
const STATUS_OF: Readonly<Record<string, number>> = {
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

/**
 * The status an in-stream error stands for (Anthropic: an `overloaded_error` event "would normally
 * correspond to an HTTP 529 in a non-streaming context"); an unknown type counts as a 500.
 */
export const statusOfErrorType = (type: string | undefined): number => STATUS_OF[type ?? ""] ?? 500;

export interface AnthropicFailure {
  /** HTTP status; for an in-stream `error` event, the status its type stands for. */
  status: number;
  /** `error.type` and `error.message` of the body, when it had them. */
  type?: string;
  message?: string;
  headers?: Headers;
}

/**
 * One Anthropic failure as the one error type, with OpenAI's shape and status:
 * - the caller's own errors keep their status and Anthropic's message (400, 404, 413), a prompt
 *   over the context window coded `context_length_exceeded` so the router tries a larger model;
 * - 429 keeps `retry-after`/`retry-after-ms`;
 * - our provider key refused (401/403) or our account's billing (402): 502 naming the provider,
 *   never Anthropic's message (it may quote the key);
 * - 529 overloaded: 503 (OpenAI's status for an overloaded engine), retryable, with any Retry-After;
 *   504 timeout_error: 504; 500 and any other 5xx: retryable 502.
 * `upstreamStatus` keeps Anthropic's own status for the router's classification. Messages are redacted.
 */
export function anthropicError(provider: string, failure: AnthropicFailure, redact: Redact): GatewayError {
  const { status, type } = failure;
  const upstream = failure.message === undefined ? undefined : redact(failure.message);
  const said = upstream === undefined ? "" : `: ${upstream}`;
  const retryAfterMs = failure.headers ? parseRetryAfter(failure.headers) : undefined;
  const base = { upstreamStatus: status };
  if (status === 401 || status === 403) {
    return badGateway(`Provider '${provider}' rejected chatgate's credentials (HTTP ${status}). Check the provider key chatgate is configured with.`, "upstream_auth_failed", false).with(base);
  }
  if (status === 402) return badGateway(`Provider '${provider}' refused the request for billing reasons (HTTP 402).`, "upstream_billing_error", false).with(base);
  if (status === 429) {
    return new GatewayError({ ...base, status, type: "requests", code: "rate_limit_exceeded", retryable: true, retryAfterMs, message: upstream ?? `Provider '${provider}' is rate limiting requests.` });
  }
  if (status === 529 || type === "overloaded_error") {
    return new GatewayError({ ...base, status: 503, type: "server_error", code: "upstream_overloaded", retryable: true, retryAfterMs, message: `Provider '${provider}' is overloaded${said}` });
  }
  if (status === 504 || type === "timeout_error") return upstreamTimeout(provider, `the provider timed out the request${said}`).with(base);
  if (status >= 400 && status < 500) {
    const code = status === 413 ? "request_too_large" : status === 404 && /^model\b/i.test(upstream ?? "") ? "model_not_found" : tooLong(upstream);
    return new GatewayError({ ...base, status, type: "invalid_request_error", code, message: upstream ?? `Provider '${provider}' refused the request (HTTP ${status}).` });
  }
  return badGateway(`Provider '${provider}' failed with HTTP ${status}${said || "."}`, "upstream_error", true).with({ ...base, retryAfterMs });
}

/** Anthropic says "prompt is too long: 215000 tokens > 200000 maximum" where OpenAI codes it. */
const tooLong = (message: string | undefined): string | null =>
  message !== undefined && /prompt is too long|context window/i.test(message) ? "context_length_exceeded" : null;

/** Reads `{type: "error", error: {type, message}}`; anything else is undefined. */
export function readErrorBody(text: string): ErrorResponse["error"] | undefined {
  try {
    const body = JSON.parse(text) as Partial<ErrorResponse> | null;
    const error = body?.error;
    if (error && typeof error === "object" && typeof error.message === "string") return error;
  } catch {
    // not JSON: the status alone classifies it
  }
  return undefined;
}

/**
 * A non-2xx answer. A 3xx is never followed (every fetch is `redirect: "manual"`: following would
 * re-post the body, with our key, wherever Location points) and its Location is not echoed.
 */
export async function fromAnthropicResponse(provider: string, res: Response, redact: Redact): Promise<GatewayError> {
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel().catch(() => {});
    return badGateway(
      `Provider '${provider}' answered with a redirect (HTTP ${res.status}), which chatgate does not follow. Check the provider's base_url.`,
      "upstream_redirect", false,
    );
  }
  // A body over the cap is classified by its status alone.
  const text = (await readCapped(res, ERROR_BODY_CAP).catch(() => undefined)) ?? "";
  const error = readErrorBody(text);
  return anthropicError(provider, { status: res.status, type: error?.type, message: error?.message, headers: res.headers }, redact);
}

/**
 * How a translation step reports a parameter Anthropic cannot honour: it throws `unsupported`, or
 * under drop_params records `remove` (default `param`) as dropped, and the step leaves it out.
 */
export type Refuse = (param: string, what: string, remove?: string) => void;

/**
 * A parameter Anthropic cannot honour: 400 `unsupported_parameter` naming it and the provider.
 * `remove` is what the client should leave out (default: `param` itself); the message points to
 * drop_params, which is off whenever this is thrown for a parameter it would drop.
 */
export const unsupported = (provider: string, param: string, what: string, remove = param): GatewayError =>
  new GatewayError({
    status: 400, type: "invalid_request_error", code: "unsupported_parameter", param,
    message: `Provider '${provider}' (Anthropic Messages API) does not support ${what}. Remove \`${remove}\`, or set drop_params on the provider to drop it.`,
  });

/**
 * Prompt content Anthropic cannot take (audio, files): the same 400 as any parameter it cannot
 * honour, but drop_params never drops it — a prompt answered without part of it is a wrong answer
 * that looks right — so the message does not point there.
 */
export const unsupportedContent = (provider: string, param: string, what: string): GatewayError =>
  new GatewayError({
    status: 400, type: "invalid_request_error", code: "unsupported_parameter", param,
    message: `Provider '${provider}' (Anthropic Messages API) does not take ${what}; drop_params never drops prompt content. Send it to a provider that takes it, or leave the part out.`,
  });
