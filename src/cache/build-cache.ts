import type { Config } from "../config.ts";
import { MemoryStore } from "./memory-store.ts";
import { ResponseCache, type CachePolicy } from "./response-cache.ts";
import type { CacheStore } from "./store.ts";

type CacheConfig = Pick<Config, "cacheTtlMs" | "cacheMaxEntries" | "cacheMaxBytes" | "models">;

/** Each public model's own TTL, and the global one for every other name. */
export function cachePolicy(config: CacheConfig): CachePolicy {
  const models = new Map<string, number>();
  for (const [name, route] of Object.entries(config.models)) if (route.cacheTtlMs !== undefined) models.set(name, route.cacheTtlMs);
  return { ttlMs: config.cacheTtlMs, models };
}

/**
 * The response cache for `config`; undefined when no model has it on (then the gateway has none
 * and no request pays anything for it). On a reload `running` is the cache in use: its store, and
 * the answers in it, carry over while the store's bounds stay the same; TTLs take effect at once.
 * `shared`: the Redis store (CHATGATE_REDIS_URL), used instead of memory.
 */
export function buildCache(config: CacheConfig, running: ResponseCache | undefined, now: () => number, shared?: CacheStore): ResponseCache | undefined {
  const policy = cachePolicy(config);
  if (!ResponseCache.enabled(policy)) return undefined;
  // Shared by every instance (Redis): one store for the process's life, whatever the memory bounds.
  if (shared !== undefined) return new ResponseCache(shared, policy);
  const old = running?.store;
  const same = old instanceof MemoryStore && old.maxEntries === config.cacheMaxEntries && old.maxBytes === config.cacheMaxBytes;
  const store = same ? old : new MemoryStore({ maxEntries: config.cacheMaxEntries, maxBytes: config.cacheMaxBytes, now });
  return new ResponseCache(store, policy);
}
