// The Anthropic provider against a fake Anthropic API over real HTTP: what goes upstream, JSON and
// streamed answers, the commit rule (nothing yielded before the first content), truncations,
// timeouts, aborts, redirects and redaction; and one stream read by the official openai SDK.
import { describe, expect, spyOn, test } from "bun:test";
import OpenAI from "openai";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { GatewayError } from "../src/errors.ts";
import { AnthropicProvider, type AnthropicProviderOptions } from "../src/providers/anthropic/provider.ts";
import type { ChatCall } from "../src/providers/provider.ts";
import type { ChatRequest } from "../src/schema.ts";
import { message, messageEvents, modelInfo, sse } from "./support/anthropic-wire.ts";
import { fakeAnthropic, type FakeAnthropic } from "./support/fake-anthropic.ts";

const KEY = "sk-ant-api03-test-secret";
const TIMEOUTS = { firstByteMs: 5_000, idleMs: 5_000, totalMs: 20_000 };
const TOOLS = [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }];

const providerFor = (fake: FakeAnthropic, options: Partial<AnthropicProviderOptions> = {}) =>
  new AnthropicProvider({ id: "claude", baseUrl: fake.url, apiKey: KEY, timeouts: TIMEOUTS, ...options });

function call(extra: Record<string, unknown> = {}): ChatCall {
  const body = { model: "smart", messages: [{ role: "user", content: "Hi" }], ...extra } as ChatRequest;
  return { body, raw: JSON.stringify(body) };
}

/** The same request as a client of `POST /v1/messages` sends it: answered in Anthropic's own format. */
function nativeCall(): ChatCall {
  const body = { model: "claude-sonnet-4-5", max_tokens: 100, stream: true, messages: [{ role: "user", content: "Hi" }] };
  const raw = JSON.stringify(body);
  return { ...call({ stream: true }), native: { format: "anthropic", raw, body } };
}

const sseOf = (m: ReturnType<typeof message>) => messageEvents(m).map(sse);

/** Events a proxy garbled: cut-off JSON in the preamble, then, among the deltas, an array and cut-off JSON. */
const GARBLED = [
  "event: ping\ndata: {\"type\":\"pi\n\n",
  "event: content_block_delta\ndata: [1,2]\n\n",
  "event: content_block_delta\ndata: {garbage\n\n",
];

/** The events with GARBLED among them: one after ping, two after the first text delta. */
function withGarbled(events: string[]): string {
  const out = [...events];
  const first = out.findIndex((e) => e.includes("text_delta"));
  out.splice(first + 1, 0, GARBLED[1]!, GARBLED[2]!);
  out.splice(2, 0, GARBLED[0]!);
  return out.join("");
}

const signal = () => new AbortController().signal;
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const dataOf = (text: string) => [...text.matchAll(/^data: (.*)$/gm)].map((m) => m[1]!);
const chunksOf = (text: string) => dataOf(text).filter((d) => d !== "[DONE]").map((d) => JSON.parse(d) as ChatCompletionChunk);

async function failure(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error("expected a GatewayError");
}

async function readAll(events: AsyncIterable<Uint8Array>): Promise<{ text: string; yields: number; error?: GatewayError }> {
  let text = "";
  let yields = 0;
  try {
    for await (const bytes of events) {
      text += decode(bytes);
      yields++;
    }
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    return { text, yields, error: err };
  }
  return { text, yields };
}

describe("AnthropicProvider, JSON", () => {
  test("sends the translated request to /v1/messages with x-api-key and anthropic-version, and returns a ChatCompletion", async () => {
    await using fake = fakeAnthropic();
    fake.reply({ kind: "message", model: "claude-sonnet-4-5-20250929", usage: { input_tokens: 9, cache_read_input_tokens: 3, output_tokens: 4 } });
    const { completion, json } = await providerFor(fake).complete(call({ max_tokens: 100 }), { signal: signal(), model: "claude-sonnet-4-5" });
    const sent = await fake.nextCall();
    expect(sent.path).toBe("/v1/messages");
    expect(sent.headers).toMatchObject({ "x-api-key": KEY, "anthropic-version": "2023-06-01", "content-type": "application/json" });
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.body).toEqual({ model: "claude-sonnet-4-5", max_tokens: 100, messages: [{ role: "user", content: "Hi" }] });
    expect(completion).toMatchObject({
      object: "chat.completion",
      model: "claude-sonnet-4-5-20250929",
      choices: [{ index: 0, message: { role: "assistant", content: "Hello from Claude" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16, prompt_tokens_details: { cached_tokens: 3 } },
    });
    expect(json).toBe(JSON.stringify(completion));
  });

  test("the configured anthropic-version and extra headers go upstream; the client's model is sent when no upstream model is given", async () => {
    await using fake = fakeAnthropic();
    await providerFor(fake, { version: "2024-01-01", headers: { "anthropic-beta": "prompt-caching-2024-07-31" } }).complete(call(), { signal: signal() });
    const sent = await fake.nextCall();
    expect(sent.headers).toMatchObject({ "anthropic-version": "2024-01-01", "anthropic-beta": "prompt-caching-2024-07-31" });
    expect((sent.body as { model: string }).model).toBe("smart");
  });

  test("an unsupported parameter is a 400 before any upstream call; with drop_params it is dropped and listed", async () => {
    await using fake = fakeAnthropic();
    expect(await failure(providerFor(fake).complete(call({ n: 2 }), { signal: signal() }))).toMatchObject({ status: 400, param: "n", code: "unsupported_parameter" });
    expect(fake.calls).toHaveLength(0);
    const { dropped } = await providerFor(fake, { dropParams: true }).complete(call({ n: 2, seed: 1 }), { signal: signal() });
    expect(dropped).toEqual(["n", "seed"]);
    expect(Object.keys((await fake.nextCall()).body as object)).not.toContain("n");
  });

  test("429 keeps retry-after; 529 is a retryable 503; our key refused is a 502 naming the provider", async () => {
    await using fake = fakeAnthropic();
    fake.reply(
      { kind: "error", type: "rate_limit_error", headers: { "retry-after": "3" } },
      { kind: "error", type: "overloaded_error" },
      { kind: "error", type: "authentication_error", message: `invalid x-api-key ${KEY}` },
    );
    const provider = providerFor(fake);
    expect(await failure(provider.complete(call(), { signal: signal() }))).toMatchObject({ status: 429, retryAfterMs: 3000, upstreamStatus: 429 });
    expect(await failure(provider.complete(call(), { signal: signal() }))).toMatchObject({ status: 503, retryable: true, upstreamStatus: 529 });
    const auth = await failure(provider.complete(call(), { signal: signal() }));
    expect(auth).toMatchObject({ status: 502, code: "upstream_auth_failed", upstreamStatus: 401 });
    expect(auth.message).toContain("'claude'");
  });

  test("the provider key is redacted from an upstream message that quotes it", async () => {
    await using fake = fakeAnthropic();
    fake.reply({ kind: "error", type: "invalid_request_error", message: `messages.0: key ${KEY} is not a message` });
    const error = await failure(providerFor(fake).complete(call(), { signal: signal() }));
    expect(error.status).toBe(400);
    expect(error.message).toBe("messages.0: key *** is not a message");
  });

  test("a redirect is never followed: 502 naming the provider, and the target gets nothing", async () => {
    await using fake = fakeAnthropic();
    await using elsewhere = fakeAnthropic();
    fake.reply({ kind: "raw", status: 307, body: "", headers: { location: `${elsewhere.url}/v1/messages` } });
    expect(await failure(providerFor(fake).complete(call(), { signal: signal() }))).toMatchObject({ status: 502, code: "upstream_redirect" });
    expect(elsewhere.calls).toHaveLength(0);
  });

  test("no answer within the total timeout is a 504, and the upstream call is cancelled", async () => {
    await using fake = fakeAnthropic();
    fake.reply({ kind: "stall" });
    const error = await failure(providerFor(fake, { timeouts: { firstByteMs: 50, idleMs: 50, totalMs: 150 } }).complete(call(), { signal: signal() }));
    expect(error).toMatchObject({ status: 504, code: "upstream_timeout" });
    expect(error.message).toContain("no complete answer within 150 ms");
    await (await fake.nextCall()).aborted;
  });

  test("a JSON answer over maxUpstreamBytes is a 502", async () => {
    await using fake = fakeAnthropic();
    fake.reply({ kind: "message", content: [{ type: "text", text: "x".repeat(5000) }] });
    expect(await failure(providerFor(fake, { maxUpstreamBytes: 1000 }).complete(call(), { signal: signal() }))).toMatchObject({ status: 502, code: "upstream_response_too_large" });
  });
});

describe("AnthropicProvider, streams", () => {
  test("streams text as OpenAI chunks with one id and the upstream's model; usage only when asked, [DONE] at the end", async () => {
    await using fake = fakeAnthropic();
    fake.reply({ kind: "stream", model: "claude-sonnet-4-5-20250929", content: [{ type: "text", text: "One two three" }] }, { kind: "stream" });
    const provider = providerFor(fake);
    const events = await provider.stream(call({ stream: true, stream_options: { include_usage: true } }), { signal: signal(), model: "claude-sonnet-4-5" });
    const { text, error } = await readAll(events);
    expect(error).toBeUndefined();
    const chunks = chunksOf(text);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe("One two three");
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(new Set(chunks.map((c) => c.model))).toEqual(new Set(["claude-sonnet-4-5-20250929"]));
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 6 } });
    expect(dataOf(text).at(-1)).toBe("[DONE]");
    expect(events.seen).toMatchObject({ done: true });
    expect(((await fake.nextCall()).body as { stream: boolean }).stream).toBe(true);

    const plain = await readAll(await provider.stream(call({ stream: true }), { signal: signal() }));
    expect(chunksOf(plain.text).every((c) => !("usage" in c))).toBe(true);
  });

  test("tool calls and thinking stream as tool_calls deltas and reasoning_content", async () => {
    await using fake = fakeAnthropic();
    fake.reply({
      kind: "stream",
      stopReason: "tool_use",
      content: [
        { type: "thinking", thinking: "Two cities, two calls.", signature: "sig-abc" },
        { type: "tool_use", id: "toolu_A", name: "get_weather", input: { city: "Paris" } },
        { type: "tool_use", id: "toolu_B", name: "get_weather", input: { city: "Oslo" } },
      ],
    });
    const { text } = await readAll(await providerFor(fake).stream(call({ stream: true, tools: TOOLS, reasoning_effort: "low" }), { signal: signal() }));
    const deltas = chunksOf(text).map((c) => c.choices[0]?.delta as (ChatCompletionChunk.Choice.Delta & { reasoning_content?: string }) | undefined);
    expect(deltas.map((d) => d?.reasoning_content ?? "").join("")).toBe("Two cities, two calls.");
    const args = ["", ""];
    for (const call of deltas.flatMap((d) => d?.tool_calls ?? [])) args[call.index] += call.function?.arguments ?? "";
    expect(args.map((a) => JSON.parse(a))).toEqual([{ city: "Paris" }, { city: "Oslo" }]);
    expect(chunksOf(text).at(-1)?.choices[0]?.finish_reason).toBe("tool_calls");
    expect(text).not.toContain("sig-abc");
    expect((fake.calls[0]!.body as { thinking: unknown }).thinking).toEqual({ type: "enabled", budget_tokens: 2048 });
  });

  test("an overloaded error right after the preamble fails before the first yield", async () => {
    await using fake = fakeAnthropic();
    fake.reply({ kind: "stream", errorAfterEvents: 2, errorType: "overloaded_error" });
    const events = await providerFor(fake).stream(call({ stream: true }), { signal: signal() });
    const { yields, error } = await readAll(events);
    expect(yields).toBe(0);
    expect(error).toMatchObject({ status: 503, code: "upstream_overloaded", retryable: true, upstreamStatus: 529 });
  });

  test("a stream cut after the first content yields that content, then throws a truncation naming the event count", async () => {
    await using fake = fakeAnthropic();
    // Spaced out: a reset can discard bytes the client had not read yet (the body stream errors, dropping its queue).
    fake.reply({ kind: "stream", content: [{ type: "text", text: "alpha beta gamma delta" }], cutAfterEvents: 5, delayMs: 10 });
    const { text, yields, error } = await readAll(await providerFor(fake).stream(call({ stream: true }), { signal: signal() }));
    expect(yields).toBeGreaterThan(0);
    expect(chunksOf(text).map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe("alpha beta ");
    expect(dataOf(text)).not.toContain("[DONE]");
    expect(error).toMatchObject({ status: 502, code: "upstream_stream_truncated" });
    expect(error!.message).toMatch(/after 5 events/);
  });

  test("a stream that ends without message_stop is a truncation", async () => {
    await using fake = fakeAnthropic();
    fake.reply({ kind: "stream", endWithoutStop: true });
    const { text, error } = await readAll(await providerFor(fake).stream(call({ stream: true }), { signal: signal() }));
    expect(dataOf(text)).not.toContain("[DONE]");
    expect(error).toMatchObject({ code: "upstream_stream_truncated" });
    expect(error!.message).toContain("without message_stop");
  });

  test("a malformed event is dropped and the stream completes", async () => {
    await using fake = fakeAnthropic();
    fake.reply({ kind: "stream", malformedAfterEvents: 4, splitBytes: 5 });
    const events = await providerFor(fake).stream(call({ stream: true }), { signal: signal() });
    const { text, error } = await readAll(events);
    expect(error).toBeUndefined();
    expect(chunksOf(text).map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe("Hello from Claude");
    expect(events.malformedEvents).toBe(1);
  });

  test("garbled events (not JSON, or JSON but no object) are dropped, counted on seen and told once in one warning", async () => {
    await using fake = fakeAnthropic();
    fake.reply({ kind: "stream", raw: withGarbled(sseOf(message())) }, { kind: "stream" });
    using warn = spyOn(console, "warn").mockImplementation(() => {});
    const events = await providerFor(fake).stream(call({ stream: true }), { signal: signal() });
    const { text, error } = await readAll(events);
    expect(error).toBeUndefined();
    expect(chunksOf(text).map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe("Hello from Claude");
    expect(text).not.toContain("garbage");
    expect(text).not.toContain("[1,2]");
    expect(events.seen.dropped).toBe(GARBLED.length);
    expect(warn.mock.calls).toEqual([[`chatgate: dropped ${GARBLED.length} event(s) from provider 'claude' whose data was not a JSON object`]]);

    // A clean stream says nothing.
    warn.mockClear();
    const clean = await providerFor(fake).stream(call({ stream: true }), { signal: signal() });
    await readAll(clean);
    expect(clean.seen.dropped).toBe(0);
    expect(warn).not.toHaveBeenCalled();
  });

  test("garbled events on a native stream reach the client as they came, counted and told once in one warning", async () => {
    await using fake = fakeAnthropic();
    const raw = withGarbled(sseOf(message()));
    fake.reply({ kind: "stream", raw }, { kind: "stream", raw, splitBytes: 5 });
    using warn = spyOn(console, "warn").mockImplementation(() => {});
    for (const _ of ["whole events", "5-byte reads"]) {
      warn.mockClear();
      const events = await providerFor(fake).stream(nativeCall(), { signal: signal() });
      const { text, error } = await readAll(events);
      expect(error).toBeUndefined();
      expect(text).toBe(raw);
      expect(events.malformedEvents).toBe(GARBLED.length);
      expect(warn.mock.calls).toEqual([[`chatgate: passed on ${GARBLED.length} event(s) from provider 'claude' whose data was not a JSON object`]]);
    }
  });

  test("no headers within first_byte is a 504 from stream() itself", async () => {
    await using fake = fakeAnthropic();
    fake.reply({ kind: "stall" });
    const error = await failure(providerFor(fake, { timeouts: { firstByteMs: 100, idleMs: 5000, totalMs: 10000 } }).stream(call({ stream: true }), { signal: signal() }));
    expect(error).toMatchObject({ status: 504, code: "upstream_timeout" });
    expect(error.message).toContain("no first event within 100 ms");
    await (await fake.nextCall()).aborted;
  });

  test("a stream silent after its preamble times out on idle before anything is yielded", async () => {
    await using fake = fakeAnthropic();
    fake.reply({ kind: "stream", hangAfterEvents: 2 });
    const events = await providerFor(fake, { timeouts: { firstByteMs: 5000, idleMs: 100, totalMs: 10000 } }).stream(call({ stream: true }), { signal: signal() });
    const { yields, error } = await readAll(events);
    expect(yields).toBe(0);
    expect(error).toMatchObject({ status: 504, code: "upstream_timeout" });
    expect(error!.message).toContain("no event for 100 ms");
    await (await fake.nextCall()).aborted;
  });

  test("a stream silent after its first content times out on idle: content first, then a 504", async () => {
    await using fake = fakeAnthropic();
    fake.reply({ kind: "stream", hangAfterEvents: 5 });
    const events = await providerFor(fake, { timeouts: { firstByteMs: 5000, idleMs: 100, totalMs: 10000 } }).stream(call({ stream: true }), { signal: signal() });
    const { text, yields, error } = await readAll(events);
    expect(yields).toBeGreaterThan(0);
    expect(chunksOf(text).map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe("Hello from ");
    expect(error).toMatchObject({ status: 504, code: "upstream_timeout" });
  });

  test("parameters dropped under drop_params are listed on the stream", async () => {
    await using fake = fakeAnthropic();
    const events = await providerFor(fake, { dropParams: true }).stream(call({ stream: true, logprobs: true }), { signal: signal() });
    expect(events.dropped).toEqual(["logprobs"]);
    await readAll(events);
  });

  test("the client going away cancels the upstream call", async () => {
    await using fake = fakeAnthropic();
    fake.reply({ kind: "stream", hangAfterEvents: 5 });
    const client = new AbortController();
    const events = await providerFor(fake).stream(call({ stream: true }), { signal: client.signal });
    const iterator = events[Symbol.asyncIterator]();
    expect((await iterator.next()).done).toBe(false);
    const pending = iterator.next();
    client.abort();
    expect(await failure(pending)).toMatchObject({ code: "client_closed_request" });
    await (await fake.nextCall()).aborted;
  });

  test("a redirect on a stream is a 502 before anything is read", async () => {
    await using fake = fakeAnthropic();
    fake.reply({ kind: "raw", status: 302, body: "", headers: { location: "https://example.com/" } });
    expect(await failure(providerFor(fake).stream(call({ stream: true }), { signal: signal() }))).toMatchObject({ status: 502, code: "upstream_redirect" });
  });

  test("the produced SSE is read by the official openai SDK: message, tool calls and finish reason", async () => {
    await using fake = fakeAnthropic();
    fake.reply({
      kind: "stream",
      stopReason: "tool_use",
      content: [
        { type: "text", text: "Let me check." },
        { type: "tool_use", id: "toolu_X", name: "get_weather", input: { city: "Zürich" } },
        { type: "tool_use", id: "toolu_Y", name: "get_weather", input: { city: "Köln" } },
      ],
    });
    const events = await providerFor(fake).stream(call({ stream: true, tools: TOOLS }), { signal: signal() });
    const body = (await readAll(events)).text;
    await using server = Bun.serve({ port: 0, fetch: () => new Response(body, { headers: { "content-type": "text/event-stream" } }) });
    const client = new OpenAI({ baseURL: `http://127.0.0.1:${server.port}/v1`, apiKey: "unused", maxRetries: 0 });
    const stream = client.chat.completions.stream({ model: "smart", messages: [{ role: "user", content: "Weather?" }] });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]!.finish_reason).toBe("tool_calls");
    expect(final.choices[0]!.message.content).toBe("Let me check.");
    expect(final.choices[0]!.message.tool_calls).toEqual([
      { id: "toolu_X", type: "function", function: { name: "get_weather", arguments: "{\"city\":\"Zürich\"}" } },
      { id: "toolu_Y", type: "function", function: { name: "get_weather", arguments: "{\"city\":\"Köln\"}" } },
    ]);
  });
});

describe("AnthropicProvider, models", () => {
  test("lists Anthropic's models as OpenAI model objects owned by the provider, each with Anthropic's own object, and reuses the list", async () => {
    await using fake = fakeAnthropic({ models: ["claude-a", "claude-b"] });
    const provider = providerFor(fake);
    expect(await provider.models({ signal: signal() })).toEqual([
      { id: "claude-a", object: "model", created: 1759104000, owned_by: "claude", anthropic: modelInfo("claude-a") },
      { id: "claude-b", object: "model", created: 1759104000, owned_by: "claude", anthropic: modelInfo("claude-b") },
    ]);
    await provider.models({ signal: signal() });
    expect(fake.modelsCalls).toHaveLength(1);
    expect(fake.modelsCalls[0]!.headers).toMatchObject({ "x-api-key": KEY, "anthropic-version": "2023-06-01" });
    expect(provider.listedModels()).toEqual(["claude-a", "claude-b"]);
  });

  test("follows has_more across pages", async () => {
    await using fake = fakeAnthropic({ models: Array.from({ length: 1203 }, (_, i) => `claude-${i}`) });
    expect(await providerFor(fake).models({ signal: signal() })).toHaveLength(1203);
    expect(fake.modelsCalls.map((c) => c.path)).toEqual(["/v1/models?limit=1000", "/v1/models?limit=1000&after_id=claude-999"]);
  });

  test("a configured list is served without asking Anthropic", async () => {
    await using fake = fakeAnthropic();
    const provider = providerFor(fake, { models: ["claude-sonnet-4-5"] });
    expect(await provider.models({ signal: signal() })).toEqual([{ id: "claude-sonnet-4-5", object: "model", created: 0, owned_by: "claude" }]);
    expect(fake.modelsCalls).toHaveLength(0);
    expect(provider.servesAnyModel()).toBe(false);
  });
});
