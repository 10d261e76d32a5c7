import type { MaybePromise, WindowCount } from "./counters.ts";

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

/** A decision now when the store answers now (memory), a promise when it answers later (Redis). */
type DecisionOf<W> = W extends Promise<WindowCount> ? Promise<LimitDecision> : LimitDecision;

/**
 * Fixed-window request limiter: `max` requests per `windowMs` per client key. Typed by its store's
 * answer, so over MemoryCounters a hit is a plain decision and nothing on the hot path awaits.
 */
export class Limiter<W extends MaybePromise<WindowCount> = WindowCount> {
  constructor(
    private readonly counters: { incr(key: string, windowMs: number, now: number): W },
    readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  hit(key: string): DecisionOf<W> {
    const now = this.now();
    const window: MaybePromise<WindowCount> = this.counters.incr(key, this.windowMs, now);
    const decision = window instanceof Promise ? window.then((w) => decide(w, this.max, now)) : decide(window, this.max, now);
    return decision as DecisionOf<W>;
  }
}
