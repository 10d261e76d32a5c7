// Regression tests, against the compiled binary, for what probing it from outside found on the
// request side and at start-up: a mock that froze the process on white space, unbounded `n`, a
// user message without content taken as valid, a banner that hid auth and limits, a wrong base URL
// found only by the first 404, and pipelined requests that Bun's server leaves unanswered.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { expectOpenAIError } from "./errors-shape.ts";
import type { GatewayProcess } from "./support/process.ts";
import { spawnBinary } from "./support/binary.ts";
import { rawRequest } from "./support/raw-http.ts";
import { fakeOpenAI } from "./support/upstream.ts";

const post = (url: string, body: unknown) =>
  fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

let mock: GatewayProcess;
beforeAll(async () => {
  mock = await spawnBinary({ CHATGATE_MOCK: "1", CHATGATE_RATE_LIMIT_MAX: "0" });
}, 60_000);
afterAll(() => mock?.stop());

describe("the mock and n", () => {
  test("the mock answers a message of 4 MB of white space at once and /health stays responsive (it was quadratic: 160 KB took 19 s)", async () => {
    const spaces = " ".repeat(4 * 1024 * 1024);
    const started = performance.now();
    const [answer, health] = await Promise.all([
      post(mock.url, { model: "mock", messages: [{ role: "user", content: `a${spaces}b` }, { role: "user", content: spaces }] }),
      fetch(`${mock.url}/health`),
    ]);
    expect(health.status).toBe(200);
    expect(answer.status).toBe(200);
    // Quadratic, this took hours; linear, well under a second. The bound only catches a freeze.
    expect(performance.now() - started).toBeLessThan(10_000);
    const streamed = await post(mock.url, { model: "mock", stream: true, messages: [{ role: "user", content: `${spaces}x y` }] });
    expect(await streamed.text()).toContain("data: [DONE]");
  });

  test.each([129, 1_000_000, 4_294_967_296])("n=%d is a 400 naming param n, never a 500 or a huge answer", async (n) => {
    for (const stream of [false, true]) {
      const error = await expectOpenAIError(await post(mock.url, { model: "mock", n, stream, messages: [{ role: "user", content: "hi" }] }), 400, {
        type: "invalid_request_error",
        param: "n",
      });
      expect(error.message).toContain("128");
    }
    expect(mock.output()).not.toContain("internal error");
  });

  test("n above 128 is refused before any upstream call; n=128 goes through", async () => {
    await using up = fakeOpenAI();
    await using gw = await spawnBinary({ OPENAI_BASE_URL: up.url, CHATGATE_RATE_LIMIT_MAX: "0" });
    await expectOpenAIError(await post(gw.url, { model: "gpt-4o", n: 129, messages: [{ role: "user", content: "hi" }] }), 400, { param: "n" });
    expect(up.calls).toHaveLength(0);
    expect((await post(gw.url, { model: "gpt-4o", n: 128, messages: [{ role: "user", content: "hi" }] })).status).toBe(200);
    expect(up.calls).toHaveLength(1);
  });
});

describe("messages without content", () => {
  test.each([
    ["a user message with a misspelt content key", [{ role: "user", contnet: "hi" }], "messages[0].content"],
    ["a user message with content null", [{ role: "user", content: null }], "messages[0].content"],
    ["a system message without content", [{ role: "system" }, { role: "user", content: "hi" }], "messages[0].content"],
    ["a tool message without content", [{ role: "user", content: "hi" }, { role: "assistant", content: null, tool_calls: [] }, { role: "tool", tool_call_id: "c1" }], "messages[2].content"],
  ])("%s is a 400 naming its content param, as on OpenAI", async (_, messages, param) => {
    await using up = fakeOpenAI();
    await using gw = await spawnBinary({ OPENAI_BASE_URL: up.url, CHATGATE_MOCK: "1", CHATGATE_RATE_LIMIT_MAX: "0" });
    for (const model of ["gpt-4o", "mock"]) {
      const error = await expectOpenAIError(await post(gw.url, { model, messages }), 400, { type: "invalid_request_error", param });
      expect(error.message).toContain(param);
    }
    expect(up.calls).toHaveLength(0);
  });

  test("an assistant message may omit content (a tool-call turn) and is forwarded", async () => {
    await using up = fakeOpenAI();
    await using gw = await spawnBinary({ OPENAI_BASE_URL: up.url, CHATGATE_RATE_LIMIT_MAX: "0" });
    const call = { id: "call_1", type: "function", function: { name: "f", arguments: "{}" } };
    const messages = [{ role: "user", content: "hi" }, { role: "assistant", tool_calls: [call] }, { role: "tool", tool_call_id: "call_1", content: "42" }];
    expect((await post(gw.url, { model: "gpt-4o", messages })).status).toBe(200);
    expect((up.calls[0]!.body as { messages: unknown }).messages).toEqual(messages);
  });
});

describe("the start-up banner and the base-URL probe", () => {
  test("the banner says where requests go, that client auth is on with how many keys, and the rate limit, and prints no key", async () => {
    await using up = fakeOpenAI();
    await using gw = await spawnBinary({
      OPENAI_BASE_URL: up.url, OPENAI_API_KEY: "sk-provider-SECRET", CHATGATE_API_KEYS: "client-one-SECRET,client-two-SECRET",
      CHATGATE_RATE_LIMIT_MAX: "30", CHATGATE_RATE_LIMIT_WINDOW_MS: "10000",
    });
    const start = await gw.waitForLog((l) => l.msg.includes("listening on"));
    expect(start.requests_go_to).toContain(up.url);
    expect(start.client_auth).toBe("on, 2 keys");
    expect(start.rate_limit).toBe("30 requests per 10 s per key");
    expect(gw.output()).not.toContain("SECRET");
  });

  test("the banner says when client auth and the rate limit are off, and that the mock answers", async () => {
    await using gw = await spawnBinary({ CHATGATE_MOCK: "1", CHATGATE_RATE_LIMIT_MAX: "0" });
    const start = await gw.waitForLog((l) => l.msg.includes("listening on"));
    expect(start.client_auth).toStartWith("off");
    expect(start.rate_limit).toBe("off");
    expect(start.msg).toContain("built-in mock model");
  });

  test("OPENAI_BASE_URL without /v1 gets a start-up warning naming the fix, and chatgate keeps serving", async () => {
    await using up = fakeOpenAI();
    const root = up.url.replace(/\/v1$/, "");
    await using gw = await spawnBinary({ OPENAI_BASE_URL: root, CHATGATE_RATE_LIMIT_MAX: "0" });
    const [warning] = await gw.waitForOutput(/warning: .*404.*/);
    expect(warning).toContain(`OPENAI_BASE_URL=${root}/v1`);
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  });

  test("a base URL with /v1 that answers its model list gets no warning", async () => {
    await using up = fakeOpenAI();
    await using gw = await spawnBinary({ OPENAI_BASE_URL: up.url, CHATGATE_RATE_LIMIT_MAX: "0" });
    await gw.waitForOutput(/provider 'openai' answered its model list/);
    expect(gw.output()).not.toContain("warning");
    expect(up.modelsCalls).toBe(1);
  });

  test("an unreachable provider at start-up is a warning, never fatal", async () => {
    const dead = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    const url = `http://127.0.0.1:${dead.port}/v1`;
    await dead.stop(true);
    await using gw = await spawnBinary({ OPENAI_BASE_URL: url, CHATGATE_RATE_LIMIT_MAX: "0" });
    expect((await gw.waitForOutput(/warning: .*did not answer.*/))[0]).toContain(url);
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  });
});

describe("pipelined requests (Bun's server)", () => {
  // Bun 1.4.5's server closes a connection with nothing written when a request arrives pipelined
  // behind one whose handler is still waiting (here on its upstream); no setting changes it
  // (README: known limitations). This records the behaviour: when a Bun upgrade fixes it, this
  // test fails and the README's line goes.
  test("a POST waiting on its upstream with a second request in the same write gets no answer to either; the next connection is served", async () => {
    await using up = fakeOpenAI();
    await using gw = await spawnBinary({ OPENAI_BASE_URL: up.url, CHATGATE_RATE_LIMIT_MAX: "0" });
    up.reply({ kind: "completion", delayMs: 50 });
    const body = JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
    const post = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const pipelined = await rawRequest(gw.url, `${post}GET /health HTTP/1.1\r\nHost: x\r\n\r\n`, 1_500);
    expect(pipelined).toMatchObject({ status: 0, text: "" });
    const alone = await rawRequest(gw.url, post.replace("Host: x", "Host: x\r\nConnection: close"), 5_000);
    expect(alone.status).toBe(200);
  });
});
