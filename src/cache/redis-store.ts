import type { RedisConnection } from "../state/redis-connection.ts";
import type { CacheStore } from "./store.ts";

export interface RedisStoreOptions {
  redis: RedisConnection;
  /** The largest answer kept, in UTF-8 bytes (the memory store's rule: a quarter of cache.max_bytes). */
  maxValueBytes: number;
  /** Prefix of the cache's keys (default `chatgate:cache:`). */
  prefix?: string;
}

/**
 * The response cache in Redis, shared by every instance: an answer stored by one is a hit on all.
 * Each answer is one key with its TTL (SET … PX); Redis's own eviction policy (`maxmemory-policy`)
 * bounds it, not chatgate. While Redis does not answer, a lookup is a miss and a store is skipped:
 * the cache only ever saves work, so an outage costs upstream calls, never a failed request.
 */
export class RedisStore implements CacheStore {
  readonly maxValueBytes: number;
  private readonly redis: RedisConnection;
  private readonly prefix: string;

  constructor(options: RedisStoreOptions) {
    this.redis = options.redis;
    this.maxValueBytes = options.maxValueBytes;
    this.prefix = options.prefix ?? "chatgate:cache:";
  }

  async get(key: string): Promise<string | undefined> {
    try {
      const value = await this.redis.send("GET", [this.prefix + key]);
      return typeof value === "string" ? value : undefined;
    } catch {
      return undefined;
    }
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    if (ttlMs <= 0 || Buffer.byteLength(value) > this.maxValueBytes) return;
    try {
      await this.redis.send("SET", [this.prefix + key, value, "PX", String(Math.ceil(ttlMs))]);
    } catch {
      // Not cached this time; the outage is logged once by the connection.
    }
  }
}
