// How a stream fails (issue 3, "Streams"): before the first event the client gets a real HTTP
// status and an OpenAI error body; after it, the events that arrived whole, then exactly one
// `data: {"error": …}` event and no `[DONE]`, so a truncated answer is never taken for a whole one.
import { describe, expect, test } from "bun:test";
import { createParser } from "eventsource-parser";
import { APIError } from "openai";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { post, startGateway, type TestGateway } from "./support/gateway.ts";
import { DEFAULT_WORDS, chatCompletionChunks, openAIError, sseEvent } from "./support/openai-wire.ts";
import { readSse, type SseRead } from "./support/sse.ts";
import { fakeOpenAI, type FakeOpenAI, type Reply } from "./support/upstream.ts";

const UPSTREAM_KEY = "sk-upstream-secret";
const IDLE_MS = 200;
/** A cut connection may be reported as a truncated stream or as a broken connection: both are 502 server_error. */
const CUT = { type: "server_error", code: expect.stringMatching(/^upstream_(stream_truncated|connection_error)$/) };
const request = { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: true };


/** The first `count` events the fake sent for its default words, as bytes, ids and times taken from what arrived. */
function upstreamEvents(read: SseRead, count: number): string {
  const first = JSON.parse(read.data[0]!) as ChatCompletionChunk;
  const chunks = chatCompletionChunks("gpt-4o-mini", DEFAULT_WORDS, false).slice(0, count);
  return chunks.map((chunk) => sseEvent({ ...chunk, id: first.id, created: first.created })).join("");
}

interface Setup extends AsyncDisposable {
  up: FakeOpenAI;
  gw: TestGateway;
}

/** A gateway in front of a fresh fake whose next answer is `reply`; `await using` stops both. */
function setUp(reply: Reply, env: Record<string, string> = {}): Setup {
  const up = fakeOpenAI();
  up.reply(reply);
  const gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: UPSTREAM_KEY, ...env });
  return { up, gw, [Symbol.asyncDispose]: () => gw.stop().then(() => up.stop()) };
}

async function expectErrorResponse(res: Response, status: number, error: { type: string; code: unknown }) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toStartWith("application/json");
  const text = await res.text();
  expect(text).not.toContain(UPSTREAM_KEY);
  const body = JSON.parse(text) as { error: Record<string, unknown> };
  expect(Object.keys(body)).toEqual(["error"]);
  expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
  const message = String(body.error.message);
  expect(body.error).toMatchObject({ ...error, message: expect.any(String) });
  return message;
}

/** The body after `prefix`: exactly one OpenAI error event, then the end, no `[DONE]`. */
function expectOneErrorEventAfter(read: SseRead, prefix: string, error: { type: string; code: unknown }) {
  expect(read.status).toBe(200);
  expect(read.text.startsWith(prefix)).toBe(true);
  const rest = read.text.slice(prefix.length);
  const events: string[] = [];
  createParser({ onEvent: (event) => events.push(event.data) }).feed(rest);
  expect(events).toHaveLength(1);
  expect(rest).toBe(`data: ${events[0]}\n\n`);
  const body = JSON.parse(events[0]!) as { error: Record<string, unknown> };
  expect(Object.keys(body)).toEqual(["error"]);
  expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
  expect(body.error).toMatchObject({ ...error, message: expect.any(String) });
  expect(read.data).not.toContain("[DONE]");
}

/** Reads the gateway's stream with the official SDK: the chunks it yielded, then what it threw. */
async function readWithSdk(gw: TestGateway): Promise<{ chunks: ChatCompletionChunk[]; error: unknown }> {
  const chunks: ChatCompletionChunk[] = [];
  try {
    const stream = await gw.client().chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: true });
    for await (const chunk of stream) chunks.push(chunk);
  } catch (error) {
    return { chunks, error };
  }
  return { chunks, error: undefined };
}

describe("a stream that fails before its first event gets a real HTTP status", () => {
  test("upstream 429 with Retry-After → 429 with the upstream's Retry-After and rate-limit error", async () => {
    await using setup = setUp({ kind: "error", status: 429, headers: { "retry-after": "7" } });
    const { up, gw } = setup;
    const res = await post(`${gw.baseURL}/chat/completions`, request);
    expect(res.headers.get("retry-after")).toBe("7");
    await expectErrorResponse(res, 429, { type: "requests", code: "rate_limit_exceeded" });
    expect(up.calls[0]!.body).toMatchObject({ stream: true });
  });

  test("upstream 500 → 502 server_error", async () => {
    await using setup = setUp({ kind: "error", status: 500 });
    const { up, gw } = setup;
    await expectErrorResponse(await post(`${gw.baseURL}/chat/completions`, request), 502, { type: "server_error", code: "upstream_error" });
  });

  test("upstream 401 (chatgate's provider key refused) → 502 naming the provider, never the key", async () => {
    await using setup = setUp({ kind: "error", status: 401 });
    const { up, gw } = setup;
    const message = await expectErrorResponse(await post(`${gw.baseURL}/chat/completions`, request), 502, { type: "server_error", code: "upstream_auth_failed" });
    expect(message).toContain("'openai'");
  });

  test("an upstream that never answers → 504 after CHATGATE_STREAM_IDLE_TIMEOUT_MS, and the upstream call is aborted", async () => {
    await using setup = setUp({ kind: "stall" }, { CHATGATE_STREAM_IDLE_TIMEOUT_MS: String(IDLE_MS) });
    const { up, gw } = setup;
    const started = performance.now();
    await expectErrorResponse(await post(`${gw.baseURL}/chat/completions`, request), 504, { type: "server_error", code: "upstream_timeout" });
    expect(performance.now() - started).toBeGreaterThanOrEqual(IDLE_MS - 5);
    await up.calls[0]!.aborted;
  });

  test("an upstream that sends stream headers but no event → 504, and the upstream call is aborted", async () => {
    await using setup = setUp({ kind: "stream", stallAfterEvents: 0 }, { CHATGATE_STREAM_IDLE_TIMEOUT_MS: String(IDLE_MS) });
    const { up, gw } = setup;
    await expectErrorResponse(await post(`${gw.baseURL}/chat/completions`, request), 504, { type: "server_error", code: "upstream_timeout" });
    await up.calls[0]!.aborted;
  });

  test("a connection reset → 502", async () => {
    await using setup = setUp({ kind: "reset" });
    const { up, gw } = setup;
    await expectErrorResponse(await post(`${gw.baseURL}/chat/completions`, request), 502, { type: "server_error", code: "upstream_connection_error" });
  });

  test("an upstream that answers a stream request with a JSON chat.completion → 502", async () => {
    await using setup = setUp({ kind: "completion" });
    const { up, gw } = setup;
    await expectErrorResponse(await post(`${gw.baseURL}/chat/completions`, request), 502, { type: "server_error", code: "upstream_error" });
  });

  test("a stream cut inside its first event → 502, never half an event", async () => {
    await using setup = setUp({ kind: "stream", cutAfterEvents: 0 });
    const { up, gw } = setup;
    await expectErrorResponse(await post(`${gw.baseURL}/chat/completions`, request), 502, CUT);
  });

  test("POST /chat with stream: true gets the same statuses: upstream 429 → 429 with Retry-After", async () => {
    await using setup = setUp({ kind: "error", status: 429, headers: { "retry-after": "3" } });
    const { up, gw } = setup;
    const res = await post(`${gw.url}/chat`, { message: "hi", stream: true });
    expect(res.headers.get("retry-after")).toBe("3");
    await expectErrorResponse(res, 429, { type: "requests", code: "rate_limit_exceeded" });
  });
});

describe("a stream that fails after its first event ends with one error event and no [DONE]", () => {
  test("an upstream cut mid-stream: the whole events that arrived, never half of the next, then one error event", async () => {
    await using setup = setUp({ kind: "stream", cutAfterEvents: 3 });
    const { up, gw } = setup;
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, request));
    expectOneErrorEventAfter(read, upstreamEvents(read, 3), CUT);
  });

  test("the official SDK raises an APIError for a cut stream after yielding the chunks that arrived", async () => {
    await using setup = setUp({ kind: "stream", cutAfterEvents: 3 });
    const { up, gw } = setup;
    const { chunks, error } = await readWithSdk(gw);
    expect(chunks.map((c) => c.choices[0]?.delta.content)).toEqual(["", "Hello", " from"]);
    expect(error).toBeInstanceOf(APIError);
    expect(error).toMatchObject(CUT);
  });

  test("an upstream that ends cleanly after its finish_reason but without [DONE] is complete: chatgate sends [DONE], usage kept", async () => {
    await using setup = setUp({ kind: "stream", endWithoutDone: true, includeUsage: true });
    const { up, gw } = setup;
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, { ...request, stream_options: { include_usage: true } }));
    expect(read.data.at(-1)).toBe("[DONE]");
    // role, the words, the finish chunk, the usage chunk, then the [DONE] chatgate added.
    expect(read.data).toHaveLength(DEFAULT_WORDS.length + 4);
    expect(JSON.parse(read.data.at(-2)!).usage).toMatchObject({ total_tokens: expect.any(Number) });
    up.reply({ kind: "stream", endWithoutDone: true });
    const { chunks, error } = await readWithSdk(gw);
    expect(error).toBeUndefined();
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("stop");
  });

  test("an upstream that ends cleanly before its finish_reason is a truncation: an error event, no [DONE], and the SDK raises it", async () => {
    await using setup = setUp({ kind: "stream", endAfterEvents: 3 });
    const { up, gw } = setup;
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, request));
    expectOneErrorEventAfter(read, upstreamEvents(read, 3), { type: "server_error", code: "upstream_stream_truncated" });
    expect(JSON.parse(read.data.at(-1)!).error.message).toContain("after 3 events");
    up.reply({ kind: "stream", endAfterEvents: 3 });
    const { chunks, error } = await readWithSdk(gw);
    expect(chunks).toHaveLength(3);
    expect(error).toBeInstanceOf(APIError);
  });

  test("an upstream that goes quiet after some events gets a timeout error event, and the upstream call is aborted", async () => {
    await using setup = setUp({ kind: "stream", stallAfterEvents: 2 }, { CHATGATE_STREAM_IDLE_TIMEOUT_MS: String(IDLE_MS) });
    const { up, gw } = setup;
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, request));
    expectOneErrorEventAfter(read, upstreamEvents(read, 2), { type: "server_error", code: "upstream_timeout" });
    await up.calls[0]!.aborted;
  });

  test("an in-band upstream error event is passed on unchanged and the stream ends there, without [DONE] or a second error", async () => {
    await using setup = setUp({ kind: "stream", errorEventAfter: 2 });
    const { up, gw } = setup;
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, request));
    expect(read.text).toBe(upstreamEvents(read, 2) + sseEvent({ error: openAIError(500) }));
    up.reply({ kind: "stream", errorEventAfter: 2 });
    const { chunks, error } = await readWithSdk(gw);
    expect(chunks).toHaveLength(2);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).message).toContain(openAIError(500).message);
  });

  test("an event with `\"error\": null` is no error: a stream that then ends before its finish_reason gets chatgate's error event, never a silent end", async () => {
    const events = chatCompletionChunks("gpt-4o-mini", DEFAULT_WORDS, false).slice(0, 2).map(sseEvent).join("");
    await using setup = setUp({ kind: "raw", status: 200, contentType: "text/event-stream", body: events + sseEvent({ error: null, choices: [] }) });
    const read = await readSse(await post(`${setup.gw.baseURL}/chat/completions`, request));
    expect(read.data.at(-2)).toBe(JSON.stringify({ error: null, choices: [] }));
    expect(JSON.parse(read.data.at(-1)!)).toMatchObject({ error: { type: "server_error", code: "upstream_stream_truncated" } });
    expect(read.text).not.toContain("[DONE]");
  });

  test("vLLM's in-band error event (`\"object\": \"error\"`) reaches the client in OpenAI's shape, and the SDK raises it", async () => {
    const vllm = { object: "error", message: "The engine is overloaded.", type: "ServiceUnavailableError", param: null, code: 503 };
    const events = chatCompletionChunks("gpt-4o-mini", DEFAULT_WORDS, false).slice(0, 2).map(sseEvent).join("");
    const reply: Reply = { kind: "raw", status: 200, contentType: "text/event-stream", body: events + sseEvent(vllm) };
    await using setup = setUp(reply);
    const { up, gw } = setup;
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, request));
    expect(read.data).toHaveLength(3);
    expect(JSON.parse(read.data[2]!)).toEqual({ error: { message: vllm.message, type: vllm.type, param: null, code: 503 } });
    up.reply(reply);
    const { chunks, error } = await readWithSdk(gw);
    expect(chunks).toHaveLength(2);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).message).toContain(vllm.message);
  });

  test("timeouts longer than a timer can wait (2^31 ms and more) wait as long as one can: answers still come, never an instant 504", async () => {
    const huge = { CHATGATE_TIMEOUT_MS: "2147483648", CHATGATE_STREAM_IDLE_TIMEOUT_MS: "9007199254740991" };
    await using setup = setUp({ kind: "completion", delayMs: 30 }, huge);
    const { up, gw } = setup;
    const json = await post(`${gw.baseURL}/chat/completions`, { ...request, stream: false });
    expect(json.status).toBe(200);
    up.reply({ kind: "stream", delayMs: 10 });
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, request));
    expect(read.data.at(-1)).toBe("[DONE]");
  });

  test("a long, healthy, slow stream outlasts the idle timeout many times over and completes with [DONE]", async () => {
    const words = Array.from({ length: 10 }, (_, i) => ` w${i}`);
    await using setup = setUp({ kind: "stream", words, delayMs: 100 }, { CHATGATE_STREAM_IDLE_TIMEOUT_MS: "400" });
    const { up, gw } = setup;
    const started = performance.now();
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, request));
    expect(performance.now() - started).toBeGreaterThan(3 * 400);
    expect(read.data.at(-1)).toBe("[DONE]");
    const chunks = read.data.slice(0, -1).map((d) => JSON.parse(d) as ChatCompletionChunk);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(words.join(""));
    await up.calls[0]!.finished;
  });

  test("POST /chat with stream: true cut mid-stream sends the content so far, one error event and no [DONE]", async () => {
    await using setup = setUp({ kind: "stream", cutAfterEvents: 3 });
    const { up, gw } = setup;
    const read = await readSse(await post(`${gw.url}/chat`, { message: "hi", stream: true }));
    expectOneErrorEventAfter(read, 'data: {"content":"Hello"}\n\ndata: {"content":" from"}\n\n', CUT);
  });
});
