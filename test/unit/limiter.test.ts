// Limiter arithmetic with an injected clock, the bounded in-memory counters under it, the client
// address a budget is counted under, and the failed-key counter.
import { describe, expect, test } from "bun:test";
import { clientAddress } from "../../src/auth/client-address.ts";
import { AuthFailures } from "../../src/auth/failures.ts";
import { MemoryCounters, OVERFLOW_KEY } from "../../src/state/counters.ts";
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
    const limiter = new Limiter(new MemoryCounters({ limit: 3 }), 3, 60_000, c.now);
    const decisions = [0, 1, 2, 3, 4].map(() => limiter.hit("k"));
    expect(decisions.map((d) => [d.allowed, d.remaining])).toEqual([[true, 2], [true, 1], [true, 0], [false, 0], [false, 0]]);
    expect(decisions.every((d) => d.limit === 3)).toBe(true);
  });

  test("the window starts at the client's first request and its reset time counts down with the clock", () => {
    const c = clock();
    const limiter = new Limiter(new MemoryCounters({ limit: 3 }), 3, 60_000, c.now);
    expect(limiter.hit("k").resetMs).toBe(60_000);
    c.advance(15_000);
    expect(limiter.hit("k").resetMs).toBe(45_000);
    c.advance(44_999);
    expect(limiter.hit("k").resetMs).toBe(1);
  });

  test("the count starts over exactly when the window ends, not a millisecond before", () => {
    const c = clock();
    const limiter = new Limiter(new MemoryCounters({ limit: 2 }), 2, 1_000, c.now);
    limiter.hit("k");
    limiter.hit("k");
    c.advance(999);
    expect(limiter.hit("k")).toMatchObject({ allowed: false, resetMs: 1 });
    c.advance(1);
    expect(limiter.hit("k")).toEqual({ allowed: true, limit: 2, remaining: 1, resetMs: 1_000 });
  });

  test("a window that ends while the client is idle is a fresh window on its next request", () => {
    const c = clock();
    const limiter = new Limiter(new MemoryCounters({ limit: 2 }), 2, 1_000, c.now);
    for (let i = 0; i < 5; i++) limiter.hit("k");
    c.advance(3_600_000);
    expect(limiter.hit("k")).toEqual({ allowed: true, limit: 2, remaining: 1, resetMs: 1_000 });
  });

  test("clients have separate budgets", () => {
    const c = clock();
    const limiter = new Limiter(new MemoryCounters({ limit: 1 }), 1, 1_000, c.now);
    expect(limiter.hit("key:0").allowed).toBe(true);
    expect(limiter.hit("key:0").allowed).toBe(false);
    expect(limiter.hit("key:1").allowed).toBe(true);
    expect(limiter.hit("ip:127.0.0.1").allowed).toBe(true);
  });

  test("the limiter reads the injected clock, not the wall clock", () => {
    const c = clock(0);
    const limiter = new Limiter(new MemoryCounters({ limit: 1 }), 1, 10_000, c.now);
    expect(limiter.hit("k").resetMs).toBe(10_000);
    c.advance(10_000);
    expect(limiter.hit("k").allowed).toBe(true);
  });
});

describe("MemoryCounters", () => {
  test("stays bounded when 10,000 distinct clients arrive within one window", () => {
    const counters = new MemoryCounters({ limit: 1_000, maxKeys: 1_000 });
    for (let i = 0; i < 10_000; i++) {
      counters.incr(`ip:10.0.${i >> 8}.${i & 255}`, 60_000, 1_000 + i);
      expect(counters.size).toBeLessThanOrEqual(1_000);
    }
  });

  test("keeps counting correctly for recent clients after a flood of distinct ones", () => {
    const counters = new MemoryCounters({ limit: 1_000, maxKeys: 1_000 });
    for (let i = 0; i < 10_000; i++) counters.incr(`flood:${i}`, 60_000, 1_000);
    for (let n = 1; n <= 5; n++) expect(counters.incr("flood:9999", 60_000, 1_001).count).toBe(n + 1);
    expect(counters.incr("newcomer", 60_000, 1_001)).toEqual({ count: 1, resetAt: 61_001 });
    expect(counters.incr("newcomer", 60_000, 1_002)).toEqual({ count: 2, resetAt: 61_001 });
  });

  test("sweeps ended windows before dropping any open one", () => {
    const counters = new MemoryCounters({ limit: 1_000, maxKeys: 10 });
    for (let i = 0; i < 5; i++) counters.incr(`old:${i}`, 100, 0);
    for (let i = 0; i < 5; i++) counters.incr(`live:${i}`, 10_000, 50);
    counters.incr("new", 10_000, 200);
    expect(counters.size).toBe(6);
    for (let i = 0; i < 5; i++) expect(counters.incr(`live:${i}`, 10_000, 201).count).toBe(2);
  });

  test("a window past its reset time starts over at one with a new reset time", () => {
    const counters = new MemoryCounters({ limit: 1_000 });
    counters.incr("k", 1_000, 0);
    counters.incr("k", 1_000, 500);
    expect(counters.incr("k", 1_000, 1_000)).toEqual({ count: 1, resetAt: 2_000 });
  });
});

describe("MemoryCounters eviction never resets a limited client", () => {
  test("a client over its limit stays limited through a flood of 10,000 distinct clients (eviction used to drop the oldest window)", () => {
    const c = clock();
    const limiter = new Limiter(new MemoryCounters({ limit: 3, maxKeys: 1_000 }), 3, 60_000, c.now);
    for (let i = 0; i < 4; i++) limiter.hit("ip:203.0.113.66");
    expect(limiter.hit("ip:203.0.113.66").allowed).toBe(false);
    for (let i = 0; i < 10_000; i++) {
      c.advance(1);
      limiter.hit(`ip:10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
    }
    expect(limiter.hit("ip:203.0.113.66")).toMatchObject({ allowed: false, remaining: 0 });
  });

  test("ended windows go first, then open ones below the limit, oldest first; windows at the limit stay", () => {
    const counters = new MemoryCounters({ limit: 2, maxKeys: 20 });
    // The limited windows are the oldest: age alone must not evict them.
    for (let i = 0; i < 10; i++) for (let n = 0; n < 2; n++) counters.incr(`limited:${i}`, 10_000, 0);
    counters.incr("ended", 100, 10);
    for (let i = 0; i < 9; i++) counters.incr(`below:${i}`, 10_000, 20 + i);
    expect(counters.size).toBe(20);
    counters.incr("new", 10_000, 200);
    // Down to 90% (18): the ended window, then the oldest window below the limit.
    expect(counters.peek("ended", 200)).toBeUndefined();
    expect(counters.peek("below:0", 200)).toBeUndefined();
    for (let i = 1; i < 9; i++) expect(counters.peek(`below:${i}`, 200)?.count).toBe(1);
    for (let i = 0; i < 10; i++) expect(counters.peek(`limited:${i}`, 200)?.count).toBe(2);
    expect(counters.peek("new", 200)?.count).toBe(1);
    expect(counters.size).toBe(19);
  });

  test("when every window is at the limit, new clients share one overflow window with the same limit", () => {
    const counters = new MemoryCounters({ limit: 2, maxKeys: 100 });
    for (let i = 0; i < 100; i++) for (let n = 0; n < 2; n++) counters.incr(`limited:${i}`, 60_000, 0);
    expect(counters.incr("newcomer:1", 60_000, 10)).toMatchObject({ count: 1 });
    expect(counters.incr("newcomer:2", 60_000, 11)).toMatchObject({ count: 2 });
    expect(counters.incr("newcomer:3", 60_000, 12)).toMatchObject({ count: 3 });
    expect(counters.peek("newcomer:1", 12)?.count).toBe(3);
    expect(counters.peek(OVERFLOW_KEY, 12)?.count).toBe(3);
    expect(counters.size).toBe(101);
    for (let i = 0; i < 100; i++) expect(counters.peek(`limited:${i}`, 12)?.count).toBe(2);
    // Once their windows end, newcomers get windows of their own again.
    expect(counters.incr("newcomer:4", 60_000, 60_000)).toEqual({ count: 1, resetAt: 120_000 });
    expect(counters.peek("newcomer:4", 60_001)?.count).toBe(1);
  });

  test("a flood against a table full of limited clients costs no full pass per request", () => {
    const counters = new MemoryCounters({ limit: 1, maxKeys: 50_000 });
    for (let i = 0; i < 50_000; i++) counters.incr(`limited:${i}`, 60_000, 0);
    const started = performance.now();
    for (let i = 0; i < 50_000; i++) counters.incr(`flood:${i}`, 60_000, 1 + (i >> 10));
    // 50,000 full passes over 50,000 windows would take minutes; a pass at most every second of the clock, milliseconds.
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(counters.size).toBe(50_001);
  });
});

describe("clientAddress", () => {
  const PEER = "127.0.0.9";
  const cases: Array<[string | null, string]> = [
    [null, PEER],
    ["198.51.100.7", "198.51.100.7"],
    ["203.0.113.1, 198.51.100.7", "198.51.100.7"],
    ["203.0.113.1,198.51.100.7 ", "198.51.100.7"],
    ["198.51.100.7,\t2001:db8::1", "2001:db8::1"],
    ["::ffff:198.51.100.7", "::ffff:198.51.100.7"],
    ["", PEER],
    [" , ", PEER],
    ["198.51.100.7,", PEER],
    ["unknown", PEER],
    ["198.51.100.7:4711", PEER],
    ["[2001:db8::1]", PEER],
    ["198.51.100.7, not-an-ip", PEER],
    ["198.51.100.300", PEER],
    [`198.51.100.7, ${"x".repeat(8_000)}`, PEER],
    [`fe80::1%${"z".repeat(100)}`, PEER],
  ];
  for (const [forwarded, expected] of cases) {
    test(`X-Forwarded-For ${JSON.stringify(forwarded?.slice(0, 40) ?? null)} counts as ${expected === PEER ? "the TCP peer" : expected}`, () => {
      expect(clientAddress(forwarded, PEER)).toBe(expected);
    });
  }

  test("100,000 distinct 8 KB X-Forwarded-For values through the real limiter keep its table and the heap bounded", () => {
    const c = clock();
    const counters = new MemoryCounters({ limit: 60 });
    const limiter = new Limiter(counters, 60, 60_000, c.now);
    const junk = "j".repeat(8 * 1024);
    Bun.gc(true);
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 100_000; i++) {
      // Half end in an address of their own (a client each), half in junk (the peer's one budget).
      const value = i % 2 === 0 ? `${junk}${i}, 10.${i >> 16}.${(i >> 8) & 255}.${i & 255}` : `10.0.0.1, ${junk}${i}`;
      limiter.hit(`ip:${clientAddress(value, PEER)}`);
    }
    Bun.gc(true);
    const grown = process.memoryUsage().heapUsed - before;
    expect(counters.size).toBe(50_001);
    expect(limiter.hit(`ip:${PEER}`).allowed).toBe(false);
    // Kept as keys, the values would weigh 800 MB; 50,001 short keys and their windows are a few MB.
    expect(grown).toBeLessThan(32 * 1024 * 1024);
  });
});

describe("AuthFailures", () => {
  test("an address is blocked once it has failed `limit` times in a minute, until that minute ends", () => {
    const c = clock();
    const failures = new AuthFailures(new MemoryCounters({ limit: 3 }), 3, c.now);
    expect(failures.anyBlocked()).toBe(false);
    failures.fail("198.51.100.1");
    failures.fail("198.51.100.1");
    expect([failures.anyBlocked(), failures.blockedFor("198.51.100.1")]).toEqual([false, 0]);
    c.advance(10_000);
    failures.fail("198.51.100.1");
    expect(failures.anyBlocked()).toBe(true);
    expect(failures.blockedFor("198.51.100.1")).toBe(50_000);
    expect(failures.blockedFor("198.51.100.2")).toBe(0);
    c.advance(50_000);
    expect(failures.anyBlocked()).toBe(false);
    expect(failures.blockedFor("198.51.100.1")).toBe(0);
  });
});
