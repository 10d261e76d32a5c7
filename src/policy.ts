/**
 * The resilience policy, as pure functions: values in, values out, the clock and the random source
 * passed in. A leaf module: providers (Retry-After) and the router (classification, backoff,
 * cooldown) both import it, and it imports nothing of theirs.
 */

/**
 * `Retry-After` as milliseconds: delta-seconds or an HTTP date (RFC 9110), or OpenAI's and
 * Anthropic's `retry-after-ms`. Undefined when absent or unreadable.
 */
export function parseRetryAfter(headers: Headers, now = Date.now()): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms));
  const value = headers.get("retry-after");
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.ceil(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** What the router needs to know of one failed attempt; GatewayError carries these fields. */
export interface Failure {
  /** The upstream's HTTP status, when it answered with one. */
  upstreamStatus?: number;
  /** Our error code: `upstream_timeout`, `upstream_connection_error`, `client_closed_request`, … */
  code: string | null;
  /** The status the client gets for it; a 4xx with no upstream status is ours about the request (a translation's 400). */
  status?: number;
  retryAfterMs?: number;
}

/**
 * What to do after a failed attempt:
 * - `retry`: the same target again after `delayMs` (while it has retries left), else the next;
 * - `next`: the next target at once;
 * - `stop`: give the client this error (its own request is wrong, or it went away).
 */
export type Decision = { action: "retry"; delayMs: number } | { action: "next" } | { action: "stop" };

export interface RetryContext {
  /** Retries already spent on this target (0 after its first attempt failed). */
  retriesUsed: number;
  /** Retries allowed per target after its first attempt. */
  retries: number;
  /** The longest upstream Retry-After that is waited for. */
  maxRetryWaitMs: number;
  /** A number in [0, 1): Math.random in production, fixed in tests. */
  random: () => number;
}

/** Statuses that say "try again": the request may well succeed on the same target. */
const TRANSIENT = new Set([408, 409, 500, 502, 503, 504, 529]);
/** Statuses that say "not here": this target cannot serve it, another may. */
const NOT_HERE = new Set([401, 403, 404, 413]);
/** A 400 whose code says the request is too long for this model (another may take it). */
const TOO_LONG = new Set(["context_length_exceeded", "string_above_max_length"]);

/** One classification of an upstream outcome, applied the same to every provider. */
export function classify(failure: Failure, ctx: RetryContext): Decision {
  const { upstreamStatus: status, code } = failure;
  // The client went away, or this process is shutting down: nothing more to try.
  if (code === "client_closed_request" || code === "server_shutting_down") return { action: "stop" };
  const spent = ctx.retriesUsed >= ctx.retries;
  if (status === 429) {
    const wait = failure.retryAfterMs;
    if (wait !== undefined && wait > ctx.maxRetryWaitMs) return { action: "next" };
    if (spent) return { action: "next" };
    return { action: "retry", delayMs: wait ?? backoffMs(ctx.retriesUsed, ctx.random) };
  }
  if (status === undefined) {
    // A silent provider stays silent: no second wait on it.
    if (code === "upstream_timeout") return { action: "next" };
    if (code === "upstream_connection_error" || code === "upstream_redirect") {
      return spent || code === "upstream_redirect" ? { action: "next" } : { action: "retry", delayMs: backoffMs(ctx.retriesUsed, ctx.random) };
    }
    // Anything else we raised ourselves (a malformed answer, an oversized body): another target may do better.
    return { action: "next" };
  }
  if (TRANSIENT.has(status)) return spent ? { action: "next" } : { action: "retry", delayMs: backoffMs(ctx.retriesUsed, ctx.random) };
  if (NOT_HERE.has(status)) return { action: "next" };
  if (status === 400 && code !== null && TOO_LONG.has(code)) return { action: "next" };
  if (status >= 400 && status < 500) return { action: "stop" };
  // Any other 5xx (or a status no table names): the provider's failure, not the caller's.
  return { action: "next" };
}

/**
 * Whether a stream that broke after its first content may be continued (stream resume), and
 * where: `same` target first (a cut, a dropped connection, a passing overload), `next` ones only
 * (a silent provider stays silent; a malformed stream may be that target's fault), or `stop` (the
 * client left, the process is stopping, the caller's own request is wrong, a size cap was hit).
 */
export function resumeDecision(failure: Failure): "same" | "next" | "stop" {
  const { upstreamStatus: status, code } = failure;
  if (code === "client_closed_request" || code === "server_shutting_down" || code === "upstream_too_large") return "stop";
  if (status === undefined) {
    // A cut, a dropped connection, or an in-band error event (an overload, mostly): worth the same target again.
    if (code === "upstream_stream_truncated" || code === "upstream_connection_error" || code === "upstream_error") return "same";
    return "next";
  }
  if (status === 429 || TRANSIENT.has(status)) return "same";
  if (status >= 400 && status < 500 && !NOT_HERE.has(status)) return "stop";
  return "next";
}

/**
 * Whether a failure counts towards a target's cooldown: every one but the caller's own 4xx. A
 * request too large or too long for the target (413, `context_length_exceeded`) moves on to the
 * next target but is the caller's too: counted, one client's long prompts would cool a shared
 * target down for every key.
 */
export function countsAgainstTarget(failure: Failure): boolean {
  if (failure.code === "client_closed_request" || failure.code === "server_shutting_down") return false;
  const status = failure.upstreamStatus;
  // Refused before it was sent (a parameter this provider cannot take): the target was never asked.
  if (status === undefined && failure.status !== undefined && failure.status < 500) return false;
  if (status === 413) return false;
  return status === undefined || status === 429 || TRANSIENT.has(status) || NOT_HERE.has(status) || status >= 500;
}

/** Exponential backoff with full jitter: uniform in [0, min(cap, base · 2^attempt)). */
export function backoffMs(attempt: number, random: () => number, baseMs = 250, capMs = 8_000): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** attempt));
}

/** A target's health: failures in a row, and when a cooldown ends. */
export interface Health {
  failures: number;
  /** Epoch ms until which the target is skipped; 0 when not cooling down. */
  coolingUntil: number;
  /** A request is probing the target after its cooldown: others still skip it. */
  probing: boolean;
}

export const HEALTHY: Health = Object.freeze({ failures: 0, coolingUntil: 0, probing: false });

export interface CooldownPolicy {
  /** Failures in a row that put a target into cooldown. */
  after: number;
  cooldownMs: number;
}

/** Whether a request may use the target now: `yes`, `probe` (the one request after a cooldown), or `no`. */
export function availability(health: Health, now: number): "yes" | "probe" | "no" {
  if (health.coolingUntil === 0) return "yes";
  if (now < health.coolingUntil || health.probing) return "no";
  return "probe";
}

/**
 * How long until a target that `availability` refused may be asked again: the rest of its
 * cooldown, or, while another request probes it, a second (the probe's verdict comes sooner or later).
 */
export function availableInMs(health: Health, now: number): number {
  if (health.coolingUntil === 0) return 0;
  return health.coolingUntil > now ? health.coolingUntil - now : PROBE_WAIT_MS;
}
const PROBE_WAIT_MS = 1_000;

export function afterFailure(health: Health, now: number, policy: CooldownPolicy): Health {
  const failures = health.failures + 1;
  // A failed probe goes straight back into cooldown; otherwise only after `after` in a row.
  if (health.coolingUntil !== 0 || failures >= policy.after) return { failures, coolingUntil: now + policy.cooldownMs, probing: false };
  return { failures, coolingUntil: 0, probing: false };
}

export const afterSuccess = (): Health => HEALTHY;

/** Picks the first target of a weighted route: index drawn by weight with `random` in [0, 1). */
export function drawWeighted(weights: readonly number[], random: () => number): number {
  const total = weights.reduce((sum, w) => sum + Math.max(0, w), 0);
  if (total <= 0) return 0;
  let point = random() * total;
  for (let i = 0; i < weights.length; i++) {
    point -= Math.max(0, weights[i]!);
    if (point < 0) return i;
  }
  return weights.length - 1;
}
