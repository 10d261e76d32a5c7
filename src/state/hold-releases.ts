// Releases of budget reservations whose Redis answer came too late (see RedisCounters): one
// RELEASES script per event-loop turn, and the ones that got no answer sent again with backoff.
import { RELEASES } from "./counter-scripts.ts";
import type { RedisConnection } from "./redis-connection.ts";
import { TickBatch } from "./tick-batch.ts";

/**
 * How long a budget reservation's hold key lives (`<prefix>res:<hold>`): longer than any request
 * lasts, and than any stall a reservation could wait out in Redis's socket before it runs.
 */
export const HOLD_TTL_MS = 24 * 3_600_000;
/** A release that got no answer is sent again after this, doubling up to RETRY_MAX_MS while none gets one. */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 30_000;

/** A budget reservation whose answer did not come in time, settled to what its request used (RELEASES). */
export interface Release {
  /** The reservation's hold key and its window's key, both as Redis names them. */
  hold: string;
  window: string;
  used: number;
  endsAt: number;
  /** Whether the reservation went out (it may have run): then the release is sent until Redis answers it. */
  retry: boolean;
  since: number;
}

export class HoldReleases {
  private readonly batch = new TickBatch((releases: Release[]) => this.send(releases));
  /** Releases that got no answer, sent again by `retryTimer`. */
  private retrying: Release[] = [];
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryAfterMs = RETRY_FIRST_MS;

  constructor(private readonly redis: RedisConnection) {}

  add(release: Release): void {
    void this.batch.add(release);
  }

  /** Sends what waits, retries included, and resolves once Redis has answered it (shutdown). */
  flush(): Promise<void> {
    this.retryNow();
    return this.batch.flush();
  }

  /** One script for the turn's releases; the ones that may matter are sent again, later, when it gets no answer. */
  private async send(releases: Release[]): Promise<void[]> {
    const keys: string[] = [];
    const args = [String(HOLD_TTL_MS)];
    for (const r of releases) {
      keys.push(r.hold, r.window);
      args.push(String(r.used), String(r.endsAt));
    }
    try {
      await RELEASES.run(this.redis, keys, args);
      this.retryAfterMs = RETRY_FIRST_MS;
    } catch {
      // Past the hold key's life there is nothing exact left to do: the reservation stays counted.
      const now = Date.now();
      for (const r of releases) if (r.retry && now - r.since < HOLD_TTL_MS && !this.redis.closed) this.retrying.push(r);
      if (this.retrying.length > 0 && this.retryTimer === undefined) {
        this.retryTimer = setTimeout(() => this.retryNow(), this.retryAfterMs);
        this.retryTimer.unref();
        this.retryAfterMs = Math.min(RETRY_MAX_MS, this.retryAfterMs * 2);
      }
    }
    return [];
  }

  /** Sends the releases waiting for another try now. */
  private retryNow(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const again = this.retrying;
    this.retrying = [];
    for (const r of again) void this.batch.add(r);
  }
}
