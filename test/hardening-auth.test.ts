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

describe("a short, empty, missing or IPv6 Host header, or an absolute request target, does not make a protected route public", () => {
  const port = () => new URL(gw.url).port;
  // [what, host, request-target prefix, HTTP version]
  const variants: Array<[string, () => string | null, string, string]> = [
    ["Host: a", () => "a", "", "1.1"],
    ["Host: ab", () => "ab", "", "1.1"],
    ["Host: abc", () => "abc", "", "1.1"],
    ["an empty Host", () => "", "", "1.1"],
    ["no Host on HTTP/1.0", () => null, "", "1.0"],
    ["Host with a port", () => `127.0.0.1:${port()}`, "", "1.1"],
    ["an IPv6 Host", () => `[::1]:${port()}`, "", "1.1"],
    ["an absolute request target", () => "a", "http://x", "1.1"],
    ["an absolute request target and no Host on HTTP/1.0", () => null, "http://x", "1.0"],
  ];
  const PROTECTED: Array<[string, string, string]> = [
    ["GET", "/status", ""],
    ["GET", "/v1/models", ""],
    ["GET", "/v1/models/mock", ""],
    ["POST", "/v1/chat/completions", CHAT],
    ["POST", "/chat", '{"message":"hi"}'],
  ];

  for (const [what, host, prefix, version] of variants) {
    test(`with ${what}: protected routes are 401 without a key, under /docs/… they are 404 even with one, and /health is 200`, async () => {
      for (const [method, path, body] of PROTECTED) {
        const bare = await rawRequest(gw.url, wire(method, prefix + path, host(), [], body, version));
        expect({ what, method, path, status: bare.status }).toEqual({ what, method, path, status: 401 });
        expect(JSON.parse(rawBody(bare))).toMatchObject({ error: { code: "invalid_api_key" } });
        // Elysia's own path parse made `/docs/status` serve /status (and the guard took it for a docs page).
        for (const auth of [[], [`Authorization: Bearer ${KEY}`]]) {
          const docs = await rawRequest(gw.url, wire(method, `${prefix}/docs${path}`, host(), auth, body, version));
          expect({ what, method, path: `/docs${path}`, status: docs.status }).toEqual({ what, method, path: `/docs${path}`, status: 404 });
        }
      }
      const health = await rawRequest(gw.url, wire("GET", `${prefix}/health`, host(), [], "", version));
      expect({ what, status: health.status }).toEqual({ what, status: 200 });
      expect(JSON.parse(rawBody(health))).toEqual({ status: "ok" });
    });
  }

  test("with a key, the same requests reach their routes", async () => {
    for (const [host, prefix, version] of [["a", "", "1.1"], [null, "", "1.0"], ["a", "http://x", "1.1"]] as const) {
      const auth = [`Authorization: Bearer ${KEY}`];
      expect((await rawRequest(gw.url, wire("GET", `${prefix}/status`, host, auth, "", version))).status).toBe(200);
      const chat = await rawRequest(gw.url, wire("POST", `${prefix}/v1/chat/completions`, host, auth, CHAT, version));
      expect(chat.status).toBe(200);
      expect(JSON.parse(rawBody(chat))).toMatchObject({ object: "chat.completion" });
    }
  });

  test("a path that only looks like a route once cut at a fixed offset is a 404, whatever the Host", async () => {
    for (const [host, version] of [["a", "1.1"], [null, "1.0"], ["", "1.1"]] as const) {
      for (const path of ["/abcdef/status", "/abcdefghij/status", "/xxxxxx/v1/models", "/abcdefghij/v1/models/mock"]) {
        const res = await rawRequest(gw.url, wire("GET", path, host, [`Authorization: Bearer ${KEY}`], "", version));
        expect({ path, host, status: res.status }).toEqual({ path, host, status: 404 });
      }
    }
  });
});

describe("a bad key is refused before the body is read", () => {
  test("a bad key with a 1 GB Content-Length is a 401 although the body never comes", async () => {
    for (const auth of [["Authorization: Bearer wrong"], []]) {
      const head = wire("POST", "/v1/chat/completions", "127.0.0.1", [...auth, "Content-Length: 1000000000", "Content-Type: application/json"]);
      // A server that read the body first would still be waiting for it when the exchange ends.
      const res = await rawRequest(gw.url, `${head}{"model":`, 3_000);
      expect(res.status).toBe(401);
      expect(JSON.parse(rawBody(res))).toMatchObject({ error: { code: "invalid_api_key" } });
    }
  });
});

describe("failed key attempts are limited per client address", () => {
  /** A request from a chosen loopback source address, so clients differ by TCP peer. */
  function fromAddress(url: string, localAddress: string, key: string | undefined, headers: Record<string, string> = {}) {
    return new Promise<{ status: number; retryAfter: string | undefined; body: string }>((resolve, reject) => {
      const req = http.request(`${url}/v1/models`, { localAddress, agent: false, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers } }, (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"] as string | undefined, body }));
      });
      req.on("error", reject);
      req.end();
    });
  }

  test("after CHATGATE_AUTH_FAILURE_LIMIT failures an address gets 429 with Retry-After, even with the right key, while other addresses do not", async () => {
    await using limited = await spawnBinary({ CHATGATE_MOCK: "1", CHATGATE_API_KEYS: KEY, CHATGATE_RATE_LIMIT_MAX: "0", CHATGATE_AUTH_FAILURE_LIMIT: "5" });
    // 300 wrong keys used to get 300 × 401.
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await fromAddress(limited.url, "127.0.0.2", i % 2 ? `guess-${i}` : undefined)).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual(Array(25).fill(429));
    const right = await fromAddress(limited.url, "127.0.0.2", KEY);
    expect(right.status).toBe(429);
    expect(Number(right.retryAfter)).toBeGreaterThan(50);
    expect(Number(right.retryAfter)).toBeLessThanOrEqual(60);
    expect(JSON.parse(right.body)).toEqual({ error: { message: expect.stringContaining("failed API key attempts"), type: "requests", param: null, code: "rate_limit_exceeded" } });
    // Another address is not blocked, and public routes stay open to the blocked one.
    expect((await fromAddress(limited.url, "127.0.0.3", KEY)).status).toBe(200);
    expect((await fromAddress(limited.url, "127.0.0.3", "wrong")).status).toBe(401);
    expect((await fetch(`${limited.url}/health`)).status).toBe(200);
  });

  test("behind a trusted proxy failures are counted per X-Forwarded-For address, and a junk value counts against the proxy's peer", async () => {
    await using limited = await spawnBinary({ CHATGATE_MOCK: "1", CHATGATE_API_KEYS: KEY, CHATGATE_RATE_LIMIT_MAX: "0", CHATGATE_AUTH_FAILURE_LIMIT: "2", CHATGATE_TRUST_PROXY: "1" });
    const as = (forwarded: string, key?: string) => fromAddress(limited.url, "127.0.0.4", key, { "x-forwarded-for": forwarded });
    expect([(await as("198.51.100.1")).status, (await as("198.51.100.1")).status, (await as("198.51.100.1", KEY)).status]).toEqual([401, 401, 429]);
    expect((await as("198.51.100.2", KEY)).status).toBe(200);
    const junk = [(await as("not-an-ip-1")).status, (await as("not-an-ip-2")).status, (await as("x".repeat(8000))).status];
    expect(junk).toEqual([401, 401, 429]);
  });

  test("CHATGATE_AUTH_FAILURE_LIMIT=0 turns the limit off", async () => {
    for (let i = 0; i < 40; i++) expect((await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer wrong-${i}` } })).status).toBe(401);
  });

  test("the block ends with its window: the injected clock moves past a minute and the right key gets in again", async () => {
    let now = 1_000_000;
    const config = parseConfig({ CHATGATE_MOCK: "1", CHATGATE_API_KEYS: KEY, CHATGATE_RATE_LIMIT_MAX: "0", CHATGATE_AUTH_FAILURE_LIMIT: "3" });
    const { app } = createApp(config, { now: () => now });
    app.listen({ hostname: "127.0.0.1", port: 0 });
    const url = `http://127.0.0.1:${app.server!.port}`;
    try {
      const ask = (key: string) => fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
      for (let i = 0; i < 3; i++) await expectOpenAIError(await ask("wrong"), 401);
      const blocked = await ask(KEY);
      await expectOpenAIError(blocked, 429, { code: "rate_limit_exceeded" });
      expect(blocked.headers.get("retry-after")).toBe("60");
      now += 59_999;
      expect((await ask(KEY)).status).toBe(429);
      now += 1;
      expect((await ask(KEY)).status).toBe(200);
      await expectOpenAIError(await ask("wrong"), 401);
    } finally {
      await app.server!.stop(true);
    }
  });
});

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

describe("trusted-proxy client ids of failed key attempts", () => {
  test("5,000 distinct clients behind 8 KB X-Forwarded-For headers, each failing its key, do not grow the process by what the headers weigh", async () => {
    await using gw = await spawnBinary({ CHATGATE_MOCK: "1", CHATGATE_API_KEYS: "the-right-key", CHATGATE_RATE_LIMIT_MAX: "0", CHATGATE_TRUST_PROXY: "1" });
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${gw.proc.pid}/status`, "utf8"))?.[1]) * 1024;
    const padding = "y".repeat(8_000);
    const send = (from: number) =>
      Promise.all(
        Array.from({ length: 100 }, (_, i) => {
          const n = from + i;
          // IPv6, long enough that a slice of the header would share the header's storage.
          const hop = `2001:db8:${(n >> 16).toString(16)}:${(n & 0xffff).toString(16)}:0:0:0:1`;
          return fetch(`${gw.url}/v1/models`, { headers: { authorization: "Bearer wrong", "x-forwarded-for": `${padding}, ${hop}` } }).then((r) => r.status);
        }),
      );
    await send(0);
    const before = rss();
    for (let round = 1; round <= 50; round++) expect(new Set(await send(round * 100))).toEqual(new Set([401]));
    // Each address is counted (a failure table entry each); the header it came in is not kept with it (40 MB).
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
