// The Redis settings: environment over the config file over the defaults, and bad values refused by name.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../src/config.ts";
import { runGateway, SOURCE_CMD } from "./support/process.ts";

const dir = mkdtempSync(join(tmpdir(), "chatgate-redis-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function withFile(yaml: string): Record<string, string> {
  const path = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, yaml);
  return { CHATGATE_CONFIG: path, CHATGATE_MOCK: "1" };
}

test("without a Redis URL the state is in memory, with limits fail_open and budgets fail_closed as defaults", () => {
  const config = parseConfig({ CHATGATE_MOCK: "1" });
  expect(config.redisUrl).toBeUndefined();
  expect([config.redisTimeoutMs, config.redisLimitsOnError, config.redisBudgetsOnError]).toEqual([100, "fail_open", "fail_closed"]);
});

test("the file's redis: section is read, and the environment wins over it", () => {
  const env = withFile("redis:\n  url: redis://10.0.0.5:6379/1\n  timeout: 50ms\n  on_error: {limits: fail_closed, budgets: fail_open}\n");
  expect(parseConfig(env)).toMatchObject({ redisUrl: "redis://10.0.0.5:6379/1", redisTimeoutMs: 50, redisLimitsOnError: "fail_closed", redisBudgetsOnError: "fail_open" });
  const over = parseConfig({ ...env, CHATGATE_REDIS_URL: "redis://127.0.0.1:7000", CHATGATE_REDIS_TIMEOUT_MS: "250", CHATGATE_REDIS_BUDGETS_ON_ERROR: "fail_closed" });
  expect(over).toMatchObject({ redisUrl: "redis://127.0.0.1:7000", redisTimeoutMs: 250, redisLimitsOnError: "fail_closed", redisBudgetsOnError: "fail_closed" });
});

test("a URL that is not redis:// and an unknown policy are refused, naming the variable and never echoing a password", () => {
  expect(() => parseConfig({ CHATGATE_MOCK: "1", CHATGATE_REDIS_URL: "http://user:hunter2@host" })).toThrow(/CHATGATE_REDIS_URL: expected a redis:\/\/ URL, got http:\/\/…$/);
  expect(() => parseConfig({ CHATGATE_MOCK: "1", CHATGATE_REDIS_URL: "not a url" })).toThrow(/CHATGATE_REDIS_URL/);
  expect(() => parseConfig({ CHATGATE_MOCK: "1", CHATGATE_REDIS_LIMITS_ON_ERROR: "ignore" })).toThrow(/CHATGATE_REDIS_LIMITS_ON_ERROR: expected one of fail_open, fail_closed/);
  expect(() => parseConfig(withFile("redis: {on_error: {budgets: maybe}}\n"))).toThrow(/budgets/);
});

test("check-config shows where each Redis setting came from, never the URL's password", async () => {
  const env = withFile("redis:\n  url: redis://ops:hunter2@10.0.0.5:6379/0\n");
  const { stdout, stderr } = await runGateway([...SOURCE_CMD, "check-config", env.CHATGATE_CONFIG!], { CHATGATE_REDIS_URL: "redis://:s3cret@127.0.0.1:7000", CHATGATE_REDIS_TIMEOUT_MS: "50" });
  const out = stdout + stderr;
  expect(out).toContain("redis.url: redis://***@127.0.0.1:7000 (from CHATGATE_REDIS_URL, overrides the file's redis://***@10.0.0.5:6379/0)");
  expect(out).toContain("redis.timeout: 50ms (from CHATGATE_REDIS_TIMEOUT_MS)");
  expect(out).toContain("redis.on_error.budgets: fail_closed (default)");
  expect(out).not.toMatch(/hunter2|s3cret/);
});
