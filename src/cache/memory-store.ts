import type { CacheStore } from "./store.ts";

/** Default bound on answers kept in memory. */
export const DEFAULT_MAX_ENTRIES = 1_000;
/** Default bound on the bytes of the answers kept in memory: 64 MiB. */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

export interface MemoryStoreOptions {
  /** Most answers kept (default 1,000). */
  maxEntries?: number;
  /** Most bytes kept: each answer's UTF-8 size plus its key's (default 64 MiB). */
  maxBytes?: number;
  /** The clock that expires answers (tests inject theirs). */
  now?: () => number;
}

interface Entry {
  value: string;
  bytes: number;
  expiresAt: number;
}

/**
 * The response cache in this process's memory: least recently used answers go first once either
 * bound is reached, and an answer past its time to live is dropped when it is next asked for (an
 * expired answer waiting to be read still counts against the bounds, which hold regardless). A Map
 * keeps the order: a read moves its entry to the end, so the first entry is always the one to evict.
 */
export class MemoryStore implements CacheStore {
  readonly maxEntries: number;
  readonly maxBytes: number;
  /** A quarter of the byte bound: one long answer never empties the cache of everything else. */
  readonly maxValueBytes: number;
  private readonly entries = new Map<string, Entry>();
  private used = 0;
  private readonly now: () => number;

  constructor(options: MemoryStoreOptions = {}) {
    this.maxEntries = Math.max(1, options.maxEntries ?? DEFAULT_MAX_ENTRIES);
    this.maxBytes = Math.max(1, options.maxBytes ?? DEFAULT_MAX_BYTES);
    this.maxValueBytes = Math.max(1, Math.floor(this.maxBytes / 4));
    this.now = options.now ?? Date.now;
  }

  /** Answers held now, expired ones not yet read included. */
  get size(): number {
    return this.entries.size;
  }

  /** Bytes held now, as counted against `maxBytes`. */
  get bytes(): number {
    return this.used;
  }

  get(key: string): Promise<string | undefined> {
    const entry = this.entries.get(key);
    if (entry === undefined) return Promise.resolve(undefined);
    if (entry.expiresAt <= this.now()) {
      this.remove(key, entry);
      return Promise.resolve(undefined);
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    return Promise.resolve(entry.value);
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    const bytes = Buffer.byteLength(value) + key.length;
    const old = this.entries.get(key);
    if (old !== undefined) this.remove(key, old);
    if (ttlMs <= 0 || bytes - key.length > this.maxValueBytes || bytes > this.maxBytes) return Promise.resolve();
    while (this.entries.size >= this.maxEntries || this.used + bytes > this.maxBytes) {
      const [oldestKey, oldest] = this.entries.entries().next().value!;
      this.remove(oldestKey, oldest);
    }
    this.entries.set(key, { value, bytes, expiresAt: this.now() + ttlMs });
    this.used += bytes;
    return Promise.resolve();
  }

  private remove(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.used -= entry.bytes;
  }
}
