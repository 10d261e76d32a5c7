// Checks the fake upstream from a client's point of view, so gateway tests can trust what it claims.
import { describe, expect, test } from "bun:test";
import { createParser } from "eventsource-parser";
import net from "node:net";
import type { ChatCompletion, ChatCompletionChunk } from "openai/resources/chat/completions";
import { fakeOpenAI, type FakeOpenAI } from "./upstream.ts";

const chatBody = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], ...extra });

function postChat(fake: FakeOpenAI, extra: Record<string, unknown> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${fake.url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", Authorization: "Bearer sk-test" },
    body: chatBody(extra),
    signal,
  });
}

interface SseRead {
  data: string[];
  chunks: string[];
  error?: unknown;
}

/** Reads an SSE body to its end (or its failure), calling onData as each event completes. */
async function readSse(response: Response, onData?: (data: string[]) => void): Promise<SseRead> {
  const result: SseRead = { data: [], chunks: [] };
  const parser = createParser({
    onEvent: (event) => {
      result.data.push(event.data);
      onData?.(result.data);
    },
  });
  const decoder = new TextDecoder();
  const reader = response.body!.getReader();
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      // A fresh decoder per chunk: sharing the streaming one would corrupt characters split across chunks.
      result.chunks.push(new TextDecoder().decode(read.value));
      parser.feed(decoder.decode(read.value, { stream: true }));
    }
  } catch (error) {
    result.error = error;
  }
  return result;
}

const chunksOf = (read: SseRead) => read.data.filter((d) => d !== "[DONE]").map((d) => JSON.parse(d) as ChatCompletionChunk);
/** What a consumer of the stream cares about, without the per-stream id and timestamp. */
const shape = (read: SseRead) => chunksOf(read).map((c) => ({ choices: c.choices, usage: c.usage }));

function rawExchange(port: string, request: string): Promise<{ bytes: string; error?: string }> {
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), "127.0.0.1", () => socket.write(request));
    let bytes = "";
    let error: string | undefined;
    socket.on("data", (data) => (bytes += data.toString("latin1")));
    socket.on("error", (e: NodeJS.ErrnoException) => (error = e.code));
    socket.on("close", () => resolve({ bytes, error }));
  });
}

describe("fakeOpenAI", () => {
  test("a non-streaming request gets a chat.completion echoing the model and is recorded", async () => {
    await using fake = fakeOpenAI();
    const response = await postChat(fake, { model: "gpt-4o" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json");
    const completion = (await response.json()) as ChatCompletion;
    expect(completion).toEqual({
      id: expect.stringMatching(/^chatcmpl-\w+$/),
      object: "chat.completion",
      created: expect.any(Number),
      model: "gpt-4o",
      choices: [{ index: 0, message: { role: "assistant", content: "Hello from upstream", refusal: null, annotations: [] }, logprobs: null, finish_reason: "stop" }],
      usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
      service_tier: "default",
      system_fingerprint: expect.stringMatching(/^fp_/),
    });
    const call = await fake.nextCall();
    expect(call).toMatchObject({ method: "POST", path: "/v1/chat/completions", rawBody: chatBody({ model: "gpt-4o" }) });
    expect(call.body).toEqual(JSON.parse(chatBody({ model: "gpt-4o" })));
    expect(call.headers.authorization).toBe("Bearer sk-test");
    await call.finished;
    expect(fake.calls).toEqual([call]);
  });

  test("a completion reply uses the scripted content, usage and headers", async () => {
    await using fake = fakeOpenAI();
    const usage = { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 };
    fake.reply({ kind: "completion", content: "scripted", usage, headers: { "x-request-id": "req_1" } });
    const response = await postChat(fake);
    expect(response.headers.get("x-request-id")).toBe("req_1");
    expect(await response.json()).toMatchObject({ choices: [{ message: { content: "scripted" } }], usage });
  });

  test("a streaming request gets role, word and stop chunks then [DONE], with no usage field", async () => {
    await using fake = fakeOpenAI();
    const response = await postChat(fake, { stream: true });
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const read = await readSse(response);
    expect(read.error).toBeUndefined();
    expect(read.data.at(-1)).toBe("[DONE]");
    const chunks = chunksOf(read);
    expect(chunks.map((c) => c.choices[0]?.delta)).toEqual([{ role: "assistant", content: "" }, { content: "Hello" }, { content: " from" }, { content: " upstream" }, {}]);
    expect(chunks.map((c) => c.choices[0]?.finish_reason)).toEqual([null, null, null, null, "stop"]);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({ object: "chat.completion.chunk", model: "gpt-4o-mini", system_fingerprint: expect.any(String), created: expect.any(Number) });
      expect(chunk.choices[0]?.logprobs).toBeNull();
      expect("usage" in chunk).toBe(false);
    }
    await (await fake.nextCall()).finished;
  });

  test("include_usage puts usage: null on every chunk and appends a choices-less usage chunk", async () => {
    await using fake = fakeOpenAI();
    fake.reply({ kind: "stream", words: ["a", "b"] });
    const read = await readSse(await postChat(fake, { stream: true, stream_options: { include_usage: true } }));
    expect(read.data.at(-1)).toBe("[DONE]");
    const chunks = chunksOf(read);
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } });
  });

  test("includeUsage on the reply overrides what the request asked for", async () => {
    await using fake = fakeOpenAI();
    fake.reply({ kind: "stream", includeUsage: true }, { kind: "stream", includeUsage: false });
    expect(chunksOf(await readSse(await postChat(fake, { stream: true }))).at(-1)?.usage).toEqual({ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
    const suppressed = chunksOf(await readSse(await postChat(fake, { stream: true, stream_options: { include_usage: true } })));
    expect(suppressed.some((c) => "usage" in c)).toBe(false);
  });

  test("splitBytes delivers many small writes that reassemble into the same events", async () => {
    await using fake = fakeOpenAI();
    fake.reply({ kind: "stream", words: ["naïve", " café ☕"] }, { kind: "stream", words: ["naïve", " café ☕"], splitBytes: 11 });
    const whole = await readSse(await postChat(fake, { stream: true }));
    const split = await readSse(await postChat(fake, { stream: true }));
    expect(split.error).toBeUndefined();
    expect(shape(split)).toEqual(shape(whole));
    expect(split.data.at(-1)).toBe("[DONE]");
    expect(split.chunks.length).toBeGreaterThan(whole.data.length);
    expect(split.chunks.some((chunk) => !chunk.endsWith("\n\n"))).toBe(true);
  });

  test("cutAfterEvents delivers N whole events, then the body read fails without [DONE]", async () => {
    await using fake = fakeOpenAI();
    fake.reply({ kind: "stream", cutAfterEvents: 2 });
    const response = await postChat(fake, { stream: true });
    expect(response.status).toBe(200);
    const read = await readSse(response);
    expect(read.error).toBeInstanceOf(Error);
    expect((read.error as NodeJS.ErrnoException).code).toBe("ECONNRESET");
    expect(read.data).toHaveLength(2);
    expect(read.chunks.join("").endsWith("\n\n")).toBe(false);
  });

  test("stallAfterEvents goes quiet after N events until the client aborts, which resolves aborted", async () => {
    await using fake = fakeOpenAI();
    fake.reply({ kind: "stream", stallAfterEvents: 2 });
    const controller = new AbortController();
    const response = await postChat(fake, { stream: true }, controller.signal);
    const read = await readSse(response, (data) => data.length === 2 && controller.abort());
    expect(read.data).toHaveLength(2);
    expect((read.error as Error).name).toBe("AbortError");
    await (await fake.nextCall()).aborted;
  });

  test("an abort during a stream's delayMs gap resolves aborted without waiting out the delay", async () => {
    await using fake = fakeOpenAI();
    fake.reply({ kind: "stream", delayMs: 60_000 });
    const controller = new AbortController();
    const read = await readSse(await postChat(fake, { stream: true }, controller.signal), () => controller.abort());
    expect(read.data).toHaveLength(1);
    await (await fake.nextCall()).aborted;
  });

  test("endWithoutDone ends the body cleanly after the last chunk without [DONE]", async () => {
    await using fake = fakeOpenAI();
    fake.reply({ kind: "stream", endWithoutDone: true });
    const read = await readSse(await postChat(fake, { stream: true }));
    expect(read.error).toBeUndefined();
    expect(read.data).not.toContain("[DONE]");
    expect(chunksOf(read).at(-1)?.choices[0]?.finish_reason).toBe("stop");
    await (await fake.nextCall()).finished;
  });

  test("errorEventAfter sends an OpenAI error object as an event and ends cleanly without [DONE]", async () => {
    await using fake = fakeOpenAI();
    fake.reply({ kind: "stream", errorEventAfter: 2 });
    const read = await readSse(await postChat(fake, { stream: true }));
    expect(read.error).toBeUndefined();
    expect(read.data).toHaveLength(3);
    expect(JSON.parse(read.data[2]!)).toEqual({
      error: { message: "The server had an error while processing your request. Sorry about that!", type: "server_error", param: null, code: null },
    });
  });

  test("error replies carry the exact OpenAI error body, status and extra headers", async () => {
    await using fake = fakeOpenAI();
    const custom = { message: "nope", type: "invalid_request_error", param: "messages", code: null };
    fake.reply({ kind: "error", status: 429, headers: { "retry-after": "7" } }, { kind: "error", status: 401 }, { kind: "error", status: 400, error: custom });
    const limited = await postChat(fake);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("7");
    expect(limited.headers.get("content-type")).toBe("application/json");
    expect(await limited.json()).toEqual({ error: { message: expect.stringContaining("Rate limit reached"), type: "requests", param: null, code: "rate_limit_exceeded" } });
    const unauthorized = await postChat(fake);
    expect(await unauthorized.json()).toEqual({ error: { message: "Incorrect API key provided: sk-up***cret", type: "invalid_request_error", param: null, code: "invalid_api_key" } });
    expect(await (await postChat(fake)).json()).toEqual({ error: custom });
  });

  test("a raw reply sends its body verbatim with the given status and content type", async () => {
    await using fake = fakeOpenAI();
    fake.reply({ kind: "raw", status: 200, body: "{not json" }, { kind: "raw", status: 502, body: "<html>bad gateway</html>", contentType: "text/html" });
    const invalid = await postChat(fake);
    expect([invalid.status, invalid.headers.get("content-type"), await invalid.text()]).toEqual([200, "application/json", "{not json"]);
    const html = await postChat(fake);
    expect([html.status, html.headers.get("content-type"), await html.text()]).toEqual([502, "text/html", "<html>bad gateway</html>"]);
  });

  test("cutBody sends status 200 and part of a JSON body, then the body read fails", async () => {
    await using fake = fakeOpenAI();
    fake.reply({ kind: "cutBody" });
    const response = await postChat(fake);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json");
    const reader = response.body!.getReader();
    let received = "";
    const error = await (async () => {
      for (let read = await reader.read(); !read.done; read = await reader.read()) received += new TextDecoder().decode(read.value);
    })().then(() => undefined, (e: NodeJS.ErrnoException) => e);
    expect(error?.code).toBe("ECONNRESET");
    expect(received).toStartWith('{"id":"chatcmpl-');
    expect(() => JSON.parse(received)).toThrow();
  });

  test("a reset reply makes fetch fail with a network error and no HTTP response bytes at all", async () => {
    await using fake = fakeOpenAI();
    fake.reply({ kind: "reset" }, { kind: "reset" });
    const error = await postChat(fake).then(() => undefined, (e: NodeJS.ErrnoException) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect(error?.code).toBe("ECONNRESET");
    const body = chatBody();
    const port = new URL(fake.url).port;
    const raw = await rawExchange(port, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    expect(raw).toEqual({ bytes: "", error: "ECONNRESET" });
    expect(fake.calls).toHaveLength(2);
  });

  test("a stall reply never sends headers, and aborting the fetch resolves aborted", async () => {
    await using fake = fakeOpenAI();
    fake.reply({ kind: "stall" });
    const controller = new AbortController();
    const pending = postChat(fake, {}, controller.signal).then(() => "response", (e: Error) => e.name);
    const call = await fake.nextCall();
    controller.abort();
    expect(await pending).toBe("AbortError");
    await call.aborted;
  });

  test("a delayed completion gives up its timer when the client aborts", async () => {
    await using fake = fakeOpenAI();
    fake.reply({ kind: "completion", delayMs: 60_000 });
    const controller = new AbortController();
    const pending = postChat(fake, {}, controller.signal).catch((e: Error) => e.name);
    const call = await fake.nextCall();
    controller.abort();
    expect(await pending).toBe("AbortError");
    await call.aborted;
  });

  test("stop() force-closes a stalled call", async () => {
    const fake = fakeOpenAI();
    fake.reply({ kind: "stall" });
    const pending = postChat(fake).then(() => "response", () => "network error");
    const call = await fake.nextCall();
    await fake.stop();
    expect(await pending).toBe("network error");
    await call.aborted;
  });

  test("queued replies are used in order, then the default answers again", async () => {
    await using fake = fakeOpenAI();
    fake.reply({ kind: "error", status: 500 }, { kind: "completion", content: "second" });
    expect((await postChat(fake)).status).toBe(500);
    expect(await (await postChat(fake)).json()).toMatchObject({ choices: [{ message: { content: "second" } }] });
    expect(await (await postChat(fake)).json()).toMatchObject({ choices: [{ message: { content: "Hello from upstream" } }] });
  });

  test("nextCall hands out arrived calls oldest first and waits for calls not yet made", async () => {
    await using fake = fakeOpenAI();
    const waiting = fake.nextCall();
    await (await postChat(fake, { model: "first" })).text();
    await (await postChat(fake, { model: "second" })).text();
    expect(((await waiting).body as { model: string }).model).toBe("first");
    expect(((await fake.nextCall()).body as { model: string }).model).toBe("second");
    expect(fake.calls).toHaveLength(2);
  });

  test("a body that is not JSON is recorded raw with body undefined", async () => {
    await using fake = fakeOpenAI();
    await (await fetch(`${fake.url}/chat/completions`, { method: "POST", body: "not json" })).text();
    expect(fake.calls[0]).toMatchObject({ rawBody: "not json", body: undefined });
  });

  test("GET /v1/models lists the current models and counts calls; /v1/models/{id} finds one or 404s", async () => {
    await using fake = fakeOpenAI({ models: ["m-1"] });
    fake.models.push("m-2");
    expect(await (await fetch(`${fake.url}/models`)).json()).toEqual({
      object: "list",
      data: [
        { id: "m-1", object: "model", created: 1686935002, owned_by: "openai" },
        { id: "m-2", object: "model", created: 1686935002, owned_by: "openai" },
      ],
    });
    expect(fake.modelsCalls).toBe(1);
    expect(await (await fetch(`${fake.url}/models/m-2`)).json()).toEqual({ id: "m-2", object: "model", created: 1686935002, owned_by: "openai" });
    const missing = await fetch(`${fake.url}/models/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { message: "The model 'nope' does not exist", type: "invalid_request_error", param: "model", code: "model_not_found" } });
    expect(fake.calls).toHaveLength(0);
  });

  test("any other path gets a 404 OpenAI error", async () => {
    await using fake = fakeOpenAI();
    const response = await fetch(`${fake.url}/fine_tuning/jobs`, { method: "POST", body: "{}" });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { message: "Invalid URL (POST /v1/fine_tuning/jobs)", type: "invalid_request_error", param: null, code: null } });
  });
});
