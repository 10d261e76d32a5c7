import { GatewayError } from "../errors.ts";
// Failed key attempts stay in this process's memory (per address, never Redis): answers must be synchronous here.
import type { MemoryCounters } from "../state/counters.ts";

/** Failed key attempts are counted per client address over this fixed window. */
export const FAILURE_WINDOW_MS = 60_000;

export const tooManyFailures = (limit: number, retryAfterMs: number) =>
  new GatewayError({
    status: 429, type: "requests", code: "rate_limit_exceeded", retryAfterMs,
    message: `Too many failed API key attempts from your address (more than ${limit} a minute). Please try again in ${Math.ceil(retryAfterMs / 1000)}s.`,
  });

/**
 * Failed key attempts per client address. Once an address has failed `limit` times in a window,
 * every request from it that needs a key is refused until the window ends — a correct key
 * included, or the limit would not stop guessing, only slow the wrong guesses.
 */
export class AuthFailures {
  /** Latest end of a window that reached the limit: before it, some address may be blocked. */
  private blockedUntil = 0;

  constructor(
    private readonly counters: MemoryCounters,
    readonly limit: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether any address may be blocked right now. A field read while nobody is: requests with a
   * good key pay for the address lookup only while some address is over the limit.
   */
  anyBlocked(): boolean {
    return this.blockedUntil !== 0 && this.now() < this.blockedUntil;
  }

  /** Milliseconds until `address` may try again; 0 when it is not blocked. */
  blockedFor(address: string): number {
    const now = this.now();
    const window = this.counters.peek(address, now);
    return window !== undefined && window.count >= this.limit ? window.resetAt - now : 0;
  }

  /** Counts one failed attempt from `address`. */
  fail(address: string): void {
    const window = this.counters.incr(address, FAILURE_WINDOW_MS, this.now());
    if (window.count >= this.limit && window.resetAt > this.blockedUntil) this.blockedUntil = window.resetAt;
  }
}
