// The app in process over a real Redis: the guard's limit answers later (a promise) on both of its
// hooks — parse for POST, transform for GET — with the same headers and 429 as from memory.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGateway, type TestGateway } from "./support/gateway.ts";
import { redisAvailable, startRedis, type TestRedis } from "./support/redis.ts";

const run = redisAvailable();
let redis: TestRedis;
const gateways: TestGateway[] = [];
beforeAll(async () => {
  if (run) redis = await startRedis();
});
afterAll(async () => {
  for (const gw of gateways) (await gw.stop(), gw.app.redis?.close());
  await redis?.[Symbol.asyncDispose]();
});

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
});
