// Streamed chat completions (issue 3, `stream: true`): SSE framing, the upstream's bytes passed
// through event by event, usage chunks, awkward upstream byte splits, the built-in mock's streams
// and POST /chat's stream. Failures are in stream-failures.test.ts, disconnects and load in
// stream-lifecycle.test.ts.
import { describe, expect, test } from "bun:test";
import { createParser } from "eventsource-parser";
import type { ChatCompletionChunk, ChatCompletionCreateParamsStreaming } from "openai/resources/chat/completions";
import { post, startGateway } from "./support/gateway.ts";
import { SSE_DONE, chatCompletionChunks, sseEvent } from "./support/openai-wire.ts";
import { readSse, type SseRead } from "./support/sse.ts";
import { fakeOpenAI } from "./support/upstream.ts";

const UPSTREAM_KEY = "sk-upstream-secret";
const SSE_TYPE = "text/event-stream";
const FIXTURES = `${import.meta.dir}/fixtures/openai`;
const PROMPT = "The quick brown fox jumps over the lazy dog";

const chat = (extra: Record<string, unknown> = {}) => ({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: true, ...extra });
const mockChat = (extra: Record<string, unknown> = {}) => chat({ model: "mock", messages: [{ role: "user", content: PROMPT }], ...extra });


const chunksOf = (read: SseRead) => read.data.filter((d) => d !== "[DONE]").map((d) => JSON.parse(d) as ChatCompletionChunk);
const deltas = (chunks: ChatCompletionChunk[], index = 0) =>
  chunks.flatMap((c) => c.choices.filter((choice) => choice.index === index).map((choice) => choice.delta.content ?? ""));

/**
 * The exact bytes the fake upstream sent for a stream of `words`: its chunks carry a random id and
 * the time they were built, taken here from the first event the client received.
 */
function upstreamWire(read: SseRead, model: string, words: readonly string[], includeUsage: boolean): string {
  const first = JSON.parse(read.data[0]!) as ChatCompletionChunk;
  const events = chatCompletionChunks(model, words, includeUsage).map((chunk) => sseEvent({ ...chunk, id: first.id, created: first.created }));
  return events.join("") + SSE_DONE;
}

describe("streamed chat completions through an OpenAI-compatible upstream", () => {
  test("stream: true answers text/event-stream: each upstream chunk as one data event, byte for byte and in order, then [DONE]", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: UPSTREAM_KEY });
    const words = ["Hello", " there", ",", " streamed", " world"];
    up.reply({ kind: "stream", words });
    const request = chat({ temperature: 0.2, seed: 7, user: "u-1" });
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, request));
    expect(read.status).toBe(200);
    expect(read.contentType).toStartWith(SSE_TYPE);
    expect(read.text).toBe(upstreamWire(read, "gpt-4o-mini", words, false));
    expect(read.data).toHaveLength(words.length + 3);
    expect(read.data.at(-1)).toBe("[DONE]");
    const call = up.calls[0]!;
    // The client's own bytes, with chatgate's request for usage spliced in (test/usage-known.test.ts).
    expect(call.rawBody).toBe(`{"stream_options":{"include_usage":true},${JSON.stringify(request).slice(1)}`);
    expect(call.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
  });

  // Captured shapes: OpenAI itself (compact JSON, raw UTF-8, `obfuscation`, usage details), a tool call
  // whose arguments arrive in fragments, and a Python server's spaced, \uXXXX-escaped JSON that any
  // re-serialisation would visibly change.
  for (const name of ["text-unicode-include-usage", "tool-call-arguments-in-fragments", "python-server-spaced-ascii-escaped"]) {
    test(`a captured OpenAI stream (${name}.sse) reaches the client unchanged, byte for byte`, async () => {
      const fixture = await Bun.file(`${FIXTURES}/${name}.sse`).text();
      await using up = fakeOpenAI();
      await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: UPSTREAM_KEY });
      up.reply({ kind: "raw", status: 200, body: fixture, contentType: "text/event-stream; charset=utf-8" });
      const read = await readSse(await post(`${gw.baseURL}/chat/completions`, chat({ stream_options: { include_usage: true } })));
      expect(read.status).toBe(200);
      expect(read.contentType).toStartWith(SSE_TYPE);
      expect(read.text).toBe(fixture);
    });
  }

  test("a stream the upstream sends whole in one write goes out as one sized body; one sent over time goes out chunked; both end the stream", async () => {
    const fixture = await Bun.file(`${FIXTURES}/text-unicode-include-usage.sse`).text();
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: UPSTREAM_KEY, CHATGATE_RATE_LIMIT_MAX: "100" });
    const inFlightStreams = async () =>
      ((await (await fetch(`${gw.url}/status`)).json()) as { in_flight: { streams: number } }).in_flight.streams;

    up.reply({ kind: "raw", status: 200, body: fixture, contentType: "text/event-stream; charset=utf-8" });
    const whole = await post(`${gw.baseURL}/chat/completions`, chat({ stream_options: { include_usage: true } }));
    expect(whole.headers.get("content-type")).toStartWith(SSE_TYPE);
    expect(whole.headers.get("content-length")).toBe(String(Buffer.byteLength(fixture)));
    expect(whole.headers.get("x-ratelimit-limit")).toBe("100");
    expect(await whole.text()).toBe(fixture);
    expect(await inFlightStreams()).toBe(0);

    const words = ["One", " word", " at", " a", " time"];
    up.reply({ kind: "stream", words, delayMs: 5 });
    const paced = await post(`${gw.baseURL}/chat/completions`, chat());
    expect(paced.headers.get("content-length")).toBeNull();
    expect(paced.headers.get("transfer-encoding")).toBe("chunked");
    // 100 less this stream, the one before and the /status read between them.
    expect(paced.headers.get("x-ratelimit-remaining")).toBe("97");
    const read = await readSse(paced);
    expect(read.text).toBe(upstreamWire(read, "gpt-4o-mini", words, false));
    expect(await inFlightStreams()).toBe(0);
  });

  test("the official openai SDK's stream yields exactly the chunks the upstream sent", async () => {
    const fixture = await Bun.file(`${FIXTURES}/tool-call-arguments-in-fragments.sse`).text();
    const sent: unknown[] = [];
    createParser({ onEvent: ({ data }) => data !== "[DONE]" && sent.push(JSON.parse(data)) }).feed(fixture);
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: UPSTREAM_KEY });
    up.reply({ kind: "raw", status: 200, body: fixture, contentType: "text/event-stream; charset=utf-8" });
    const tools = [{ type: "function" as const, function: { name: "get_weather", parameters: { type: "object" } } }];
    const stream = await gw.client().chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "weather?" }], tools, stream: true });
    const received: ChatCompletionChunk[] = [];
    for await (const chunk of stream) received.push(chunk);
    expect(received).toEqual(sent as ChatCompletionChunk[]);
    const args = received.map((c) => c.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? "").join("");
    expect(JSON.parse(args)).toEqual({ city: "Paris", unit: "celsius" });
    expect((up.calls[0]!.body as { tools: unknown }).tools).toEqual(tools);
  });

  test("with stream_options.include_usage the upstream is asked for usage and its final choices-less usage chunk reaches the client", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: UPSTREAM_KEY });
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, chat({ stream_options: { include_usage: true } })));
    expect(read.text).toBe(upstreamWire(read, "gpt-4o-mini", ["Hello", " from", " upstream"], true));
    expect((up.calls[0]!.body as { stream_options: unknown }).stream_options).toEqual({ include_usage: true });
    const chunks = chunksOf(read);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 } });
    expect(chunks.slice(0, -1).every((c) => c.usage === null && c.choices.length === 1)).toBe(true);

    const params: ChatCompletionCreateParamsStreaming = { ...chat(), stream: true, messages: [{ role: "user", content: "hi" }], stream_options: { include_usage: true } };
    const sdkChunks: ChatCompletionChunk[] = [];
    for await (const chunk of await gw.client().chat.completions.create(params)) sdkChunks.push(chunk);
    expect(sdkChunks.at(-1)).toMatchObject({ choices: [], usage: { total_tokens: 8 } });
  });

  test("without include_usage chatgate asks the upstream for usage itself, and no chunk the client gets carries usage", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: UPSTREAM_KEY });
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, chat()));
    expect(read.data.at(-1)).toBe("[DONE]");
    expect(up.calls[0]!.body).toMatchObject({ stream_options: { include_usage: true } });
    const chunks = chunksOf(read);
    expect(chunks.some((c) => "usage" in c || c.choices.length === 0)).toBe(false);
  });

  test("a usage-only chunk the upstream sends unasked is not passed on, as OpenAI would not send it", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: UPSTREAM_KEY });
    up.reply({ kind: "stream", includeUsage: true });
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, chat()));
    expect(read.data.at(-1)).toBe("[DONE]");
    expect(chunksOf(read).some((c) => c.choices.length === 0)).toBe(false);
    expect(deltas(chunksOf(read)).join("")).toBe("Hello from upstream");
  });

  for (const splitBytes of [1, 7, 64]) {
    test(`upstream bytes split every ${splitBytes} byte(s), even inside UTF-8 characters, still reach the client as exactly the same events`, async () => {
      await using up = fakeOpenAI();
      await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: UPSTREAM_KEY });
      // Kept short: one-byte slices cost a macrotask each in the fake.
      const words = ["naïve", ' ☕ "日本"\n'];
      const includeUsage = splitBytes > 1;
      up.reply({ kind: "stream", words, splitBytes });
      const read = await readSse(await post(`${gw.baseURL}/chat/completions`, chat(includeUsage ? { stream_options: { include_usage: true } } : {})));
      expect(read.status).toBe(200);
      expect(read.text).toBe(upstreamWire(read, "gpt-4o-mini", words, includeUsage));
      expect(deltas(chunksOf(read)).join("")).toBe(words.join(""));
    });
  }
});

describe("the built-in mock model streams", () => {
  test("word by word in OpenAI's chunk shapes: role chunk first, one chunk per word, a finish_reason chunk, no usage, then [DONE]", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, mockChat()));
    expect(read.status).toBe(200);
    expect(read.contentType).toStartWith(SSE_TYPE);
    expect(read.data.at(-1)).toBe("[DONE]");
    const chunks = chunksOf(read);
    const words = PROMPT.split(" ");
    expect(chunks).toHaveLength(words.length + 2);
    expect(chunks[0]!.choices).toEqual([{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]);
    const content = chunks.slice(1, -1);
    expect(content.map((c) => c.choices[0]!.delta.content!.trim())).toEqual(words);
    expect(content.every((c) => c.choices[0]!.finish_reason === null && Object.keys(c.choices[0]!.delta).join() === "content")).toBe(true);
    expect(deltas(chunks).join("")).toBe(PROMPT);
    expect(chunks.at(-1)!.choices).toEqual([{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }]);
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({ id: chunks[0]!.id, object: "chat.completion.chunk", created: chunks[0]!.created, model: "mock" });
      expect(chunk.id).toStartWith("chatcmpl-");
      expect(chunk).not.toHaveProperty("usage");
    }
  });

  test("with include_usage (read by the official SDK) every chunk has usage null and a final choices-less chunk has the JSON answer's exact usage", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const client = gw.client();
    const messages = [{ role: "system" as const, content: "Be brief." }, { role: "user" as const, content: PROMPT }];
    const chunks: ChatCompletionChunk[] = [];
    const stream = await client.chat.completions.create({ model: "mock", messages, stream: true, stream_options: { include_usage: true } });
    for await (const chunk of stream) chunks.push(chunk);
    const json = await client.chat.completions.create({ model: "mock", messages });
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual(json.usage!);
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    const words = deltas(chunks).filter(Boolean);
    expect(words.join("")).toBe(json.choices[0]!.message.content!);
    expect(last.usage!.completion_tokens).toBe(words.length);
    expect(last.usage!.prompt_tokens).toBe(PROMPT.split(" ").length + 2);
    expect(last.usage!.total_tokens).toBe(last.usage!.prompt_tokens + last.usage!.completion_tokens);
  });

  test("n streams every choice under its own index, each with the whole answer and its own finish chunk", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, mockChat({ n: 3, stream_options: { include_usage: true } })));
    const chunks = chunksOf(read);
    expect(new Set(chunks.flatMap((c) => c.choices.map((choice) => choice.index)))).toEqual(new Set([0, 1, 2]));
    for (const index of [0, 1, 2]) {
      const mine = chunks.flatMap((c) => c.choices.filter((choice) => choice.index === index));
      expect(mine[0]!.delta).toEqual({ role: "assistant", content: "" });
      expect(deltas(chunks, index).join("")).toBe(PROMPT);
      expect(mine.map((choice) => choice.finish_reason).filter(Boolean)).toEqual(["stop"]);
    }
    expect(chunks.at(-1)!.usage!.completion_tokens).toBe(3 * PROMPT.split(" ").length);
  });

  test("max_tokens cuts the streamed answer at that many words and finishes with length", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, mockChat({ max_tokens: 3, stream_options: { include_usage: true } })));
    const chunks = chunksOf(read);
    expect(deltas(chunks).filter(Boolean).map((w) => w.trim())).toEqual(["The", "quick", "brown"]);
    expect(chunks.flatMap((c) => c.choices.map((choice) => choice.finish_reason)).filter(Boolean)).toEqual(["length"]);
    expect(chunks.at(-1)!.usage!.completion_tokens).toBe(3);
    expect(read.data.at(-1)).toBe("[DONE]");
  });

  test("stop ends the streamed answer before the stop sequence, which is not sent", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, mockChat({ stop: ["fox", "lazy"] })));
    const chunks = chunksOf(read);
    const text = deltas(chunks).join("");
    expect(text.trimEnd()).toBe("The quick brown");
    expect(text).not.toContain("fox");
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("stop");
  });
});

describe("POST /chat with stream: true", () => {
  test('on the mock it sends one data: {"content"} event per word, then [DONE]', async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const read = await readSse(await post(`${gw.url}/chat`, { message: PROMPT, stream: true }));
    expect(read.status).toBe(200);
    expect(read.contentType).toStartWith(SSE_TYPE);
    expect(read.data.at(-1)).toBe("[DONE]");
    const events = read.data.slice(0, -1).map((d) => JSON.parse(d) as Record<string, unknown>);
    expect(events.every((e) => Object.keys(e).join() === "content" && typeof e.content === "string")).toBe(true);
    expect(events.map((e) => String(e.content).trim())).toEqual(PROMPT.split(" "));
    expect(events.map((e) => e.content).join("")).toBe(PROMPT);
  });

  test("against an upstream it streams the default model (or the one given) and passes each delta on as a content event", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: UPSTREAM_KEY, CHATGATE_DEFAULT_MODEL: "gpt-default-test" });
    up.reply({ kind: "stream", words: ["Bon", "jour", " ☕"] });
    const read = await readSse(await post(`${gw.url}/chat`, { message: "Say hi", stream: true }));
    expect(read.contentType).toStartWith(SSE_TYPE);
    expect(read.data).toEqual(['{"content":"Bon"}', '{"content":"jour"}', '{"content":" ☕"}', "[DONE]"]);
    expect(up.calls[0]!.body).toMatchObject({ model: "gpt-default-test", stream: true, messages: [{ role: "user", content: "Say hi" }] });
    await readSse(await post(`${gw.url}/chat`, { message: "Again", stream: true, model: "gpt-4o" }));
    expect(up.calls[1]!.body).toMatchObject({ model: "gpt-4o", stream: true });
  });
});
