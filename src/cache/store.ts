/**
 * Where the response cache keeps its answers: a key (the request's digest) to a text, each with its
 * own time to live. The in-memory store (MemoryStore) and, later, a Redis store implement it, so
 * the cache does not care where answers live. Async because a network store is; the memory store
 * answers at once.
 */
export interface CacheStore {
  /** The text stored under `key`; undefined when there is none, it expired, or it was evicted. */
  get(key: string): Promise<string | undefined>;
  /**
   * Stores `value` under `key` for `ttlMs`, replacing what was there. A store may decline a value
   * larger than it keeps (`maxValueBytes`): an answer the cache cannot hold is simply not cached.
   */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** The largest value, in UTF-8 bytes, this store keeps: a stream's answer is not collected past it. */
  readonly maxValueBytes: number;
}
