// Many chatgate processes (the compiled binary) sharing one real redis-server: the global limit,
// a key's budget and the response cache are one for all of them, and an outage follows the
// on_error policies (limits open, budgets closed) and heals without a restart.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GatewayProcess } from "./support/process.ts";
import { compiledBinary, spawnBinary } from "./support/binary.ts";
import { redisAvailable, startRedis, type TestRedis } from "./support/redis.ts";

const run = redisAvailable();
const root = mkdtempSync(join(tmpdir(), "chatgate-redis-binary-"));
let redis: TestRedis;
beforeAll(async () => {
  if (!run) return;
  await compiledBinary();
  redis = await startRedis();
}, 120_000);
afterAll(async () => {
  await redis?.[Symbol.asyncDispose]();
  rmSync(root, { recursive: true, force: true });
});

const TEAM = "ck-redis-team-key-0001";
const PLAIN = "ck-redis-plain-key-0001";

// $1 per token on the mock: "hi" with max_tokens 1 reserves $6 (the prompt's estimate and
// max_tokens) and then uses 2 tokens, $2. With $9: two requests fit ($2 + $6, then $4 + $6 does not).
function configFile(name: string): string {
  const path = join(root, `${name}.yaml`);
  writeFileSync(
    path,
    [
      "providers:\n  - {id: m, type: mock}",
      "models:\n  priced:\n    targets: [{provider: m, model: mock, price: {input: 1000000, output: 1000000}}]\n  cached:\n    targets: [{provider: m, model: mock}]\n    cache: {ttl: 1h}",
      `keys:\n  - {id: team, key: ${TEAM}, budget: {usd: 9, period: day}}\n  - {id: plain, key: ${PLAIN}}`,
    ].join("\n") + "\n",
  );
  return path;
}

async function instances(n: number, env: Record<string, string>, args: string[] = []): Promise<GatewayProcess[]> {
  return Promise.all(Array.from({ length: n }, () => spawnBinary({ CHATGATE_REDIS_URL: redis.url, CHATGATE_LOG_REQUESTS: "0", ...env }, args)));
}

function ask(url: string, model: string, key?: string, content = "hi") {
  return fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ model, max_tokens: 1, messages: [{ role: "user", content }] }),
  });
}

const stopAll = (gws: GatewayProcess[]) => Promise.all(gws.map((g) => g.stop()));

describe.skipIf(!run)("many instances over one Redis", () => {
  test("three instances with a limit of 100 admit exactly 100 of 1,000 concurrent requests between them", async () => {
    await redis.cli("FLUSHALL");
    // A generous bound: under this load a slower answer would be let through (fail_open), not counted.
    const gws = await instances(3, { CHATGATE_MOCK: "1", CHATGATE_RATE_LIMIT_MAX: "100", CHATGATE_REDIS_TIMEOUT_MS: "5000" });
    try {
      const statuses = await Promise.all(Array.from({ length: 1_000 }, (_, i) => ask(gws[i % 3]!.url, "mock").then(async (r) => (await r.arrayBuffer(), r.status))));
      expect(statuses.filter((s) => s === 200).length).toBe(100);
      // Counted apart, each instance would have admitted 100 of its own 333 or 334.
      expect(statuses.filter((s) => s === 429).length).toBe(900);
    } finally {
      await stopAll(gws);
    }
  }, 30_000);

  test("a key's budget is one across instances, and an answer cached by one is a hit on another", async () => {
    await redis.cli("FLUSHALL");
    const [a, b, c] = await instances(3, {}, ["--config", configFile("shared")]);
    try {
      expect((await ask(a!.url, "priced", TEAM)).status).toBe(200);
      expect((await ask(b!.url, "priced", TEAM)).status).toBe(200);
      // $4 spent between a and b: c's reservation of $6 would pass $9, although c itself spent nothing.
      const over = await ask(c!.url, "priced", TEAM);
      expect(over.status).toBe(429);
      expect(((await over.json()) as { error: { code: string } }).error.code).toBe("insufficient_quota");

      const miss = await ask(a!.url, "cached", PLAIN, "cache me");
      expect(miss.headers.get("x-chatgate-cache")).toBe("miss");
      const answer = (await miss.json()) as { choices: { message: { content: string } }[] };
      // The answer is stored after it is sent: wait until it is in Redis, then ask b.
      for (let i = 0; i < 50 && (await redis.cli("KEYS", "chatgate:cache:*")) === ""; i++) await Bun.sleep(10);
      const hit = await ask(b!.url, "cached", PLAIN, "cache me");
      expect(hit.headers.get("x-chatgate-cache")).toBe("hit");
      expect(((await hit.json()) as typeof answer).choices[0]!.message.content).toBe(answer.choices[0]!.message.content);
    } finally {
      await stopAll([a!, b!, c!]);
    }
  }, 30_000);

  test("with Redis killed, limits fail open and budgets fail closed (503), logged once and counted; after its restart all is back without restarting chatgate", async () => {
    await redis.cli("FLUSHALL");
    const [gw] = await instances(1, { CHATGATE_RATE_LIMIT_MAX: "100", CHATGATE_REDIS_TIMEOUT_MS: "100" }, ["--config", configFile("outage")]);
    try {
      expect((await ask(gw!.url, "priced", TEAM)).status).toBe(200);
      await redis.kill();
      for (let i = 0; i < 3; i++) expect((await ask(gw!.url, "priced", PLAIN)).status).toBe(200);
      const closed = await ask(gw!.url, "priced", TEAM);
      expect(closed.status).toBe(503);
      expect(((await closed.json()) as { error: { message: string } }).error.message).toContain("Redis");
      expect((await ask(gw!.url, "priced", TEAM)).status).toBe(503);
      const down = await (await fetch(`${gw!.url}/metrics`, { headers: { authorization: `Bearer ${PLAIN}` } })).text();
      expect(down).toMatch(/^chatgate_redis_up 0$/m);
      expect(Number(down.match(/^chatgate_redis_errors_total (\d+)$/m)?.[1])).toBeGreaterThanOrEqual(5);
      // One warn line in the JSON log for the whole outage, however many requests met it.
      // (Lines go out up to 50 ms after they are logged: wait for it.)
      await gw!.waitForLog((l) => l.level === "warn" && /redis is not answering/.test(l.msg));
      expect(gw!.logs().filter((l) => l.level === "warn" && /redis is not answering/.test(l.msg)).length).toBe(1);

      await redis.restart();
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        status = (await ask(gw!.url, "priced", TEAM)).status;
        if (status !== 200) await Bun.sleep(20);
      }
      expect(status).toBe(200);
      await gw!.waitForLog((l) => l.level === "warn" && l.msg === "chatgate: redis is answering again");
      const up = await (await fetch(`${gw!.url}/metrics`, { headers: { authorization: `Bearer ${PLAIN}` } })).text();
      expect(up).toMatch(/^chatgate_redis_up 1$/m);
      expect(gw!.output().match(/redis is not answering/g)?.length).toBe(1);
    } finally {
      await gw!.stop();
    }
  }, 30_000);
});
