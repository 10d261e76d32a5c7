// RedisCounters against a real redis-server: check-and-reserve is one script, so many connections
// racing on one limit admit exactly the limit; settlements, windows and the outage policies.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RedisStore } from "../src/cache/redis-store.ts";
import { GatewayError } from "../src/errors.ts";
import { RELEASES } from "../src/state/counter-scripts.ts";
import { RedisConnection } from "../src/state/redis-connection.ts";
import { RedisCounters, type RedisOnError } from "../src/state/redis-counters.ts";
import { redisAvailable, startRedis, type TestRedis } from "./support/redis.ts";

const run = redisAvailable();
let redis: TestRedis;
const connections: RedisConnection[] = [];
beforeAll(async () => {
  if (run) redis = await startRedis();
});
afterAll(async () => {
  for (const c of connections) c.close();
  await redis?.[Symbol.asyncDispose]();
});

const DEFAULT_POLICY: RedisOnError = { limits: "fail_open", budgets: "fail_closed" };

/** A store on a connection of its own, as another chatgate instance would have. */
function store(options: { timeoutMs?: number; onError?: RedisOnError; warn?: (line: string) => void; prefix?: string } = {}) {
  const connection = new RedisConnection({ url: redis.url, timeoutMs: options.timeoutMs ?? 2_000, warn: options.warn ?? (() => {}), reconnectMs: 20 });
  connections.push(connection);
  const counters = new RedisCounters({ redis: connection, onError: options.onError ?? DEFAULT_POLICY, isBudget: (k) => k.startsWith("usd:"), prefix: options.prefix ?? `t${connections.length}:` });
  return { connection, counters };
}

/** Whether `check` comes true within `ms` (polled every 20 ms). */
async function until(check: () => Promise<boolean>, ms = 2_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await Bun.sleep(20)) if (await check()) return true;
  return false;
}

/** EVALSHA and EVAL calls redis-server has run so far (INFO commandstats). */
async function scriptCalls(): Promise<number> {
  const info = String(await redis.cli("INFO", "commandstats"));
  let calls = 0;
  for (const m of info.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)) calls += Number(m[1]);
  return calls;
}

describe.skipIf(!run)("RedisCounters", () => {
  test("1,000 concurrent reserves against limit 100 from 3 connections admit exactly 100", async () => {
    const prefix = "exact:";
    const stores = [store({ prefix }), store({ prefix }), store({ prefix })];
    const now = Date.now();
    const endsAt = now + 60_000;
    const results = await Promise.all(
      Array.from({ length: 1_000 }, (_, i) => stores[i % 3]!.counters.reserve([{ key: "rpm:team-a:100", amount: 1, limit: 100, endsAt }], now)),
    );
    expect(results.filter((r) => r.refused === -1).length).toBe(100);
    expect(Math.max(...results.map((r) => r.windows[0]!.count))).toBe(100);
    expect(await redis.cli("GET", `exact:rpm:team-a:100:${endsAt}`)).toBe("100");
  });

  test("a reservation of several items adds to all of them or to none", async () => {
    const { counters } = store();
    const now = Date.now();
    const endsAt = now + 60_000;
    const tokens = { key: "tpm:k:1000", amount: 600, limit: 1_000, endsAt };
    const spend = { key: "usd:k:day", amount: 5, limit: 10, endsAt };
    expect((await counters.reserve([tokens, spend], now)).refused).toBe(-1);
    const second = await counters.reserve([tokens, spend], now);
    expect(second.refused).toBe(0);
    // Nothing was added by the refused one: the spend window still holds only the first.
    expect(second.windows[1]!.count).toBe(5);
    expect((await counters.reserve([{ ...tokens, amount: 400 }, spend], now)).windows.map((w) => w.count)).toEqual([1_000, 10]);
  });

  test("adjust settles within the window, never below 0, and leaves an ended window alone", async () => {
    const { counters } = store();
    const now = Date.now();
    const endsAt = now + 60_000;
    const big = 5_000_000_000_000; // nano-dollars: past Lua's %.14g
    await counters.reserve([{ key: "usd:big:day", amount: big, limit: Number.POSITIVE_INFINITY, endsAt }], now);
    await counters.adjust([{ key: "usd:big:day", delta: 123_456_789_012, endsAt }], now);
    const after = await counters.reserve([{ key: "usd:big:day", amount: 0, limit: Number.POSITIVE_INFINITY, endsAt }], now);
    expect(after.windows[0]!.count).toBe(big + 123_456_789_012);
    await counters.adjust([{ key: "usd:big:day", delta: -10 * big, endsAt }], now);
    expect((await counters.reserve([{ key: "usd:big:day", amount: 0, limit: 1, endsAt }], now)).windows[0]!.count).toBe(0);
    // A window that has ended is gone: adjusting it creates nothing.
    const ended = now - 1;
    await counters.adjust([{ key: "tpm:gone:1", delta: 50, endsAt: ended }], now);
    expect((await counters.reserve([{ key: "tpm:gone:1", amount: 1, limit: 10, endsAt: now + 1_000 }], now)).windows[0]!.count).toBe(1);
  });

  test("the reservations and hits of one event-loop turn go as one script each, run in the order they were made", async () => {
    const { counters } = store({ prefix: "turn:" });
    const now = Date.now();
    const endsAt = now + 60_000;
    // Redis has both scripts cached (a first run of each sends its source after a NOSCRIPT).
    await Promise.all([counters.reserve([{ key: "warm", amount: 0, limit: 1, endsAt }], now), counters.incr("warm", 1_000, now)]);
    const before = await scriptCalls();
    const rpm = { key: "rpm:turn:2", amount: 1, limit: 2, endsAt };
    const spend = { key: "usd:turn:day", amount: 10, limit: 1_000, endsAt };
    const reserved = await Promise.all(Array.from({ length: 5 }, () => counters.reserve([spend, rpm], now)));
    // Each reservation is still all or nothing: the third and later add to neither window.
    expect(reserved.map((r) => r.refused)).toEqual([-1, -1, 1, 1, 1]);
    expect(reserved.map((r) => r.windows.map((w) => w.count))).toEqual([[10, 1], [20, 2], [20, 2], [20, 2], [20, 2]]);
    const hits = await Promise.all([counters.incr("ip:a", 60_000, now), counters.incr("ip:b", 60_000, now), counters.incr("ip:a", 60_000, now)]);
    expect(hits.map((h) => h.count)).toEqual([1, 1, 2]);
    expect(await scriptCalls()).toBe(before + 2);
  });

  test("settlements made together go to Redis as one script, summed per window; flush sends the waiting ones at once", async () => {
    const { counters } = store({ prefix: "batched:" });
    const now = Date.now();
    const endsAt = now + 60_000;
    const tokens = { key: "tpm:batch:1000000", endsAt };
    const spend = { key: "usd:batch:day", endsAt };
    await counters.reserve([{ ...tokens, amount: 50_000, limit: 1_000_000 }, { ...spend, amount: 9_000, limit: 1_000_000 }], now);
    const scriptsBefore = await scriptCalls();
    const settled = Array.from({ length: 40 }, (_, i) => counters.adjust([{ ...tokens, delta: -1_000 }, { ...spend, delta: i % 2 === 0 ? -100 : 50 }], now));
    await Promise.all(settled);
    expect(await scriptCalls()).toBe(scriptsBefore + 1);
    const after = await counters.reserve([{ ...tokens, amount: 0, limit: 1_000_000 }, { ...spend, amount: 0, limit: 1_000_000 }], now);
    expect(after.windows.map((w) => w.count)).toEqual([50_000 - 40 * 1_000, 9_000 - 20 * 100 + 20 * 50]);

    // flush() does not wait for the batch's timer: what it sent is in Redis when it resolves.
    void counters.adjust([{ ...tokens, delta: 7 }], now);
    await counters.flush();
    expect(await redis.cli("GET", `batched:tpm:batch:1000000:${endsAt}`)).toBe(String(10_000 + 7));
  });

  test("a budget reservation holds its amount under its own key until it is settled, in the scripts that run anyway", async () => {
    const { counters } = store({ prefix: "hold:" });
    const now = Date.now();
    const endsAt = now + 60_000;
    await Promise.all([counters.reserve([{ key: "warm", amount: 0, limit: 1, endsAt }], now), counters.adjust([{ key: "warm", delta: 1, endsAt }], now)]);
    const before = await scriptCalls();
    const spend = { key: "usd:hold:day", amount: 600, limit: 1_000, endsAt };
    const [held, plain] = await Promise.all([counters.reserve([{ ...spend, hold: "a" }], now), counters.reserve([{ ...spend, amount: 100 }], now)]);
    expect([held.refused, plain.refused]).toEqual([-1, -1]);
    expect(await redis.cli("GET", "hold:res:a")).toBe("600");
    expect(Number(await redis.cli("PTTL", "hold:res:a"))).toBeGreaterThan(3_600_000);
    // Settled to what it reserved: no delta, but the hold key goes.
    await counters.adjust([{ key: spend.key, delta: 0, endsAt, hold: "a" }], now);
    expect(await redis.cli("EXISTS", "hold:res:a")).toBe("0");
    expect(await redis.cli("GET", `hold:usd:hold:day:${endsAt}`)).toBe("700");
    expect(await scriptCalls()).toBe(before + 2);
  });

  test("a budget reservation that timed out while Redis was paused is given back once Redis runs it", async () => {
    const { counters } = store({ timeoutMs: 100, prefix: "stall:" });
    const now = Date.now();
    const endsAt = now + 60_000;
    const spend = { key: "usd:stall:day", amount: 600, limit: 1_000, endsAt };
    const window = `stall:usd:stall:day:${endsAt}`;
    expect((await counters.reserve([{ ...spend, hold: "first" }], now)).refused).toBe(-1);
    await counters.adjust([{ key: spend.key, delta: -400, endsAt, hold: "first" }], now);
    expect(await redis.cli("GET", window)).toBe("200");
    redis.pause();
    let refused: unknown;
    try {
      refused = await counters.reserve([{ ...spend, hold: "stalled" }], now).catch((err: unknown) => err);
    } finally {
      redis.resume();
    }
    expect(refused).toBeInstanceOf(GatewayError);
    expect((refused as GatewayError).status).toBe(503);
    // The reservation ran once Redis went on, and its release after it.
    expect(await until(async () => (await redis.cli("GET", "stall:res:stalled")) === "released")).toBe(true);
    expect(await redis.cli("GET", window)).toBe("200");
    // $2 + $6 fits in $10: admitted (with the stalled $6 still counted, it would not be).
    expect((await counters.reserve([{ ...spend, hold: "later" }], Date.now())).refused).toBe(-1);
    expect(await redis.cli("GET", window)).toBe("800");
  });

  test("a release that runs before its reservation makes the reservation add nothing; one after it subtracts it once", async () => {
    const { connection, counters } = store({ prefix: "order:" });
    const now = Date.now();
    const endsAt = now + 60_000;
    const tokens = { key: "tpm:order:1000", amount: 5, limit: 1_000, endsAt };
    const spend = { key: "usd:order:day", amount: 600, limit: 1_000, endsAt };
    const window = `order:usd:order:day:${endsAt}`;
    const release = (hold: string, used: number) => RELEASES.run(connection, [`order:res:${hold}`, window], ["60000", String(used), String(endsAt)]);
    await counters.reserve([{ ...spend, amount: 100 }], now);

    await release("early", 0);
    expect(await redis.cli("GET", "order:res:early")).toBe("released");
    const skipped = await counters.reserve([tokens, { ...spend, hold: "early" }], now);
    expect(skipped.refused).toBe(1);
    expect(await redis.cli("GET", window)).toBe("100");
    expect(await redis.cli("EXISTS", `order:tpm:order:1000:${endsAt}`)).toBe("0");

    expect((await counters.reserve([tokens, { ...spend, hold: "ran" }], now)).refused).toBe(-1);
    expect(await redis.cli("GET", window)).toBe("700");
    await release("ran", 0);
    await release("ran", 0);
    expect(await redis.cli("GET", window)).toBe("100");
    expect(await redis.cli("GET", "order:res:ran")).toBe("released");
  });

  test("with budgets failing open, a reservation let through unanswered settles to what its request used, whether it ran or not", async () => {
    const { counters } = store({ timeoutMs: 100, prefix: "open:", onError: { limits: "fail_open", budgets: "fail_open" } });
    const now = Date.now();
    const endsAt = now + 60_000;
    const spend = { key: "usd:open:day", amount: 600, limit: 1_000, endsAt };
    const window = `open:usd:open:day:${endsAt}`;
    await counters.reserve([{ ...spend, amount: 100 }], now);
    redis.pause();
    let through;
    try {
      through = await counters.reserve([{ ...spend, hold: "ran" }], now);
    } finally {
      redis.resume();
    }
    expect(through.refused).toBe(-1);
    await counters.adjust([{ key: spend.key, delta: 250 - 600, endsAt, hold: "ran" }], now);
    expect(await until(async () => (await redis.cli("GET", "open:res:ran")) === "released")).toBe(true);
    expect(await redis.cli("GET", window)).toBe("350");

    // One let through while Redis was down (it comes back empty): only what its request used is counted.
    await redis.kill();
    try {
      expect((await counters.reserve([{ ...spend, hold: "lost" }], now)).refused).toBe(-1);
    } finally {
      await redis.restart();
    }
    expect(await until(async () => (await counters.reserve([{ ...spend, amount: 0 }], now).catch(() => undefined)) !== undefined)).toBe(true);
    await counters.adjust([{ key: spend.key, delta: 50 - 600, endsAt, hold: "lost" }], now);
    expect(await until(async () => (await redis.cli("GET", "open:res:lost")) === "released")).toBe(true);
    expect(await redis.cli("GET", window)).toBe("50");
  });

  test("incr counts hits in a window that opens with the first and expires at its end", async () => {
    const { counters } = store();
    const now = Date.now();
    const first = await counters.incr("ip:1.2.3.4", 200, now);
    const second = await counters.incr("ip:1.2.3.4", 200, now);
    expect([first.count, second.count]).toEqual([1, 2]);
    expect(second.resetAt - now).toBeGreaterThan(0);
    expect(second.resetAt - now).toBeLessThanOrEqual(200);
    expect((await counters.peek("ip:1.2.3.4", now))?.count).toBe(2);
    await Bun.sleep(250);
    expect((await counters.incr("ip:1.2.3.4", 200, Date.now())).count).toBe(1);
  });

  test("the cache store keeps answers for their TTL and declines ones over maxValueBytes", async () => {
    const { connection } = store();
    const a = new RedisStore({ redis: connection, maxValueBytes: 10, prefix: "c:" });
    const b = new RedisStore({ redis: store().connection, maxValueBytes: 10, prefix: "c:" });
    await a.set("k", "answer", 150);
    await a.set("big", "x".repeat(11), 60_000);
    expect(await b.get("k")).toBe("answer");
    expect(await b.get("big")).toBeUndefined();
    await Bun.sleep(200);
    expect(await b.get("k")).toBeUndefined();
  });

  test("while Redis is down limits fail open, budgets fail closed, one line per outage, and it reconnects when back", async () => {
    const lines: string[] = [];
    const { connection, counters } = store({ timeoutMs: 100, warn: (line) => lines.push(line) });
    const now = Date.now();
    const endsAt = now + 60_000;
    const limit = { key: "rpm:down:1", amount: 1, limit: 1, endsAt };
    const budget = { key: "usd:down:day", amount: 1, limit: 1, endsAt };
    expect((await counters.reserve([limit], now)).refused).toBe(-1);
    await redis.kill();
    try {
      for (let i = 0; i < 5; i++) expect((await counters.reserve([limit], now)).refused).toBe(-1);
      expect((await counters.incr("ip:down", 1_000, now)).count).toBe(0);
      const refused = await counters.reserve([limit, budget], now).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(GatewayError);
      expect((refused as GatewayError).status).toBe(503);
      expect((refused as GatewayError).message).toContain("budgets");
      await counters.adjust([{ key: limit.key, delta: -1, endsAt }], now);
      expect(connection.up).toBe(false);
      expect(connection.errors).toBeGreaterThanOrEqual(8);
      expect(lines.length).toBe(1);
      expect(lines[0]).toContain("redis is not answering");
    } finally {
      await redis.restart();
    }
    // Back (empty: this redis keeps nothing): the connection is re-made by the next commands.
    let back = false;
    for (let i = 0; i < 100 && !back; i++) {
      await Bun.sleep(20);
      back = (await counters.reserve([{ ...limit, key: "rpm:after:1" }], Date.now()).catch(() => undefined))?.windows[0]?.count === 1 && connection.up;
    }
    expect(back).toBe(true);
    expect(lines).toEqual([expect.stringContaining("redis is not answering"), "chatgate: redis is answering again"]);
  });

  test("budgets can be set to fail open and limits to fail closed", async () => {
    const { counters } = store({ timeoutMs: 50, onError: { limits: "fail_closed", budgets: "fail_open" } });
    await redis.kill();
    try {
      const now = Date.now();
      expect((await counters.reserve([{ key: "usd:x:day", amount: 1, limit: 1, endsAt: now + 1_000 }], now)).refused).toBe(-1);
      expect(await counters.incr("ip:x", 1_000, now).catch((err: unknown) => (err as GatewayError).status)).toBe(503);
    } finally {
      await redis.restart();
    }
  });
});
