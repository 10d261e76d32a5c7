import { GatewayError } from "../errors.ts";
import type { AdjustItem, Counters, Reserved, ReserveItem, WindowCount } from "./counters.ts";
import { ADJUST, HITS, PEEK, RESERVATIONS } from "./counter-scripts.ts";
import { HOLD_TTL_MS, HoldReleases } from "./hold-releases.ts";
import { RedisUnavailable, type OnRedisError, type RedisConnection } from "./redis-connection.ts";
import { TickBatch } from "./tick-batch.ts";

/** What each kind of counter does while Redis does not answer. */
export interface RedisOnError {
  /** Request and token limits (the global per-client limit, a key's rpm and tpm); default fail_open. */
  limits: OnRedisError;
  /** Spend budgets; default fail_closed: an outage must not become free spending. */
  budgets: OnRedisError;
}

export interface RedisCountersOptions {
  redis: RedisConnection;
  onError: RedisOnError;
  /** Which reserve keys are budgets (spend) rather than limits: decides which policy applies. */
  isBudget: (key: string) => boolean;
  /** Prefix of every key this store writes (default `chatgate:`), so one Redis can serve other uses too. */
  prefix?: string;
}

/** One hit: its window's key and length. */
interface Hit {
  key: string;
  windowMs: number;
}

/** A reservation let through unanswered (budgets fail_open): what it reserved, settled by a release. */
interface Unconfirmed {
  amount: number;
  sent: boolean;
}

/**
 * The Counters store shared by every instance pointed at one Redis: hits, reservations and
 * adjustments run in atomic scripts (EVALSHA), so N instances with limit L admit exactly L between
 * them. While Redis does not answer (down, or slower than the connection's bound), limits and
 * budgets each follow their `onError` policy: fail_open lets the request through uncounted,
 * fail_closed refuses it with a 503. Settlements lost in an outage are dropped (the outage is
 * logged once by the connection, not once per request).
 *
 * A budget reservation (an item with a `hold`) whose answer came too late may still run in Redis
 * (a slow Redis catches up with what waits in its socket), and no settlement would ever give it
 * back. So the script that admits it also records its amount under its hold key, a settlement
 * deletes that key, and one that timed out is released (RELEASES): the amount subtracted if the key
 * is there, else the key marked released so that the reservation, if it comes, adds nothing.
 *
 * The hits, reservations and settlements of one event-loop turn go as one script each (TickBatch),
 * run in the order they were made: under load, one script serves many requests.
 */
export class RedisCounters implements Counters {
  readonly holds = true;
  private readonly redis: RedisConnection;
  private readonly onError: RedisOnError;
  private readonly isBudget: (key: string) => boolean;
  private readonly prefix: string;
  private readonly hits = new TickBatch((hits: Hit[]) => this.sendHits(hits));
  private readonly reservations = new TickBatch((reservations: (readonly ReserveItem[])[]) => this.sendReservations(reservations));
  private readonly settlements = new TickBatch((settlements: (readonly AdjustItem[])[]) => this.sendSettlements(settlements));
  private readonly releases: HoldReleases;
  /** Budget reservations let through unanswered, by hold: released when their request settles. */
  private readonly unconfirmed = new Map<string, Unconfirmed>();

  constructor(options: RedisCountersOptions) {
    this.redis = options.redis;
    this.onError = options.onError;
    this.isBudget = options.isBudget;
    this.prefix = options.prefix ?? "chatgate:";
    this.releases = new HoldReleases(this.redis);
  }

  async incr(key: string, windowMs: number, now: number): Promise<WindowCount> {
    try {
      const [count, ttl] = await this.hits.add({ key: `${this.prefix}hit:${key}`, windowMs });
      return { count, resetAt: now + ttl };
    } catch {
      if (this.onError.limits === "fail_closed") throw storeUnavailable("rate limits");
      return { count: 0, resetAt: now + windowMs };
    }
  }

  async peek(key: string, now: number): Promise<WindowCount | undefined> {
    try {
      const answer = (await PEEK.run(this.redis, [`${this.prefix}hit:${key}`], [])) as [number, number] | null;
      return answer === null || answer[1] < 0 ? undefined : { count: answer[0], resetAt: now + answer[1] };
    } catch {
      return undefined;
    }
  }

  // No clock needed: Redis expires each window at its `endsAt` (PEXPIREAT), so an ended one is simply absent.
  async reserve(items: readonly ReserveItem[], _now: number): Promise<Reserved> {
    if (items.length === 0) return { refused: -1, windows: [] };
    try {
      return await this.reservations.add(items);
    } catch (err) {
      // Went out, so Redis may run it yet: its budget part must then be given back (or skipped).
      const sent = !(err instanceof RedisUnavailable) || err.sent;
      const closed = items.find((i) => this.onError[this.isBudget(i.key) ? "budgets" : "limits"] === "fail_closed");
      if (closed !== undefined) {
        if (sent) for (const item of items) if (item.hold !== undefined) this.release(item.key, item.endsAt, item.hold, 0, true);
        throw storeUnavailable(this.isBudget(closed.key) ? "budgets" : "rate limits");
      }
      for (const item of items) if (item.hold !== undefined) this.unconfirmed.set(item.hold, { amount: item.amount, sent });
      // Let through, as if this request were the window's first: the headers show its own use.
      return { refused: -1, windows: items.map((i) => ({ count: i.amount, resetAt: i.endsAt })) };
    }
  }

  /** Settles once the script carrying it is answered; never rejects (an outage is logged by the connection). */
  adjust(items: readonly AdjustItem[], _now: number): Promise<void> {
    if (this.unconfirmed.size > 0) items = this.releaseUnconfirmed(items);
    return items.length === 0 ? Promise.resolve() : this.settlements.add(items);
  }

  /** Sends what waits for the end of this turn now, and resolves once Redis has answered it (shutdown). */
  async flush(): Promise<void> {
    await Promise.all([this.hits.flush(), this.reservations.flush(), this.settlements.flush(), this.releases.flush()]);
  }

  /** Settles each item whose reservation was let through unanswered by a release, to what its request used; returns the others. */
  private releaseUnconfirmed(items: readonly AdjustItem[]): readonly AdjustItem[] {
    const rest: AdjustItem[] = [];
    for (const item of items) {
      const reserved = item.hold === undefined ? undefined : this.unconfirmed.get(item.hold);
      if (reserved === undefined) {
        rest.push(item);
        continue;
      }
      this.unconfirmed.delete(item.hold!);
      this.release(item.key, item.endsAt, item.hold!, reserved.amount + item.delta, reserved.sent);
    }
    return rest;
  }

  /** Settles a budget reservation whose answer did not come to `used`; `retry`: until Redis answers (it went out, so it may have run). */
  private release(key: string, endsAt: number, hold: string, used: number, retry: boolean): void {
    const release = { hold: this.holdKey(hold), window: this.windowKey({ key, endsAt }), used: Math.max(0, Math.round(used)), endsAt, retry, since: Date.now() };
    this.releases.add(release);
  }

  private async sendHits(hits: Hit[]): Promise<[number, number][]> {
    const answer = (await HITS.run(this.redis, hits.map((h) => h.key), hits.map((h) => String(h.windowMs)))) as number[];
    return hits.map((_, i) => [answer[2 * i]!, answer[2 * i + 1]!]);
  }

  private async sendReservations(reservations: (readonly ReserveItem[])[]): Promise<Reserved[]> {
    const keys: string[] = [];
    const args = [String(HOLD_TTL_MS)];
    for (const items of reservations) {
      const count = args.push(String(items.length), "0");
      let hold: string | undefined;
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        keys.push(this.windowKey(item));
        args.push(String(Math.round(item.amount)), Number.isFinite(item.limit) ? String(item.limit) : "-1", String(item.endsAt));
        if (item.hold !== undefined && hold === undefined) {
          hold = item.hold;
          args[count - 1] = String(i + 1);
        }
      }
      if (hold !== undefined) keys.push(this.holdKey(hold));
    }
    const answer = (await RESERVATIONS.run(this.redis, keys, args)) as number[];
    let at = 0;
    return reservations.map((items) => {
      const refused = answer[at++]!;
      const windows = items.map((item) => ({ count: answer[at++]!, resetAt: item.endsAt }));
      return { refused, windows };
    });
  }

  /** One script for the turn's settlements, each window's deltas summed, and the hold keys of the budget reservations settled deleted. */
  private async sendSettlements(settlements: (readonly AdjustItem[])[]): Promise<void[]> {
    const deltas = new Map<string, number>();
    let holds: string[] | undefined;
    for (const items of settlements) {
      for (const item of items) {
        if (item.hold !== undefined) (holds ??= []).push(this.holdKey(item.hold));
        const key = this.windowKey(item);
        deltas.set(key, (deltas.get(key) ?? 0) + Math.round(item.delta));
      }
    }
    for (const [key, delta] of deltas) if (delta === 0) deltas.delete(key);
    if (deltas.size > 0 || holds !== undefined) {
      try {
        const keys = [...deltas.keys()];
        if (holds !== undefined) keys.push(...holds);
        await ADJUST.run(this.redis, keys, [...deltas.values()].map(String));
      } catch {
        // Already logged as an outage; the reservation stays counted (the safe side) or is gone with Redis.
      }
    }
    return [];
  }

  private windowKey(item: { key: string; endsAt: number }): string {
    return `${this.prefix}${item.key}:${item.endsAt}`;
  }

  private holdKey(hold: string): string {
    return `${this.prefix}res:${hold}`;
  }
}

/** A 503 for a request whose limits or budget could not be checked, under a fail_closed policy. */
function storeUnavailable(what: "rate limits" | "budgets"): GatewayError {
  return new GatewayError({
    status: 503,
    type: "server_error",
    code: "limits_store_unavailable",
    retryable: true,
    message: `chatgate cannot check this request's ${what} right now: their shared store (Redis) is not answering. Please retry shortly.`,
  });
}
