// A Redis that refuses chatgate's credentials is said to refuse them, in the JSON log, with the
// server's own reason (WRONGPASS, NOAUTH) and never the password: Bun's client reports only
// "Connection closed", which read as "not answering" and sent operators after the network.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnGateway, SOURCE_CMD } from "./support/process.ts";
import { redisAvailable, startRedis, type TestRedis } from "./support/redis.ts";

const run = redisAvailable();
let redis: TestRedis;
beforeAll(async () => {
  if (run) redis = await startRedis(["--requirepass", "right-one"]);
});
afterAll(async () => {
  await redis?.[Symbol.asyncDispose]();
});

async function firstRedisWarning(url: string) {
  await using gw = await spawnGateway(SOURCE_CMD, { CHATGATE_MOCK: "1", CHATGATE_REDIS_URL: url });
  const line = await gw.waitForLog((l) => l.level === "warn" && /redis/.test(l.msg));
  return { line, output: gw.output() };
}

describe.skipIf(!run)("Redis refusing the credentials", () => {
  test("a wrong password is logged as refused credentials with Redis's WRONGPASS, never as 'not answering', and the password and userinfo are not printed", async () => {
    for (const userinfo of [":guess-s3cret", "ops:guess-s3cret"]) {
      const { line, output } = await firstRedisWarning(`redis://${userinfo}@127.0.0.1:${redis.port}`);
      expect(line.msg).toStartWith("chatgate: redis refused the credentials in its URL (WRONGPASS");
      expect(output).not.toContain("not answering");
      expect(output).not.toContain("guess-s3cret");
      expect(output).not.toContain(`${userinfo}@`);
    }
  }, 20_000);

  test("a URL with no password against a server that requires one is logged with Redis's NOAUTH", async () => {
    const { line, output } = await firstRedisWarning(redis.url);
    expect(line.msg).toStartWith("chatgate: redis requires a password, and its URL gives none (NOAUTH");
    expect(output).not.toContain("not answering");
  }, 20_000);

  test("the right password gets no warning at all, and a Redis that is down is still 'not answering'", async () => {
    await using gw = await spawnGateway(SOURCE_CMD, { CHATGATE_MOCK: "1", CHATGATE_REDIS_URL: `redis://:right-one@127.0.0.1:${redis.port}` });
    const answer = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "mock", messages: [{ role: "user", content: "hi" }] }) });
    expect(answer.status).toBe(200);
    expect(gw.logs().filter((l) => /redis/.test(l.msg))).toEqual([]);

    const down = await firstRedisWarning("redis://:right-one@127.0.0.1:1");
    expect(down.line.msg).toContain("redis is not answering");
  }, 20_000);
});
