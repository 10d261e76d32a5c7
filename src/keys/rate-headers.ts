// Rate-limit headers: chatgate's own `x-ratelimit-{limit,remaining,reset}` (reset in seconds) and
// OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` (reset as a duration, `6m0s`),
// which clients written for OpenAI read.
import { resetDuration } from "./periods.ts";

type Headers = Record<string, unknown>;

/** Where a request limit stands after this request. */
export interface RequestWindow {
  limit: number;
  remaining: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

/** The request limit that applied to this request (the global per-client one, or the key's rpm). */
export function requestHeaders(headers: Headers, window: RequestWindow): void {
  const limit = String(window.limit);
  const remaining = String(window.remaining);
  headers["x-ratelimit-limit"] = limit;
  headers["x-ratelimit-remaining"] = remaining;
  headers["x-ratelimit-reset"] = String(Math.ceil(window.resetMs / 1000));
  headers["x-ratelimit-limit-requests"] = limit;
  headers["x-ratelimit-remaining-requests"] = remaining;
  headers["x-ratelimit-reset-requests"] = resetDuration(window.resetMs);
}

/** The key's tokens per minute after this request's reservation (or before it, when refused). */
export function tokenHeaders(headers: Headers, limit: number, used: number, resetMs: number): void {
  headers["x-ratelimit-limit-tokens"] = String(limit);
  headers["x-ratelimit-remaining-tokens"] = String(Math.max(0, limit - used));
  headers["x-ratelimit-reset-tokens"] = resetDuration(resetMs);
}
