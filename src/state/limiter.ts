import type { Counters, WindowCount } from "./counters.ts";

export interface LimitDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

/** Pure: what a window's count means for a request under `limit`. */
export function decide(window: WindowCount, limit: number, now: number): LimitDecision {
  return {
    allowed: window.count <= limit,
    limit,
    remaining: Math.max(0, limit - window.count),
    resetMs: Math.max(0, window.resetAt - now),
  };
}

/** Fixed-window request limiter: `max` requests per `windowMs` per client key. */
export class Limiter {
  constructor(
    private readonly counters: Counters,
    readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  hit(key: string): LimitDecision {
    const now = this.now();
    return decide(this.counters.incr(key, this.windowMs, now), this.max, now);
  }
}
