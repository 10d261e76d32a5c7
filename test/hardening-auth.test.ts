// Regression tests, against the compiled binary, for what probing it from outside found in client
// auth: a short Host header that made protected routes public, failed key attempts that were never
// limited, X-Forwarded-For values that each bought a fresh budget, and an empty key that started.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import http from "node:http";
import { createApp } from "../src/app.ts";
import { parseConfig } from "../src/config.ts";
import { expectOpenAIError } from "./errors-shape.ts";
import { compiledBinary, spawnBinary } from "./support/binary.ts";
import type { GatewayProcess } from "./support/process.ts";
import { runGateway } from "./support/process.ts";
import { rawBody, rawRequest } from "./support/raw-http.ts";

const KEY = "ck-hardening-auth-key";
const CHAT = JSON.stringify({ model: "mock", messages: [{ role: "user", content: "hi" }] });

let gw: GatewayProcess;
beforeAll(async () => {
  gw = await spawnBinary({ CHATGATE_MOCK: "1", CHATGATE_API_KEYS: KEY, CHATGATE_RATE_LIMIT_MAX: "0", CHATGATE_AUTH_FAILURE_LIMIT: "0" });
}, 60_000);
afterAll(() => gw?.stop());

/** One request as written on the wire: `target` in the request line, then `host` as given (null: no Host line). */
function wire(method: string, target: string, host: string | null, headers: string[] = [], body = "", version = "1.1") {
  const lines = [`${method} ${target} HTTP/${version}`];
  if (host !== null) lines.push(`Host: ${host}`);
  lines.push(...headers, "Connection: close");
  if (body !== "") lines.push("Content-Type: application/json", `Content-Length: ${Buffer.byteLength(body)}`);
  return `${lines.join("\r\n")}\r\n\r\n${body}`;
}

describe("trusted-proxy client ids", () => {
  test("X-Forwarded-For values that are not IP addresses share the proxy's budget instead of each getting a fresh one", async () => {
    await using limited = await spawnBinary({ CHATGATE_MOCK: "1", CHATGATE_RATE_LIMIT_MAX: "5", CHATGATE_TRUST_PROXY: "1" });
    const statuses = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        fetch(`${limited.url}/v1/models`, { headers: { "x-forwarded-for": `10.0.0.1, ${String(i).padStart(8_000, "z")}` } }).then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(195);
    // A real address as the last hop is still its own client.
    expect((await fetch(`${limited.url}/v1/models`, { headers: { "x-forwarded-for": "198.51.100.9" } })).status).toBe(200);
  });

  test("5,000 distinct 8 KB X-Forwarded-For values do not grow the process by what they weigh", async () => {
    await using limited = await spawnBinary({ CHATGATE_MOCK: "1", CHATGATE_RATE_LIMIT_MAX: "1000000", CHATGATE_TRUST_PROXY: "1" });
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${limited.proc.pid}/status`, "utf8"))?.[1]) * 1024;
    const send = (from: number) =>
      Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          fetch(`${limited.url}/v1/models`, { headers: { "x-forwarded-for": `${from + i}${"y".repeat(8_000)}` } }).then((r) => r.status),
        ),
      );
    await send(0);
    const before = rss();
    for (let round = 1; round <= 50; round++) expect(new Set(await send(round * 100))).toEqual(new Set([200]));
    // Kept as limiter keys, 5,000 values of 8 KB are 40 MB (800 MB at 100k clients); now they are one key.
    expect(rss() - before).toBeLessThan(24 * 1024 * 1024);
  });
});

describe("an empty client key refuses to start", () => {
  const cases: Array<[string, string, string]> = [
    ["the digest of the empty string (MY_KEY unset in the README's sha256 recipe)", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "SHA-256 of the empty string"],
    ["an empty entry", "key-one,,key-two", "entry 2 is empty"],
    ["a blank entry", "key-one, ,key-two", "entry 2 is empty"],
    ["only commas and spaces", " , ", "unset it to run without client auth"],
    ["the empty string", "", "unset it to run without client auth"],
  ];
  for (const [what, value, says] of cases) {
    test(`CHATGATE_API_KEYS set to ${what} exits 2 with a refusing-to-start line naming the variable`, async () => {
      const { code, stdout, stderr } = await runGateway([await compiledBinary()], { CHATGATE_API_KEYS: value, CHATGATE_MOCK: "1", PORT: "0" });
      expect(code).toBe(2);
      expect(stdout).not.toContain("listening");
      expect(stderr).toContain("chatgate: refusing to start: CHATGATE_API_KEYS: ");
      expect(stderr).toContain(says);
    });
  }
});
