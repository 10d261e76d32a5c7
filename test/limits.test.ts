// In-memory rate limits over real HTTP: the X-RateLimit-* headers, 429s, and whose budget a
// request is charged to (client key, TCP peer, or X-Forwarded-For behind a trusted proxy).
import { describe, expect, test } from "bun:test";
import { readSse } from "./support/sse.ts";
import http from "node:http";
import OpenAI from "openai";
import { post, startGateway, type TestGateway } from "./support/gateway.ts";
import { fakeOpenAI } from "./support/upstream.ts";

const CHAT = { model: "mock", messages: [{ role: "user", content: "hello there" }] };
const KEY_A = "ck-limits-alpha";
const KEY_B = "ck-limits-beta";

/** A mock-model gateway with limits on: 3 requests per minute unless told otherwise. */
function limited(env: Record<string, string> = {}): TestGateway {
  return startGateway({ CHATGATE_MOCK: "1", CHATGATE_RATE_LIMIT_MAX: "3", CHATGATE_RATE_LIMIT_WINDOW_MS: "60000", ...env });
}

const complete = (gw: TestGateway, headers: Record<string, string> = {}) => post(`${gw.url}/v1/chat/completions`, CHAT, headers);

function limitHeaders(res: Response) {
  const read = (name: string) => {
    const value = res.headers.get(name);
    expect(value, `${name} on ${res.status}`).toMatch(/^\d+$/);
    return Number(value);
  };
  return { limit: read("x-ratelimit-limit"), remaining: read("x-ratelimit-remaining"), reset: read("x-ratelimit-reset") };
}

async function expect429(res: Response) {
  expect(res.status).toBe(429);
  expect(res.headers.get("content-type")).toStartWith("application/json");
  expect(await res.json()).toEqual({ error: { message: expect.any(String), type: "requests", param: null, code: "rate_limit_exceeded" } });
  expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
}

/** A request from a chosen loopback source address (127.0.0.0/8 is all ours), so clients differ by TCP peer. */
function fromAddress(gw: TestGateway, localAddress: string, headers: Record<string, string> = {}): Promise<{ status: number; remaining: string | undefined }> {
  const body = JSON.stringify(CHAT);
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${gw.url}/v1/chat/completions`,
      { method: "POST", localAddress, agent: false, headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), ...headers } },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, remaining: res.headers["x-ratelimit-remaining"] as string | undefined }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("rate-limit headers", () => {
  test("JSON answers carry the limit, a remaining count that counts down, and the seconds until reset", async () => {
    await using gw = limited({ CHATGATE_RATE_LIMIT_WINDOW_MS: "120000" });
    const seen = [];
    for (let i = 0; i < 3; i++) {
      const res = await complete(gw);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ object: "chat.completion" });
      seen.push(limitHeaders(res));
    }
    expect(seen.map((h) => [h.limit, h.remaining])).toEqual([[3, 2], [3, 1], [3, 0]]);
    // Seconds until the 120 s window ends: neither milliseconds nor an epoch timestamp.
    for (const { reset } of seen) expect(reset === 119 || reset === 120).toBe(true);
  });

  test("a 429 carries the headers too, with Retry-After in seconds until the window resets", async () => {
    await using gw = limited({ CHATGATE_RATE_LIMIT_MAX: "1", CHATGATE_RATE_LIMIT_WINDOW_MS: "120000" });
    expect((await complete(gw)).status).toBe(200);
    const res = await complete(gw);
    expect(limitHeaders(res)).toMatchObject({ limit: 1, remaining: 0 });
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(retryAfter === 119 || retryAfter === 120).toBe(true);
    expect(limitHeaders(res).reset).toBe(retryAfter);
    await expect429(res);
  });

  test("streamed answers carry the headers and count like any request", async () => {
    await using gw = limited({ CHATGATE_RATE_LIMIT_MAX: "2" });
    const first = await post(`${gw.url}/v1/chat/completions`, { ...CHAT, stream: true });
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toStartWith("text/event-stream");
    expect(limitHeaders(first)).toMatchObject({ limit: 2, remaining: 1 });
    expect((await readSse(first)).data.at(-1)).toBe("[DONE]");
    expect(limitHeaders(await complete(gw))).toMatchObject({ remaining: 0 });
    const over = await post(`${gw.url}/v1/chat/completions`, { ...CHAT, stream: true });
    expect(over.headers.get("content-type")).toStartWith("application/json");
    expect(limitHeaders(over)).toMatchObject({ limit: 2, remaining: 0 });
    await expect429(over);
  });

  test("every limited route carries the headers, errors included, and all of them share one budget", async () => {
    await using gw = limited({ CHATGATE_RATE_LIMIT_MAX: "5" });
    const answers = [
      await fetch(`${gw.url}/v1/models`),
      await fetch(`${gw.url}/status`),
      await post(`${gw.url}/chat`, { message: "hi" }),
      await post(`${gw.url}/chat`, { message: "hi", stream: true }),
      await post(`${gw.url}/v1/chat/completions`, { ...CHAT, temperature: 9 }),
    ];
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 400]);
    expect(answers.map((r) => limitHeaders(r).remaining)).toEqual([4, 3, 2, 1, 0]);
    await expect429(await fetch(`${gw.url}/v1/models`));
  });

  test("/health is never limited and does not spend the budget", async () => {
    await using gw = limited({ CHATGATE_RATE_LIMIT_MAX: "1" });
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${gw.url}/health`);
      expect(res.status).toBe(200);
      expect(res.headers.get("x-ratelimit-remaining")).toBeNull();
    }
    expect(limitHeaders(await complete(gw))).toMatchObject({ remaining: 0 });
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  });
});

describe("over the limit", () => {
  test("the request never reaches the upstream", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: "sk-up", CHATGATE_RATE_LIMIT_MAX: "2" });
    const body = { ...CHAT, model: "gpt-4o-mini" };
    expect((await post(`${gw.url}/v1/chat/completions`, body)).status).toBe(200);
    expect((await post(`${gw.url}/v1/chat/completions`, { ...body, stream: true }).then(async (r) => [r.status, await r.text()]))[0]).toBe(200);
    await expect429(await post(`${gw.url}/v1/chat/completions`, body));
    await expect429(await post(`${gw.url}/v1/chat/completions`, { ...body, stream: true }));
    expect(up.calls).toHaveLength(2);
  });

  test("the official SDK sees a RateLimitError with code rate_limit_exceeded, for JSON and streams", async () => {
    await using gw = limited({ CHATGATE_RATE_LIMIT_MAX: "1" });
    const client = gw.client();
    await client.chat.completions.create({ model: "mock", messages: [{ role: "user", content: "hi" }] });
    for (const stream of [false, true]) {
      const error = await client.chat.completions.create({ model: "mock", stream, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.RateLimitError);
      expect(error).toMatchObject({ status: 429, code: "rate_limit_exceeded" });
    }
  });

  test("CHATGATE_RATE_LIMIT_MAX=0 turns limiting off: many requests, no 429", async () => {
    await using gw = limited({ CHATGATE_RATE_LIMIT_MAX: "0" });
    const statuses = await Promise.all(Array.from({ length: 40 }, () => complete(gw).then((r) => r.status)));
    expect(statuses.every((s) => s === 200)).toBe(true);
  });

  test("a limited client is let in again once the window has passed", async () => {
    await using gw = limited({ CHATGATE_RATE_LIMIT_MAX: "2", CHATGATE_RATE_LIMIT_WINDOW_MS: "300" });
    expect((await complete(gw)).status).toBe(200);
    expect((await complete(gw)).status).toBe(200);
    const over = await complete(gw);
    const reset = limitHeaders(over).reset;
    expect(reset).toBe(1); // 300 ms, rounded up to whole seconds
    await expect429(over);
    // Waiting out the window is the behaviour under test.
    await Bun.sleep(reset * 1000);
    const again = await complete(gw);
    expect(again.status).toBe(200);
    expect(limitHeaders(again)).toMatchObject({ limit: 2, remaining: 1 });
  });
});

describe("whose budget a request spends", () => {
  test("each client key has its own budget", async () => {
    await using gw = limited({ CHATGATE_RATE_LIMIT_MAX: "2", CHATGATE_API_KEYS: `${KEY_A},${KEY_B}` });
    const a = { authorization: `Bearer ${KEY_A}` };
    const b = { authorization: `Bearer ${KEY_B}` };
    expect((await complete(gw, a)).status).toBe(200);
    expect((await complete(gw, a)).status).toBe(200);
    await expect429(await complete(gw, a));
    const first = await complete(gw, b);
    expect(first.status).toBe(200);
    expect(limitHeaders(first)).toMatchObject({ remaining: 1 });
  });

  test("with keys, one key is one budget whatever address it comes from", async () => {
    await using gw = limited({ CHATGATE_RATE_LIMIT_MAX: "2", CHATGATE_API_KEYS: KEY_A });
    const auth = { authorization: `Bearer ${KEY_A}` };
    expect(await fromAddress(gw, "127.0.0.2", auth)).toEqual({ status: 200, remaining: "1" });
    expect(await fromAddress(gw, "127.0.0.3", auth)).toEqual({ status: 200, remaining: "0" });
    expect((await fromAddress(gw, "127.0.0.4", auth)).status).toBe(429);
  });

  test("without keys, each client address has its own budget", async () => {
    await using gw = limited({ CHATGATE_RATE_LIMIT_MAX: "2" });
    expect(await fromAddress(gw, "127.0.0.2")).toEqual({ status: 200, remaining: "1" });
    expect(await fromAddress(gw, "127.0.0.2")).toEqual({ status: 200, remaining: "0" });
    expect((await fromAddress(gw, "127.0.0.2")).status).toBe(429);
    expect(await fromAddress(gw, "127.0.0.3")).toEqual({ status: 200, remaining: "1" });
  });

  test("X-Forwarded-For is ignored by default: different values share the peer's one budget", async () => {
    await using gw = limited({ CHATGATE_RATE_LIMIT_MAX: "2" });
    expect((await complete(gw, { "x-forwarded-for": "198.51.100.1" })).status).toBe(200);
    expect((await complete(gw, { "x-forwarded-for": "198.51.100.2" })).status).toBe(200);
    await expect429(await complete(gw, { "x-forwarded-for": "198.51.100.3" }));
    await expect429(await complete(gw));
  });

  test("with CHATGATE_TRUST_PROXY=1, X-Forwarded-For tells clients apart", async () => {
    await using gw = limited({ CHATGATE_RATE_LIMIT_MAX: "2", CHATGATE_TRUST_PROXY: "1" });
    const one = { "x-forwarded-for": "198.51.100.1" };
    expect((await complete(gw, one)).status).toBe(200);
    expect((await complete(gw, one)).status).toBe(200);
    await expect429(await complete(gw, one));
    const two = await complete(gw, { "x-forwarded-for": "198.51.100.2" });
    expect(two.status).toBe(200);
    expect(limitHeaders(two)).toMatchObject({ remaining: 1 });
  });

  test("behind a trusted proxy, entries a client prepends to X-Forwarded-For do not buy a new budget", async () => {
    await using gw = limited({ CHATGATE_RATE_LIMIT_MAX: "2", CHATGATE_TRUST_PROXY: "1" });
    // The proxy appends the address it saw; only that last hop is trustworthy.
    expect((await complete(gw, { "x-forwarded-for": "203.0.113.7, 198.51.100.1" })).status).toBe(200);
    expect((await complete(gw, { "x-forwarded-for": "203.0.113.8, 198.51.100.1" })).status).toBe(200);
    await expect429(await complete(gw, { "x-forwarded-for": "203.0.113.9, 198.51.100.1" }));
  });

  test("behind a trusted proxy, requests without X-Forwarded-For fall back to the peer, not to no limit", async () => {
    await using gw = limited({ CHATGATE_RATE_LIMIT_MAX: "2", CHATGATE_TRUST_PROXY: "1" });
    expect(await fromAddress(gw, "127.0.0.2")).toEqual({ status: 200, remaining: "1" });
    expect(await fromAddress(gw, "127.0.0.2")).toEqual({ status: 200, remaining: "0" });
    expect((await fromAddress(gw, "127.0.0.2")).status).toBe(429);
    expect(await fromAddress(gw, "127.0.0.3")).toEqual({ status: 200, remaining: "1" });
  });
});
