import { GatewayError, badGateway, clientClosed, upstreamTimeout } from "../errors.ts";
import { parseRetryAfter } from "../policy.ts";
import { ERROR_BODY_CAP, readCapped } from "./read-body.ts";

/** Strips a secret from text that came from an upstream before it can reach a client or a log. */
export type Redact = (text: string) => string;

export const redactor = (secret: string | undefined): Redact =>
  secret ? (text) => text.split(secret).join("***") : (text) => text;

/** Every string in a parsed JSON value (object keys included) passed through `redact`. */
export function redactStrings(value: unknown, redact: Redact): unknown {
  if (typeof value === "string") return redact(value);
  if (Array.isArray(value)) return value.map((item) => redactStrings(item, redact));
  if (value && typeof value === "object") {
    // No prototype, so a `"__proto__"` key stays a key rather than replacing the prototype.
    const out = Object.create(null) as Record<string, unknown>;
    for (const [key, item] of Object.entries(value)) out[redact(key)] = redactStrings(item, redact);
    return out;
  }
  return value;
}

/**
 * JSON text from an upstream with the secret taken out of every string, then serialised again:
 * redacting the raw text would miss a key the upstream JSON-escaped (`\/`, `\u0073k-…`), which
 * the client's parser would turn back into the key. `undefined` when the text is not JSON.
 */
export function redactJson(text: string, redact: Redact): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return JSON.stringify(redactStrings(value, redact));
}

interface UpstreamErrorFields {
  message?: unknown;
  type?: unknown;
  param?: unknown;
  code?: unknown;
}

function readErrorFields(text: string): UpstreamErrorFields | undefined {
  try {
    const body: unknown = JSON.parse(text);
    if (body && typeof body === "object" && "error" in body) {
      const error = (body as { error: unknown }).error;
      if (error && typeof error === "object") return error as UpstreamErrorFields;
      if (typeof error === "string") return { message: error };
    }
    if (vllmError(body)) return body;
  } catch {
    // not JSON: the status alone classifies it
  }
  return undefined;
}

/** vLLM's error, as a body and as an event: the fields at the top, beside `"object": "error"`. */
function vllmError(body: unknown): body is UpstreamErrorFields {
  return body !== null && typeof body === "object" && (body as { object?: unknown }).object === "error";
}

/**
 * An upstream's in-band error event as the client gets it: redacted, and in OpenAI's shape
 * (`{"error": {message, type, param, code}}`), so the SDKs raise it as an API error. vLLM's
 * `{"object": "error", "message", …}` is reshaped; anything else keeps its own fields.
 */
export function errorEventJson(data: string, redact: Redact): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (vllmError(body) && !("error" in body)) {
    const { message = null, type = null, param = null, code = null } = body;
    body = { error: { message, type, param, code } };
  }
  return JSON.stringify(redactStrings(body, redact));
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : typeof v === "number" ? String(v) : null);

/**
 * Classifies a non-2xx upstream answer, once, into the error the client gets:
 * 4xx keeps its status and OpenAI error fields (each string redacted, since an upstream may echo
 * our key in any of them); 429 keeps `Retry-After`; 401/403 mean *our* provider key was refused,
 * which is the operator's problem (502, naming the provider, never the key); 5xx is a retryable
 * 502. A 3xx is never followed (every upstream fetch is `redirect: "manual"`: following would
 * re-post the client's body, with our key, to wherever the Location points): it is a 502 naming
 * the provider, and the Location, which may carry tokens, is not echoed. The body is read to
 * ERROR_BODY_CAP bytes at most; a larger one is classified by its status alone.
 */
export async function fromUpstreamResponse(provider: string, res: Response, redact: Redact): Promise<GatewayError> {
  // The router's policy classifies by what the upstream said, whatever status the client gets.
  return (await errorForStatus(provider, res, redact)).with({ upstreamStatus: res.status });
}

async function errorForStatus(provider: string, res: Response, redact: Redact): Promise<GatewayError> {
  const status = res.status;
  if (status >= 300 && status < 400) {
    await res.body?.cancel().catch(() => {});
    return badGateway(
      `Provider '${provider}' answered with a redirect (HTTP ${status}), which chatgate does not follow. Check the provider's base URL (OPENAI_BASE_URL).`,
      "upstream_redirect", false,
    );
  }
  const text = (await readCapped(res, ERROR_BODY_CAP).catch(() => undefined)) ?? "";
  const raw = readErrorFields(text);
  const fields = raw && (redactStrings(raw, redact) as UpstreamErrorFields);
  const message = str(fields?.message);
  if (status === 401 || status === 403) {
    return badGateway(`Provider '${provider}' rejected chatgate's credentials (HTTP ${status}). Check the provider key chatgate is configured with.`, "upstream_auth_failed", false);
  }
  if (status === 429) {
    return new GatewayError({
      status: 429, retryable: true, retryAfterMs: parseRetryAfter(res.headers),
      type: str(fields?.type) ?? "requests", code: str(fields?.code) ?? "rate_limit_exceeded", param: str(fields?.param),
      message: message ?? `Provider '${provider}' is rate limiting requests.`,
    });
  }
  if (status === 408) return upstreamTimeout(provider, "the provider timed out the request");
  if (status >= 400 && status < 500) {
    return new GatewayError({
      status, retryable: false,
      type: str(fields?.type) ?? "invalid_request_error", code: str(fields?.code), param: str(fields?.param),
      message: message ?? `Provider '${provider}' refused the request (HTTP ${status}).`,
    });
  }
  const detail = message ? `: ${message}` : ".";
  // An overloaded upstream's wait (a 503's Retry-After) is the client's too, when it gets the error.
  return badGateway(`Provider '${provider}' failed with HTTP ${status}${detail}`, "upstream_error", true).with({ retryAfterMs: parseRetryAfter(res.headers) });
}

/**
 * An upstream answer larger than chatgate will hold (`what` says which part, `limit` in bytes): a
 * 502 before a stream commits, an error event after. Not retryable: the same request is likely
 * to get the same answer.
 */
export const upstreamTooLarge = (provider: string, what: string, limit: number) =>
  badGateway(`Provider '${provider}' sent ${what} larger than the ${limit}-byte limit.`, "upstream_response_too_large", false);

/**
 * Classifies a thrown fetch/read failure. `timedOut` says whether our own timer fired; a client
 * abort is reported as such so the edge can drop it quietly.
 */
export function fromUpstreamException(provider: string, err: unknown, timedOut: boolean, clientSignal: AbortSignal, what: string, stoppedWith?: GatewayError): GatewayError {
  if (stoppedWith !== undefined) return stoppedWith;
  if (err instanceof GatewayError) return err;
  if (timedOut) return upstreamTimeout(provider, what);
  if (clientSignal.aborted) return clientClosed();
  return badGateway(`The connection to provider '${provider}' failed (${describe(err)}).`, "upstream_connection_error", true);
}


function describe(err: unknown): string {
  if (err && typeof err === "object") {
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string" && /^[A-Za-z_]+$/.test(code)) return code;
    const name = (err as { name?: unknown }).name;
    if (typeof name === "string") return name;
  }
  return "network error";
}

/**
 * An in-band `{"error": …}` event that came before any content: a failure before commit, so the
 * router may retry or fall back. Its message is the upstream's, every string redacted; a numeric
 * code that is an HTTP status (some providers put 429 or 502 there) is classified as one.
 */
export function fromErrorEvent(provider: string, data: string, redact: Redact, when: "before" | "during" = "before"): GatewayError {
  const raw = readErrorFields(data);
  const fields = raw && (redactStrings(raw, redact) as UpstreamErrorFields);
  const message = str(fields?.message);
  const code = fields?.code;
  if (when === "before") {
    const upstreamStatus = typeof code === "number" && code >= 400 && code < 600 ? code : undefined;
    return badGateway(`Provider '${provider}' sent an error before its answer began${message ? `: ${message}` : "."}`, "upstream_error", true).with({ upstreamStatus });
  }
  // In the middle of an answer (held back because the stream may be resumed): its type or code
  // says whether it passes (an overload) or stands (a content filter); if it stands it goes out as sent.
  const upstreamStatus = typeof code === "number" && code >= 400 && code < 600 ? code : (IN_BAND_STATUS[str(code) ?? ""] ?? IN_BAND_STATUS[str(fields?.type) ?? ""]);
  const error = badGateway(`Provider '${provider}' sent an error in the middle of its answer${message ? `: ${message}` : "."}`, "upstream_error", true);
  return error.with({ upstreamStatus, event: errorEventJson(data, redact) ?? redact(data) });
}

/** The HTTP status an in-band error's type or code stands for, as its API would have answered it. */
const IN_BAND_STATUS: Record<string, number> = {
  invalid_request_error: 400, content_filter: 400, content_policy_violation: 400,
  rate_limit_exceeded: 429, rate_limit_error: 429, insufficient_quota: 429,
  server_error: 500, api_error: 500, overloaded: 529, overloaded_error: 529,
};
