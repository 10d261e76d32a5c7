// A hook's rpm over a real Redis: every instance sharing the Redis counts against the one limit,
// while each keeps its own conversations.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway, type TestGateway } from "./support/gateway.ts";
import { redisAvailable, startRedis, type TestRedis } from "./support/redis.ts";

const run = redisAvailable();
const SECRET = "whsec-redis-hooks-0123456";
let redis: TestRedis;
const gateways: TestGateway[] = [];
const dir = mkdtempSync(join(tmpdir(), "chatgate-hooks-redis-"));
beforeAll(async () => {
  if (run) redis = await startRedis();
});
afterAll(async () => {
  for (const gw of gateways) (await gw.stop(), gw.app.redis?.close());
  await redis?.[Symbol.asyncDispose]();
  rmSync(dir, { recursive: true, force: true });
});

function gateway(config: string): TestGateway {
  const gw = startGateway({ CHATGATE_CONFIG: config, CHATGATE_REDIS_URL: redis.url, CHATGATE_REDIS_TIMEOUT_MS: "2000", CHATGATE_LOG_REQUESTS: "0", CHATGATE_LEDGER: "0" });
  gateways.push(gw);
  return gw;
}

function send(gw: TestGateway, text: string, from: string): Promise<Response> {
  const body = JSON.stringify({ text, from });
  const signature = `sha256=${new Bun.CryptoHasher("sha256", SECRET).update(body).digest("hex")}`;
  return fetch(`${gw.url}/hooks/support`, {
    method: "POST",
    headers: { "x-chatgate-signature": signature, "x-chatgate-timestamp": String(Math.floor(Date.now() / 1000)) },
    body,
  });
}

describe.skipIf(!run)("a hook's rpm over Redis", () => {
  test("two gateways share the hook's limit; each remembers the conversations it answered", async () => {
    await redis.cli("FLUSHALL");
    const config = join(dir, "hooks.yaml");
    writeFileSync(config, `providers:\n  - {id: m, type: mock}\nhooks:\n  support: {model: m/mock, secret: ${SECRET}, rpm: 2}\n`);
    const [a, b] = [gateway(config), gateway(config)];
    const first = await send(a, "one", "alice");
    const second = await send(b, "two", "alice");
    const third = await send(a, "three", "alice");
    expect([first.status, second.status, third.status]).toEqual([200, 200, 429]);
    expect(((await second.json()) as { session: { turns: number } }).session.turns).toBe(1);
    expect(third.headers.get("retry-after")).not.toBeNull();
    expect(((await third.json()) as { error: { code: string } }).error.code).toBe("rate_limit_exceeded");
  });
});
