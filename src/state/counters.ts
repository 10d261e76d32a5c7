/** A fixed window's count for one key. */
export interface WindowCount {
  count: number;
  /** Epoch ms when the window ends and the count starts over. */
  resetAt: number;
}

/**
 * Per-key window counters. Memory and (later) Redis stores share these methods, so the limiter
 * does not care where counts live.
 */
export interface Counters {
  /** Adds one hit for `key` in its current window (a new window of `windowMs` if none is open). */
  incr(key: string, windowMs: number, now: number): WindowCount;
  /** The open window of `key`, without counting a hit; undefined when none is open. */
  peek(key: string, now: number): WindowCount | undefined;
}

export interface MemoryCountersOptions {
  /** The count at which a client is limited; such windows are never evicted. */
  limit: number;
  /** Most windows held at once (default 100,000); the overflow window comes on top. */
  maxKeys?: number;
}

/** Where new clients are counted, together, while the table is full of windows it must keep. */
export const OVERFLOW_KEY = "\0overflow";

/**
 * In-memory counters, bounded to `maxKeys` windows, so a flood of distinct clients cannot grow
 * memory (keys are bounded in length by the caller).
 *
 * Eviction must never hand a limited client a fresh window: that would turn the limit into a
 * suggestion for anyone who can also send a burst of distinct client ids. So when the table is
 * full it drops, in this order: windows that have ended (nothing is lost); then open windows still
 * below the limit, oldest first (that client may get up to its limit again, but no more, and the
 * oldest are the closest to ending anyway). Windows at the limit are kept. If that frees nothing —
 * the table is full of limited clients — new clients share one overflow window with the same limit
 * instead of each getting its own: under such a flood newcomers may be refused early, which is the
 * safe side, and no client already limited is let in. The pass is O(table); when it cannot get back
 * to 90%, newcomers go straight to the overflow window for a while, so a flood costs O(1) a request.
 */
export class MemoryCounters implements Counters {
  private readonly windows = new Map<string, WindowCount>();
  private readonly limit: number;
  private readonly maxKeys: number;
  /** While the table is full and nothing could be evicted: when the earliest window ends. */
  private noRoomUntil = 0;

  constructor(options: MemoryCountersOptions) {
    this.limit = options.limit;
    this.maxKeys = options.maxKeys ?? 100_000;
  }

  get size(): number {
    return this.windows.size;
  }

  incr(key: string, windowMs: number, now: number): WindowCount {
    let window = this.windows.get(key);
    if (window === undefined) {
      if (this.windows.size >= this.maxKeys && key !== OVERFLOW_KEY && !this.makeRoom(now)) return this.incr(OVERFLOW_KEY, windowMs, now);
      window = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, window);
    } else if (window.resetAt <= now) {
      // Re-insert so Map order is the order windows opened: eviction looks at the stalest first.
      this.windows.delete(key);
      this.windows.set(key, window);
      window.count = 0;
      window.resetAt = now + windowMs;
    }
    window.count++;
    return window;
  }

  peek(key: string, now: number): WindowCount | undefined {
    // A client with no window of its own while the table is full is counted in the overflow window.
    const window = this.windows.get(key) ?? (this.windows.size >= this.maxKeys ? this.windows.get(OVERFLOW_KEY) : undefined);
    return window !== undefined && window.resetAt > now ? window : undefined;
  }

  /**
   * Evicts down to 90% of `maxKeys` as described above; false when there is still no room. A pass
   * that cannot reach 90% is not repeated before the earliest window ends, nor within a second.
   */
  private makeRoom(now: number): boolean {
    if (now < this.noRoomUntil) return false;
    const target = Math.floor(this.maxKeys * 0.9);
    let earliest = Number.POSITIVE_INFINITY;
    for (const [key, window] of this.windows) {
      if (window.resetAt <= now) this.windows.delete(key);
      else if (window.resetAt < earliest) earliest = window.resetAt;
    }
    for (const [key, window] of this.windows) {
      if (this.windows.size <= target) break;
      if (window.count < this.limit) this.windows.delete(key);
    }
    if (this.windows.size > target) this.noRoomUntil = Math.max(earliest, now + 1_000);
    return this.windows.size < this.maxKeys;
  }
}
