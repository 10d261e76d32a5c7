// Limiter arithmetic with an injected clock, and the bounded in-memory counters under it.
import { describe, expect, test } from "bun:test";
import { MemoryCounters } from "../../src/state/counters.ts";
import { Limiter, decide } from "../../src/state/limiter.ts";

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe("decide", () => {
  test("a count under the limit is allowed with the rest of the budget remaining", () => {
    expect(decide({ count: 1, resetAt: 61_000 }, 3, 1_000)).toEqual({ allowed: true, limit: 3, remaining: 2, resetMs: 60_000 });
  });

  test("the request that uses the last of the budget is allowed with nothing remaining", () => {
    expect(decide({ count: 3, resetAt: 5_000 }, 3, 4_000)).toEqual({ allowed: true, limit: 3, remaining: 0, resetMs: 1_000 });
  });

  test("a count over the limit is refused and remaining never goes negative", () => {
    expect(decide({ count: 4, resetAt: 5_000 }, 3, 4_500)).toEqual({ allowed: false, limit: 3, remaining: 0, resetMs: 500 });
    expect(decide({ count: 400, resetAt: 5_000 }, 3, 4_500).remaining).toBe(0);
  });

  test("a window that has already ended reports zero milliseconds to reset, never a negative wait", () => {
    expect(decide({ count: 1, resetAt: 5_000 }, 3, 9_000).resetMs).toBe(0);
  });
});

describe("Limiter over MemoryCounters", () => {
  test("a fixed window: max requests allowed, the next refused, remaining counting down", () => {
    const c = clock();
    const limiter = new Limiter(new MemoryCounters(), 3, 60_000, c.now);
    const decisions = [0, 1, 2, 3, 4].map(() => limiter.hit("k"));
    expect(decisions.map((d) => [d.allowed, d.remaining])).toEqual([[true, 2], [true, 1], [true, 0], [false, 0], [false, 0]]);
    expect(decisions.every((d) => d.limit === 3)).toBe(true);
  });

  test("the window starts at the client's first request and its reset time counts down with the clock", () => {
    const c = clock();
    const limiter = new Limiter(new MemoryCounters(), 3, 60_000, c.now);
    expect(limiter.hit("k").resetMs).toBe(60_000);
    c.advance(15_000);
    expect(limiter.hit("k").resetMs).toBe(45_000);
    c.advance(44_999);
    expect(limiter.hit("k").resetMs).toBe(1);
  });

  test("the count starts over exactly when the window ends, not a millisecond before", () => {
    const c = clock();
    const limiter = new Limiter(new MemoryCounters(), 2, 1_000, c.now);
    limiter.hit("k");
    limiter.hit("k");
    c.advance(999);
    expect(limiter.hit("k")).toMatchObject({ allowed: false, resetMs: 1 });
    c.advance(1);
    expect(limiter.hit("k")).toEqual({ allowed: true, limit: 2, remaining: 1, resetMs: 1_000 });
  });

  test("a window that ends while the client is idle is a fresh window on its next request", () => {
    const c = clock();
    const limiter = new Limiter(new MemoryCounters(), 2, 1_000, c.now);
    for (let i = 0; i < 5; i++) limiter.hit("k");
    c.advance(3_600_000);
    expect(limiter.hit("k")).toEqual({ allowed: true, limit: 2, remaining: 1, resetMs: 1_000 });
  });

  test("clients have separate budgets", () => {
    const c = clock();
    const limiter = new Limiter(new MemoryCounters(), 1, 1_000, c.now);
    expect(limiter.hit("key:0").allowed).toBe(true);
    expect(limiter.hit("key:0").allowed).toBe(false);
    expect(limiter.hit("key:1").allowed).toBe(true);
    expect(limiter.hit("ip:127.0.0.1").allowed).toBe(true);
  });

  test("the limiter reads the injected clock, not the wall clock", () => {
    const c = clock(0);
    const limiter = new Limiter(new MemoryCounters(), 1, 10_000, c.now);
    expect(limiter.hit("k").resetMs).toBe(10_000);
    c.advance(10_000);
    expect(limiter.hit("k").allowed).toBe(true);
  });
});

describe("MemoryCounters", () => {
  test("stays bounded when 10,000 distinct clients arrive within one window", () => {
    const counters = new MemoryCounters(1_000);
    for (let i = 0; i < 10_000; i++) {
      counters.incr(`ip:10.0.${i >> 8}.${i & 255}`, 60_000, 1_000 + i);
      expect(counters.size).toBeLessThanOrEqual(1_000);
    }
  });

  test("keeps counting correctly for recent clients after a flood of distinct ones", () => {
    const counters = new MemoryCounters(1_000);
    for (let i = 0; i < 10_000; i++) counters.incr(`flood:${i}`, 60_000, 1_000);
    for (let n = 1; n <= 5; n++) expect(counters.incr("flood:9999", 60_000, 1_001).count).toBe(n + 1);
    expect(counters.incr("newcomer", 60_000, 1_001)).toEqual({ count: 1, resetAt: 61_001 });
    expect(counters.incr("newcomer", 60_000, 1_002)).toEqual({ count: 2, resetAt: 61_001 });
  });

  test("sweeps ended windows before dropping any open one", () => {
    const counters = new MemoryCounters(10);
    for (let i = 0; i < 5; i++) counters.incr(`old:${i}`, 100, 0);
    for (let i = 0; i < 5; i++) counters.incr(`live:${i}`, 10_000, 50);
    counters.incr("new", 10_000, 200);
    expect(counters.size).toBe(6);
    for (let i = 0; i < 5; i++) expect(counters.incr(`live:${i}`, 10_000, 201).count).toBe(2);
  });

  test("a window past its reset time starts over at one with a new reset time", () => {
    const counters = new MemoryCounters();
    counters.incr("k", 1_000, 0);
    counters.incr("k", 1_000, 500);
    expect(counters.incr("k", 1_000, 1_000)).toEqual({ count: 1, resetAt: 2_000 });
  });
});
