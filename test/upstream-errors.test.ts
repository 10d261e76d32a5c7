// How upstream failures reach the client of a non-streamed call: the upstream's own 4xx and 429
// as they are, its refusal of chatgate's key as a 502 that names the provider (never the key),
// everything broken as a 502, silence as a 504. The same for /chat and /v1/models.
import { describe, expect, test } from "bun:test";
import type { ChatCompletionCreateParamsNonStreaming } from "openai/resources/chat/completions";
import { APIError } from "openai";
import { post, startGateway } from "./support/gateway.ts";
import { fakeOpenAI } from "./support/upstream.ts";
import { openAIError, type OpenAIError } from "./support/openai-wire.ts";
import { expectOpenAIError } from "./errors-shape.ts";

const KEY = "sk-proj-UPSTREAM-KEY-q7Zx4T9vLm2Rk8Wc";
const ask: ChatCompletionCreateParamsNonStreaming = { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] };

/** Asserts the upstream key is nowhere in what the client got: body, header names or values. */
function expectNoKey(response: Response, text: string): void {
  const everything = text + JSON.stringify([...response.headers]);
  expect(everything).not.toContain(KEY);
  expect(everything).not.toContain(KEY.slice(-12));
}

/** Sends `body` and checks the OpenAI error that comes back, and that it leaks no key. */
async function expectError(url: string, body: unknown, status: number, expected: Partial<OpenAIError> = {}): Promise<{ error: OpenAIError; response: Response }> {
  const response = await post(url, body);
  const copy = response.clone();
  expectNoKey(response, await copy.text());
  return { error: await expectOpenAIError(response, status, expected), response };
}

/** A port nothing listens on: taken from a server that is then stopped. */
async function closedPort(): Promise<number> {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = server.port!;
  await server.stop(true);
  return port;
}

/** A bare upstream for /v1/models, whose replies the fake cannot script: one handler per call, in order. */
function modelsUpstream(replies: Array<(request: Request) => Response | Promise<Response>>) {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (request) => replies.shift()?.(request) ?? new Response("no reply scripted", { status: 500 }) });
  return { url: `http://127.0.0.1:${server.port}/v1`, [Symbol.asyncDispose]: () => server.stop(true) };
}
const until = (request: Request) => new Promise<Response>((resolve) => request.signal.addEventListener("abort", () => resolve(new Response(null)), { once: true }));

describe("upstream 4xx and 429 on /v1/chat/completions", () => {
  const clientErrors: Array<[string, number, OpenAIError]> = [
    ["a 400", 400, { message: "Invalid 'messages[0].content': string too long.", type: "invalid_request_error", param: "messages[0].content", code: "string_above_max_length" }],
    ["a 404 model_not_found", 404, openAIError(404, "gpt-4o")],
    ["a 422", 422, { message: "Unprocessable entity.", type: "invalid_request_error", param: null, code: null }],
  ];
  test.each(clientErrors)("%s from the upstream reaches the client with the same status and error", async (_, status, error) => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: KEY });
    up.reply({ kind: "error", status, error }, { kind: "error", status, error });
    const got = await expectError(`${gw.baseURL}/chat/completions`, ask, status);
    expect(got.error).toEqual(error);
    const viaSdk = await gw.client().chat.completions.create(ask).catch((e: unknown) => e);
    expect(viaSdk).toBeInstanceOf(APIError);
    expect(viaSdk).toMatchObject({ status, code: error.code, param: error.param, type: error.type });
  });

  test("an upstream error message that echoes the provider key reaches the client without it", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: KEY });
    up.reply({ kind: "error", status: 400, error: { message: `Key ${KEY} may not use tools.`, type: "invalid_request_error", param: "tools", code: null } });
    const { error } = await expectError(`${gw.baseURL}/chat/completions`, ask, 400, { param: "tools" });
    expect(error.message).toContain("may not use tools");
  });

  test("an upstream 429 is a 429 with the same error and its Retry-After passed on", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: KEY });
    const error = openAIError(429, "gpt-4o");
    up.reply({ kind: "error", status: 429, error, headers: { "retry-after": "17" } });
    const got = await expectError(`${gw.baseURL}/chat/completions`, ask, 429);
    expect(got.error).toEqual(error);
    expect(got.response.headers.get("retry-after")).toBe("17");
  });
});

describe("upstream failures that are chatgate's problem, on /v1/chat/completions", () => {
  test.each([401, 403])("an upstream %p (our provider key refused) is a 502 naming the provider, never the key", async (status) => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: KEY });
    up.reply({ kind: "error", status, error: { message: `Incorrect API key provided: ${KEY}.`, type: "invalid_request_error", param: null, code: "invalid_api_key" } });
    const { error } = await expectError(`${gw.baseURL}/chat/completions`, ask, 502, { type: "server_error" });
    expect(error.message).toContain("openai");
    expect(error.code).not.toBe("invalid_api_key");
    expect((await up.nextCall()).headers.authorization).toBe(`Bearer ${KEY}`);
  });

  test.each([500, 502, 503])("an upstream %p is a 502", async (status) => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: KEY });
    up.reply({ kind: "error", status });
    await expectError(`${gw.baseURL}/chat/completions`, ask, 502, { type: "server_error" });
  });

  const broken: Array<[string, () => Parameters<ReturnType<typeof fakeOpenAI>["reply"]>[0]]> = [
    ["a 200 whose body is not JSON", () => ({ kind: "raw", status: 200, body: '{"id": "chatcmpl-1", "choices": [' })],
    ["a 200 HTML page", () => ({ kind: "raw", status: 200, body: "<html><body>Bad gateway</body></html>", contentType: "text/html" })],
    ["a 200 JSON that is not a chat completion", () => ({ kind: "raw", status: 200, body: '{"object":"list","data":[]}' })],
    ["a body cut in the middle", () => ({ kind: "cutBody" })],
    ["a connection reset before any byte", () => ({ kind: "reset" })],
  ];
  test.each(broken)("%s is a 502", async (_, reply) => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: KEY });
    up.reply(reply());
    await expectError(`${gw.baseURL}/chat/completions`, ask, 502, { type: "server_error" });
    expect(up.calls).toHaveLength(1);
  });

  test("a refused connection is a 502 within a second", async () => {
    await using gw = startGateway({ OPENAI_BASE_URL: `http://127.0.0.1:${await closedPort()}/v1`, OPENAI_API_KEY: KEY });
    const started = performance.now();
    const { error } = await expectError(`${gw.baseURL}/chat/completions`, ask, 502, { type: "server_error" });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(error.message).toContain("openai");
  });

  test("no answer within CHATGATE_TIMEOUT_MS is a 504, and the upstream call is aborted", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: KEY, CHATGATE_TIMEOUT_MS: "300" });
    up.reply({ kind: "stall" });
    const started = performance.now();
    await expectError(`${gw.baseURL}/chat/completions`, ask, 504, { type: "server_error", code: "upstream_timeout" });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(2000);
    await up.calls[0]!.aborted;
  });
});

describe("upstream failures on POST /chat", () => {
  test("/chat maps upstream failures like the OpenAI route: 404, 429 with Retry-After, 401 → 502, stall → 504", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: KEY, CHATGATE_TIMEOUT_MS: "300" });
    const chat = `${gw.url}/chat`;
    up.reply({ kind: "error", status: 404 }, { kind: "error", status: 429, headers: { "retry-after": "9" } }, { kind: "error", status: 401 }, { kind: "stall" });
    expect((await expectError(chat, { message: "hi", model: "gpt-5-nope" }, 404)).error).toEqual(openAIError(404, "gpt-5-nope"));
    expect((await expectError(chat, { message: "hi" }, 429, { code: "rate_limit_exceeded" })).response.headers.get("retry-after")).toBe("9");
    await expectError(chat, { message: "hi" }, 502, { type: "server_error" });
    await expectError(chat, { message: "hi" }, 504, { code: "upstream_timeout" });
  });
});

describe("upstream failures on GET /v1/models", () => {
  const get = async (url: string, status: number, expected: Partial<OpenAIError> = {}) => {
    const response = await fetch(url);
    expectNoKey(response, await response.clone().text());
    return { error: await expectOpenAIError(response, status, expected), response };
  };

  test("401, 5xx and invalid JSON from the upstream's /models are 502s; a 429 keeps its Retry-After", async () => {
    await using up = modelsUpstream([
      () => Response.json({ error: { message: `Incorrect API key provided: ${KEY}`, type: "invalid_request_error", param: null, code: "invalid_api_key" } }, { status: 401 }),
      () => Response.json({ error: openAIError(500) }, { status: 500 }),
      () => new Response("{not json", { headers: { "content-type": "application/json" } }),
      () => Response.json({ error: openAIError(429) }, { status: 429, headers: { "retry-after": "4" } }),
      () => Response.json({ error: openAIError(503) }, { status: 503 }),
    ]);
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: KEY });
    expect((await get(`${gw.baseURL}/models`, 502, { type: "server_error" })).error.message).toContain("openai");
    await get(`${gw.baseURL}/models`, 502, { type: "server_error" });
    await get(`${gw.baseURL}/models`, 502, { type: "server_error" });
    expect((await get(`${gw.baseURL}/models`, 429)).response.headers.get("retry-after")).toBe("4");
    // Retrieving one model needs the list too: a broken upstream is a 502, not a 404.
    await get(`${gw.baseURL}/models/gpt-4o`, 502, { type: "server_error" });
  });

  test("a refused connection for /models is a 502 within a second", async () => {
    await using gw = startGateway({ OPENAI_BASE_URL: `http://127.0.0.1:${await closedPort()}/v1`, OPENAI_API_KEY: KEY });
    const started = performance.now();
    await get(`${gw.baseURL}/models`, 502, { type: "server_error" });
    expect(performance.now() - started).toBeLessThan(1000);
  });

  test("an upstream /models that never answers is a 504 after CHATGATE_TIMEOUT_MS", async () => {
    await using up = modelsUpstream([until]);
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: KEY, CHATGATE_TIMEOUT_MS: "300" });
    const started = performance.now();
    await get(`${gw.baseURL}/models`, 504, { code: "upstream_timeout" });
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
