/** A fixed window's count for one key. */
export interface WindowCount {
  count: number;
  /** Epoch ms when the window ends and the count starts over. */
  resetAt: number;
}

/** A value now from a memory store, or later from a networked one (Redis). */
export type MaybePromise<T> = T | Promise<T>;

/**
 * One amount to add to a named window, if it fits. Windows of this kind are aligned by the caller
 * (`endsAt` is a minute, UTC day or month boundary), so every instance sharing a store agrees on
 * which window a request falls in; a store may name the window by key and end (`key:endsAt`).
 */
export interface ReserveItem {
  key: string;
  /** What to add: tokens, requests, nano-dollars. Whole numbers, so a networked store adds exactly. */
  amount: number;
  /** The most the window may hold; `Infinity` for none (a seed). */
  limit: number;
  /** Epoch ms when the window ends. */
  endsAt: number;
  /**
   * A budget reservation's own id, unique to this request (KeyLimits.admit), given again to its
   * settlement: a networked store whose answer came too late releases exactly what it added, or
   * nothing when it never added it (RedisCounters). Absent: nothing to release (limits, seeds).
   * At most one item of a reservation has one.
   */
  hold?: string;
}

/** What a check-and-reserve did. */
export interface Reserved {
  /** Index of the first item that did not fit, in which case nothing was added anywhere; -1: all were added. */
  refused: number;
  /** Each item's window after the operation: its count (with the amount when added) and end. */
  windows: WindowCount[];
}

/** A correction to a window a reservation went to: what the request really used, minus what it reserved. */
export interface AdjustItem {
  key: string;
  delta: number;
  /** The `endsAt` the reservation was made in: a window that has ended since is left alone. */
  endsAt: number;
  /** The reservation's `hold`, when it had one: then it is settled even with a delta of 0. */
  hold?: string;
}

/**
 * Per-key window counters. Memory and Redis (src/state/redis-counters.ts) stores share these methods, so the limiters
 * do not care where counts live. `incr`/`peek` count hits in windows that open with the first hit
 * (the global per-client limit, failed keys); `reserve`/`adjust` hold the per-key request, token
 * and spend windows, whose names are bounded by the config (never chosen by a client).
 */
export interface Counters {
  /** Adds one hit for `key` in its current window (a new window of `windowMs` if none is open). */
  incr(key: string, windowMs: number, now: number): MaybePromise<WindowCount>;
  /** The open window of `key`, without counting a hit; undefined when none is open. */
  peek(key: string, now: number): MaybePromise<WindowCount | undefined>;
  /**
   * Check-and-reserve, one atomic operation over every item (Redis: one Lua script): each item's
   * window — a fresh one when the stored one has ended — gets its amount only if every item stays
   * within its limit; otherwise nothing changes. Concurrent requests therefore cannot together
   * overshoot a limit: each sees the reservations of those admitted before it.
   */
  reserve(items: readonly ReserveItem[], now: number): MaybePromise<Reserved>;
  /**
   * Settles reservations: adds each delta (negative: gives unused amounts back) to its window if
   * that window is still the one ending at `endsAt`; never below 0. Once a window has ended there is
   * nothing to correct, and the next window must not pay for the last one.
   */
  adjust(items: readonly AdjustItem[], now: number): MaybePromise<void>;
  /**
   * Whether a budget reservation needs its `hold` id: a networked store whose answer may come too
   * late releases by it (RedisCounters). In memory an answer is never late: no id is made.
   */
  readonly holds?: boolean;
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
  /**
   * The reserve/adjust windows, apart from the hit windows: never evicted while open (that would
   * hand a key a fresh budget), and bounded by the config's keys, not by clients. Ended ones are
   * swept when the table has doubled since the last sweep (a reload that changed limits leaves some).
   */
  private readonly held = new Map<string, WindowCount>();
  private sweepAt = 64;

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

  reserve(items: readonly ReserveItem[], now: number): Reserved {
    const windows: WindowCount[] = [];
    let refused = -1;
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      const window = this.held.get(item.key);
      const count = window === undefined || window.resetAt <= now ? 0 : window.count;
      windows.push({ count, resetAt: window === undefined || window.resetAt <= now ? item.endsAt : window.resetAt });
      if (refused === -1 && count + item.amount > item.limit) refused = i;
    }
    if (refused !== -1) return { refused, windows };
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      const after = windows[i]!;
      after.count += item.amount;
      const window = this.held.get(item.key);
      if (window !== undefined) {
        window.count = after.count;
        window.resetAt = after.resetAt;
      } else {
        if (this.held.size >= this.sweepAt) this.sweep(now);
        this.held.set(item.key, { count: after.count, resetAt: after.resetAt });
      }
    }
    return { refused, windows };
  }

  adjust(items: readonly AdjustItem[], now: number): void {
    for (const item of items) {
      const window = this.held.get(item.key);
      if (window !== undefined && window.resetAt === item.endsAt && window.resetAt > now) window.count = Math.max(0, window.count + item.delta);
    }
  }

  private sweep(now: number): void {
    for (const [key, window] of this.held) if (window.resetAt <= now) this.held.delete(key);
    this.sweepAt = Math.max(64, this.held.size * 2);
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
