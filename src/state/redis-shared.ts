import type { Config } from "../config.ts";
import { RedisStore } from "../cache/redis-store.ts";
import { RedisConnection } from "./redis-connection.ts";
import { RedisCounters } from "./redis-counters.ts";

/** What many instances share through one Redis: the counters of every limit and budget, and the cache's answers. */
export interface RedisShared {
  connection: RedisConnection;
  counters: RedisCounters;
  /** The response cache's store, keeping answers up to `maxValueBytes` (a quarter of cache.max_bytes, as in memory). */
  cacheStore: RedisStore;
}

/**
 * Opens the connection for `config.redisUrl` (once per process: a reload keeps it) and the stores
 * over it. Spend counters are the ones named `usd:` (src/keys/client-key.ts spendCounter): budgets,
 * under their own on_error policy; every other counter is a limit.
 */
export function redisShared(config: Pick<Config, "redisUrl" | "redisTimeoutMs" | "redisLimitsOnError" | "redisBudgetsOnError" | "cacheMaxBytes">, warn?: (line: string) => void): RedisShared {
  const connection = new RedisConnection({ url: config.redisUrl!, timeoutMs: config.redisTimeoutMs, warn });
  const counters = new RedisCounters({
    redis: connection,
    onError: { limits: config.redisLimitsOnError, budgets: config.redisBudgetsOnError },
    isBudget: (key) => key.startsWith("usd:"),
  });
  const cacheStore = new RedisStore({ redis: connection, maxValueBytes: Math.max(1, Math.floor(config.cacheMaxBytes / 4)) });
  return { connection, counters, cacheStore };
}
