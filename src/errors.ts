/**
 * The one error type of chatgate. Everything that can fail — validation, auth, limits, an upstream
 * provider — ends up as a GatewayError, and `errorBody` is the only place that turns one into the
 * OpenAI wire shape `{"error": {message, type, param, code}}`.
 */
export interface GatewayErrorInit {
  status: number;
  message: string;
  /** OpenAI error type, e.g. `invalid_request_error`, `rate_limit_error` (hooks: `authentication_error`), `server_error`. */
  type: string;
  code?: string | null;
  param?: string | null;
  /** Whether trying the same request again (here or on another target) may succeed. */
  retryable?: boolean;
  /** From an upstream `Retry-After`, or our own limiter; sent back as `Retry-After` seconds. */
  retryAfterMs?: number;
  /**
   * The HTTP status the upstream answered with, when this error came from one: what the router's
   * policy classifies (a refused provider key is a 401 there and a 502 here).
   */
  upstreamStatus?: number;
  /** Who served the request that failed (for the `x-chatgate-*` headers); unset before routing. */
  served?: { provider: string; model: string; attempts: number };
  /** The upstream's own error event (its data, redacted): what a stream it ends sends, as is. */
  event?: string;
}

export class GatewayError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string | null;
  readonly param: string | null;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly upstreamStatus: number | undefined;
  readonly served: GatewayErrorInit["served"];
  readonly event: string | undefined;

  constructor(init: GatewayErrorInit) {
    super(init.message);
    this.name = "GatewayError";
    this.status = init.status;
    this.type = init.type;
    this.code = init.code ?? null;
    this.param = init.param ?? null;
    this.retryable = init.retryable ?? false;
    this.retryAfterMs = init.retryAfterMs;
    this.upstreamStatus = init.upstreamStatus;
    this.served = init.served;
    this.event = init.event;
  }

  /** The same error (of the same class) with some fields changed. */
  with(patch: Partial<GatewayErrorInit>): GatewayError {
    const copy = new GatewayError({
      status: this.status, message: this.message, type: this.type, code: this.code, param: this.param,
      retryable: this.retryable, retryAfterMs: this.retryAfterMs, upstreamStatus: this.upstreamStatus, served: this.served, event: this.event, ...patch,
    });
    copy.name = this.name;
    return Object.setPrototypeOf(copy, Object.getPrototypeOf(this)) as GatewayError;
  }
}

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function errorBody(err: GatewayError): ErrorBody {
  return { error: { message: err.message, type: err.type, param: err.param, code: err.code } };
}

/** Response headers an error carries besides its body (`Retry-After` on 429s and upstream waits). */
export function errorHeaders(err: GatewayError): Record<string, string> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (err.retryAfterMs !== undefined) headers["retry-after"] = String(Math.max(0, Math.ceil(err.retryAfterMs / 1000)));
  if (retriedEnough(err)) headers["x-should-retry"] = "false";
  return headers;
}

/**
 * Whether the client should not retry this error itself: the router already retried and fell back
 * as far as its policy allows, or asked an upstream and no retry can help (a refused provider key).
 * OpenAI's and Anthropic's SDKs honour `x-should-retry: false`; without it each of their retries
 * runs the router's whole chain again, multiplying upstream calls. A 429 keeps the client's own
 * Retry-After wait, and a shutdown's 503 is worth retrying on another instance.
 */
function retriedEnough(err: GatewayError): boolean {
  const attempts = err.served?.attempts ?? 0;
  if (attempts === 0 || err.status === 429 || err instanceof ShuttingDownError) return false;
  return attempts > 1 || !err.retryable;
}

/**
 * The client went away before its answer was complete: not a failure of anyone's to report, and
 * the end of any chain of attempts. A type of its own, so no layer compares codes to tell.
 */
export class ClientClosedError extends GatewayError {
  constructor() {
    super({ status: 499, type: "invalid_request_error", code: "client_closed_request", message: "The client closed the request." });
    this.name = "ClientClosedError";
  }
}

export const clientClosed = (): ClientClosedError => new ClientClosedError();

/** The process is shutting down and its drain time ran out: what a request still in flight gets. */
export class ShuttingDownError extends GatewayError {
  constructor() {
    super({ status: 503, type: "server_error", code: "server_shutting_down", message: "chatgate is shutting down and could not finish this request in time; please retry." });
    this.name = "ShuttingDownError";
  }
}

/** Anything thrown that is not already a GatewayError is a bug of ours: a 500 that leaks nothing. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError({ status: 500, type: "server_error", code: "internal_error", message: "The gateway hit an internal error while handling the request." });
}

export const invalidRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new GatewayError({ status: 400, type: "invalid_request_error", message, param, code });

/** OpenAI's own 401 for a key it does not know: type `invalid_request_error`, code `invalid_api_key`. */
export const invalidApiKey = (message: string) =>
  new GatewayError({ status: 401, type: "invalid_request_error", code: "invalid_api_key", message });

export const notFound = (message: string, code: string | null = null, param: string | null = null) =>
  new GatewayError({ status: 404, type: "invalid_request_error", message, code, param });

export const modelNotFound = (model: string) =>
  notFound(`The model \`${model}\` does not exist or you do not have access to it.`, "model_not_found", "model");

export const tooLarge = (limit: number) =>
  new GatewayError({ status: 413, type: "invalid_request_error", code: "request_too_large", message: `Request body is larger than the ${limit}-byte limit.` });

export const rateLimited = (limit: number, retryAfterMs: number) =>
  new GatewayError({
    status: 429, type: "requests", code: "rate_limit_exceeded", retryAfterMs,
    message: `Rate limit reached: ${limit} requests per window. Please try again in ${Math.ceil(retryAfterMs / 1000)}s.`,
  });

export const noProvider = () =>
  new GatewayError({
    status: 503, type: "server_error", code: "no_provider_configured",
    message: "No upstream provider is configured. Set OPENAI_API_KEY (and OPENAI_BASE_URL for an OpenAI-compatible provider), or CHATGATE_MOCK=1 for the built-in mock model.",
  });

export const upstreamTimeout = (provider: string, what: string) =>
  new GatewayError({ status: 504, type: "server_error", code: "upstream_timeout", retryable: true, message: `Provider '${provider}' did not answer in time (${what}).` });

export const badGateway = (message: string, code = "upstream_error", retryable = true) =>
  new GatewayError({ status: 502, type: "server_error", code, retryable, message });
