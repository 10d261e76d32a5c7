// The app in process over a real Redis: the guard's limit answers later (a promise) on both of its
// hooks — parse for POST, transform for GET — with the same headers and 429 as from memory.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway, type TestGateway } from "./support/gateway.ts";
import { redisAvailable, startRedis, type TestRedis } from "./support/redis.ts";

const run = redisAvailable();
let redis: TestRedis;
const gateways: TestGateway[] = [];
beforeAll(async () => {
  if (run) redis = await startRedis();
});
const dir = mkdtempSync(join(tmpdir(), "chatgate-redis-app-"));
afterAll(async () => {
  for (const gw of gateways) (await gw.stop(), gw.app.redis?.close());
  await redis?.[Symbol.asyncDispose]();
  rmSync(dir, { recursive: true, force: true });
});

const KEY = "ck-redis-app-team-01";

/** A config file with one key `team` (its limits as given) and the mock priced at $1 per token. */
function keyConfig(limits: string): string {
  const path = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    path,
    `providers:\n  - {id: m, type: mock}\nmodels:\n  priced:\n    targets: [{provider: m, model: mock, price: {input: 1000000, output: 1000000}}]\nkeys:\n  - {id: team, key: ${KEY}, ${limits}}\n`,
  );
  return path;
}

function askPriced(url: string) {
  return fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ model: "priced", max_tokens: 1, messages: [{ role: "user", content: "hi" }] }),
  }).then(async (r) => ({ status: r.status, code: r.ok ? null : ((await r.json()) as { error: { code: string } }).error.code, headers: r.headers }));
}

/** Whether `check` comes true within `ms` (polled every 20 ms). */
async function until(check: () => Promise<boolean>, ms = 2_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await Bun.sleep(20)) if (await check()) return true;
  return false;
}

function gateway(env: Record<string, string>): TestGateway {
  const gw = startGateway({ CHATGATE_MOCK: "1", CHATGATE_REDIS_URL: redis.url, CHATGATE_REDIS_TIMEOUT_MS: "2000", CHATGATE_LOG_REQUESTS: "0", ...env });
  gateways.push(gw);
  return gw;
}

describe.skipIf(!run)("the guard over Redis", () => {
  test("a GET route (the transform hook) counts in Redis too: two gateways share the limit, with the same headers", async () => {
    await redis.cli("FLUSHALL");
    const [a, b] = [gateway({ CHATGATE_RATE_LIMIT_MAX: "3" }), gateway({ CHATGATE_RATE_LIMIT_MAX: "3" })];
    const statuses = [];
    for (const gw of [a, b, a, b]) statuses.push(await fetch(`${gw.url}/v1/models`));
    expect(statuses.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(statuses[2]!.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(statuses[3]!.headers.get("retry-after")).not.toBeNull();
    expect(((await statuses[3]!.json()) as { error: { code: string } }).error.code).toBe("rate_limit_exceeded");
  });

  test("the openai SDK streams through a gateway whose limits are in Redis, and a key's rpm is shared", async () => {
    await redis.cli("FLUSHALL");
    const env = { CHATGATE_API_KEYS: "ck-redis-app-key-01", CHATGATE_RATE_LIMIT_MAX: "2" };
    const [a, b] = [gateway(env), gateway(env)];
    const stream = await a.client("ck-redis-app-key-01").chat.completions.create({ model: "mock", stream: true, messages: [{ role: "user", content: "one two" }] });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text.trim()).toBe("one two");
    await b.client("ck-redis-app-key-01").chat.completions.create({ model: "mock", messages: [{ role: "user", content: "x" }] });
    const third = await a.client("ck-redis-app-key-01").chat.completions.create({ model: "mock", messages: [{ role: "user", content: "x" }] }).catch((err: unknown) => err);
    expect((third as { status: number }).status).toBe(429);
  });

  test("concurrent requests on two gateways never overshoot a budget: each reservation counts for both at once", async () => {
    await redis.cli("FLUSHALL");
    // Each request reserves $6 ("hi" and max_tokens 1 at $1 per token) against $9: only one fits at a time.
    const env = { CHATGATE_CONFIG: keyConfig("budget: {usd: 9, period: day}"), CHATGATE_MOCK: "0" };
    const [a, b] = [gateway(env), gateway(env)];
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => askPriced((i % 2 ? a : b).url)));
    expect(answers.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(1);
    // Settled to $2 each as they finish: at most $2 + $2 + $6 reserved ever fit in $9 ($2 + $6 < $9, $4 + $6 > $9).
    expect(answers.filter((r) => r.status === 200).length).toBeLessThanOrEqual(2);
    expect(answers.filter((r) => r.status === 429).every((r) => r.code === "insufficient_quota")).toBe(true);
  });

  test("a key's tpm is one across gateways, with OpenAI's token headers", async () => {
    await redis.cli("FLUSHALL");
    // Each request reserves 6 tokens (the prompt's estimate and max_tokens 1) and settles to the 2 it used.
    const env = { CHATGATE_CONFIG: keyConfig("tpm: 10"), CHATGATE_MOCK: "0" };
    const [a, b] = [gateway(env), gateway(env)];
    const first = await askPriced(a.url);
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-limit-tokens")).toBe("10");
    // On the other gateway: 2 + 6 fits, 4 + 6 fits exactly; then back on the first, 6 + 6 does not.
    expect((await askPriced(b.url)).status).toBe(200);
    expect((await askPriced(b.url)).status).toBe(200);
    const fourth = await askPriced(a.url);
    expect([fourth.status, fourth.code]).toEqual([429, "rate_limit_exceeded"]);
    expect(fourth.headers.get("retry-after")).not.toBeNull();
  });

  test("a budgeted request refused while Redis is paused costs the budget nothing once Redis catches up", async () => {
    await redis.cli("FLUSHALL");
    // $6 reserved a request, $2 used, against $9 (as above); a 100 ms bound, so a paused Redis is an outage.
    const gw = gateway({ CHATGATE_CONFIG: keyConfig("budget: {usd: 9, period: day}"), CHATGATE_MOCK: "0", CHATGATE_REDIS_TIMEOUT_MS: "100" });
    expect((await askPriced(gw.url)).status).toBe(200);
    const [spendKey] = (await redis.cli("KEYS", "chatgate:usd:*")).split("\n");
    // Settled: its hold key is gone, and $2 is counted.
    expect(await until(async () => (await redis.cli("KEYS", "chatgate:res:*")) === "")).toBe(true);
    const spent = await redis.cli("GET", spendKey!);
    expect(spent).toBe("2000000000");
    redis.pause();
    let during;
    try {
      during = await askPriced(gw.url);
    } finally {
      redis.resume();
    }
    expect([during.status, during.code]).toEqual([503, "limits_store_unavailable"]);
    // Its reservation ran once Redis went on, and was released after it.
    const released = async () => {
      const hold = await redis.cli("KEYS", "chatgate:res:*");
      return hold !== "" && (await redis.cli("GET", hold)) === "released";
    };
    expect(await until(released)).toBe(true);
    expect(await redis.cli("GET", spendKey!)).toBe(spent);
    // $2 + $6 fits in $9 (with the refused request's $6 still counted it would be a 429).
    expect((await askPriced(gw.url)).status).toBe(200);
  });
});
