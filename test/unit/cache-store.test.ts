// The in-memory store of the response cache: least recently used first out, bounded by entries
// and by bytes, answers expiring on an injected clock.
import { describe, expect, test } from "bun:test";
import { DEFAULT_MAX_BYTES, DEFAULT_MAX_ENTRIES, MemoryStore } from "../../src/cache/memory-store.ts";

function clock(start = 1_000_000) {
  let time = start;
  return { now: () => time, advance: (ms: number) => void (time += ms) };
}

describe("MemoryStore", () => {
  test("defaults: 1,000 entries and 64 MiB; one value may take a quarter of the bytes", () => {
    const store = new MemoryStore();
    expect([store.maxEntries, store.maxBytes, store.maxValueBytes]).toEqual([DEFAULT_MAX_ENTRIES, DEFAULT_MAX_BYTES, DEFAULT_MAX_BYTES / 4]);
    expect([DEFAULT_MAX_ENTRIES, DEFAULT_MAX_BYTES]).toEqual([1_000, 64 * 1024 * 1024]);
  });

  test("a value is there until its TTL has passed, then gone (and its bytes freed)", async () => {
    const t = clock();
    const store = new MemoryStore({ now: t.now });
    await store.set("k", "value", 1_000);
    t.advance(999);
    expect(await store.get("k")).toBe("value");
    t.advance(1);
    expect(await store.get("k")).toBeUndefined();
    expect([store.size, store.bytes]).toEqual([0, 0]);
  });

  test("a TTL of 0 stores nothing; a second set replaces the first and restarts its TTL", async () => {
    const t = clock();
    const store = new MemoryStore({ now: t.now });
    await store.set("k", "v", 0);
    expect(store.size).toBe(0);
    await store.set("k", "one", 100);
    t.advance(50);
    await store.set("k", "two", 100);
    t.advance(99);
    expect(await store.get("k")).toBe("two");
    expect(store.bytes).toBe(4);
  });

  test("over max_entries, the least recently used goes: a read counts as a use", async () => {
    const store = new MemoryStore({ maxEntries: 3 });
    for (const key of ["a", "b", "c"]) await store.set(key, key, 1_000);
    await store.get("a");
    await store.set("d", "d", 1_000);
    expect(await store.get("b")).toBeUndefined();
    for (const key of ["a", "c", "d"]) expect(await store.get(key)).toBe(key);
    expect(store.size).toBe(3);
  });

  test("over max_bytes, least recently used go until the new one fits; bytes count UTF-8 and the key", async () => {
    const store = new MemoryStore({ maxBytes: 40 });
    expect(store.maxValueBytes).toBe(10);
    await store.set("a", "é".repeat(5), 1_000); // 10 bytes + 1
    await store.set("b", "x".repeat(10), 1_000);
    await store.set("c", "x".repeat(10), 1_000);
    expect(store.bytes).toBe(33);
    await store.get("a");
    await store.set("d", "x".repeat(10), 1_000);
    expect(await store.get("b")).toBeUndefined();
    expect(store.bytes).toBe(33);
    for (const key of ["a", "c", "d"]) expect(await store.get(key)).toBeDefined();
  });

  test("a value larger than max_value_bytes is declined, and evicts nothing", async () => {
    const store = new MemoryStore({ maxBytes: 40 });
    await store.set("a", "small", 1_000);
    await store.set("b", "x".repeat(11), 1_000);
    expect(await store.get("b")).toBeUndefined();
    expect(await store.get("a")).toBe("small");
  });

  test("a replaced value that no longer fits leaves no stale copy behind", async () => {
    const store = new MemoryStore({ maxBytes: 40 });
    await store.set("a", "small", 1_000);
    await store.set("a", "x".repeat(11), 1_000);
    expect(await store.get("a")).toBeUndefined();
    expect(store.bytes).toBe(0);
  });

  test("10,000 sets on a 100-entry store stay within both bounds", async () => {
    const store = new MemoryStore({ maxEntries: 100, maxBytes: 4_096 });
    for (let i = 0; i < 10_000; i++) await store.set(`key-${i}`, "v".repeat(i % 50), 60_000);
    expect(store.size).toBeLessThanOrEqual(100);
    expect(store.bytes).toBeLessThanOrEqual(4_096);
  });
});
