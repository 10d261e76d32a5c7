/** A fixed window's count for one key. */
export interface WindowCount {
  count: number;
  /** Epoch ms when the window ends and the count starts over. */
  resetAt: number;
}

/**
 * Per-key window counters. Memory and (later) Redis stores share this one method, so the limiter
 * does not care where counts live.
 */
export interface Counters {
  /** Adds one hit for `key` in its current window (a new window of `windowMs` if none is open). */
  incr(key: string, windowMs: number, now: number): WindowCount;
}

/**
 * In-memory counters, bounded: at `maxKeys` expired windows are swept, and if every window is
 * still open the oldest keys are dropped, so a flood of distinct clients cannot grow memory.
 */
export class MemoryCounters implements Counters {
  private readonly windows = new Map<string, WindowCount>();

  constructor(private readonly maxKeys = 100_000) {}

  get size(): number {
    return this.windows.size;
  }

  incr(key: string, windowMs: number, now: number): WindowCount {
    let window = this.windows.get(key);
    if (window === undefined) {
      if (this.windows.size >= this.maxKeys) this.evict(now);
      window = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, window);
    } else if (window.resetAt <= now) {
      // Re-insert so Map order is the order windows opened: eviction drops the stalest first.
      this.windows.delete(key);
      this.windows.set(key, window);
      window.count = 0;
      window.resetAt = now + windowMs;
    }
    window.count++;
    return window;
  }

  private evict(now: number): void {
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
    let excess = this.windows.size - Math.floor(this.maxKeys * 0.9);
    for (const key of this.windows.keys()) {
      if (excess-- <= 0) break;
      this.windows.delete(key);
    }
  }
}
