import { GatewayError } from "../errors.ts";
import type { AdjustItem, Counters, Reserved, ReserveItem, WindowCount } from "./counters.ts";
import type { OnRedisError, RedisConnection } from "./redis-connection.ts";
import { RedisScript } from "./redis-script.ts";

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

// A hit window opens with its first hit and expires at its end, so an ended window is simply gone.
const HIT = new RedisScript(`
local c = redis.call('INCR', KEYS[1])
local t = redis.call('PTTL', KEYS[1])
if t < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); t = tonumber(ARGV[1]) end
return {c, t}`);

const PEEK = new RedisScript(`
local c = redis.call('GET', KEYS[1])
if not c then return false end
return {tonumber(c), redis.call('PTTL', KEYS[1])}`);

// Check every item, then add to all or none: one script, so no other instance's reservation can
// come between the check and the add. ARGV holds (amount, limit or -1 for none, endsAt) per key.
// A window is named by its end (key:endsAt) and expires at it, so a new window starts at 0.
const RESERVE = new RedisScript(`
local counts = {}
local refused = -1
for i = 1, #KEYS do
  local c = tonumber(redis.call('GET', KEYS[i]) or '0')
  counts[i] = c
  local limit = tonumber(ARGV[3 * i - 1])
  if refused == -1 and limit >= 0 and c + tonumber(ARGV[3 * i - 2]) > limit then refused = i - 1 end
end
if refused == -1 then
  for i = 1, #KEYS do
    counts[i] = redis.call('INCRBY', KEYS[i], ARGV[3 * i - 2])
    redis.call('PEXPIREAT', KEYS[i], ARGV[3 * i])
  end
end
table.insert(counts, 1, refused)
return counts`);

// A window that has ended has expired: nothing to correct. '%.0f' keeps big counts (nano-dollars)
// out of Lua's exponent notation.
const ADJUST = new RedisScript(`
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v then
    local n = tonumber(v) + tonumber(ARGV[i])
    if n < 0 then n = 0 end
    redis.call('SET', KEYS[i], string.format('%.0f', n), 'KEEPTTL')
  end
end
return 0`);

/**
 * The Counters store shared by every instance pointed at one Redis: each hit, reservation and
 * adjustment is one atomic script (EVALSHA), so N instances with limit L admit exactly L between
 * them. While Redis does not answer (down, or slower than the connection's bound), limits and
 * budgets each follow their `onError` policy: fail_open lets the request through uncounted,
 * fail_closed refuses it with a 503. Settlements lost in an outage are dropped (the outage is
 * logged once by the connection, not once per request).
 */
export class RedisCounters implements Counters {
  private readonly redis: RedisConnection;
  private readonly onError: RedisOnError;
  private readonly isBudget: (key: string) => boolean;
  private readonly prefix: string;

  constructor(options: RedisCountersOptions) {
    this.redis = options.redis;
    this.onError = options.onError;
    this.isBudget = options.isBudget;
    this.prefix = options.prefix ?? "chatgate:";
  }

  async incr(key: string, windowMs: number, now: number): Promise<WindowCount> {
    try {
      const [count, ttl] = (await HIT.run(this.redis, [`${this.prefix}hit:${key}`], [String(windowMs)])) as [number, number];
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
    const args: string[] = [];
    for (const item of items) args.push(String(Math.round(item.amount)), Number.isFinite(item.limit) ? String(item.limit) : "-1", String(item.endsAt));
    try {
      const [refused, ...counts] = (await RESERVE.run(this.redis, items.map((i) => this.windowKey(i)), args)) as number[];
      return { refused: refused!, windows: counts.map((count, i) => ({ count, resetAt: items[i]!.endsAt })) };
    } catch {
      const closed = items.find((i) => this.onError[this.isBudget(i.key) ? "budgets" : "limits"] === "fail_closed");
      if (closed !== undefined) throw storeUnavailable(this.isBudget(closed.key) ? "budgets" : "rate limits");
      // Let through, as if this request were the window's first: the headers show its own use.
      return { refused: -1, windows: items.map((i) => ({ count: i.amount, resetAt: i.endsAt })) };
    }
  }

  async adjust(items: readonly AdjustItem[], _now: number): Promise<void> {
    if (items.length === 0) return;
    try {
      await ADJUST.run(this.redis, items.map((i) => this.windowKey(i)), items.map((i) => String(Math.round(i.delta))));
    } catch {
      // Already logged as an outage; the reservation stays counted (the safe side) or is gone with Redis.
    }
  }

  private windowKey(item: { key: string; endsAt: number }): string {
    return `${this.prefix}${item.key}:${item.endsAt}`;
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
