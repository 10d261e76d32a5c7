// The response cache (issue 12): an exact match on the request's canonical form, per public model,
// in memory (LRU by entries and bytes, TTL on the injected clock). A stored answer serves JSON and
// stream requests alike; errors, truncated streams and answers continued on another model are never
// stored; every chat answer says what the cache did in `x-chatgate-cache`.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChatCompletion, ChatCompletionChunk } from "openai/resources/chat/completions";
import { parseConfig, type Env } from "../src/config.ts";
import type { FinishRecord } from "../src/gateway/finish.ts";
import { requestFields } from "../src/obs/log.ts";
import { TestClock } from "./support/clock.ts";
import { openaiAt, type ConfigDoc } from "./support/config-file.ts";
import type { TestGateway } from "./support/gateway.ts";
import { DEFAULT_CONTENT } from "./support/openai-wire.ts";
import { startRouted } from "./support/routed.ts";
import { ANSWER, ask as askResumable, expectResumed, firstWords, readStream, resumeSetup, type ResumeOptions } from "./support/resume.ts";
import { readSse } from "./support/sse.ts";
import { fakeOpenAI, type FakeOpenAI } from "./support/upstream.ts";

const FIXTURES = `${import.meta.dir}/fixtures/openai`;
const HOUR = 3_600_000;
const HI = [{ role: "user", content: "hi" }];

interface Cached extends AsyncDisposable {
  up: FakeOpenAI;
  gw: TestGateway;
  clock: TestClock;
  records: FinishRecord[];
}

interface CachedOptions {
  /** The `cache:` of model `smart` (default `{ttl: 1h}`; null leaves it out). */
  model?: Record<string, unknown> | null;
  /** The file's top-level `cache:`. */
  cache?: Record<string, unknown>;
  env?: Env;
  /** More public models on provider `a`. */
  models?: Record<string, Record<string, unknown>>;
}

/** Model `smart` (cached for an hour unless told otherwise) and `plain` (no cache of its own), both on one fake upstream. */
function cachedGateway(options: CachedOptions = {}): Cached {
  const up = fakeOpenAI();
  const clock = new TestClock();
  const target = { targets: [{ provider: "a", model: "model-a" }] };
  const smart = options.model === null ? target : { ...target, cache: options.model ?? { ttl: "1h" } };
  const doc = {
    // Its model list makes an unknown name a 404 before any upstream call.
    providers: [openaiAt("a", up, { models: ["model-a"] })],
    models: { smart, plain: target, ...options.models },
    ...(options.cache !== undefined ? { cache: options.cache } : {}),
  };
  const gw = startRouted(doc as ConfigDoc, clock.overrides, options.env);
  const records: FinishRecord[] = [];
  gw.app.gateway.finishes.subscribe((r) => void records.push(r));
  return { up, gw, clock, records, [Symbol.asyncDispose]: () => gw.stop().then(() => up.stop()) };
}

/** POSTs a chat request for `smart` (unless `extra` names another model) with `headers`. */
function ask(gw: TestGateway, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}, path = "/v1/chat/completions"): Promise<Response> {
  const body = path === "/chat" ? { model: "smart", message: "hi", ...extra } : { model: "smart", messages: HI, ...extra };
  return fetch(`${gw.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
}

const cacheOf = (res: Response) => res.headers.get("x-chatgate-cache");
const served = (res: Response) => ({
  provider: res.headers.get("x-chatgate-provider"),
  model: res.headers.get("x-chatgate-model"),
  attempts: res.headers.get("x-chatgate-attempts"),
  cache: cacheOf(res),
});
const contentOf = (completion: ChatCompletion) => completion.choices[0]!.message.content;
const chunksOf = (data: string[]) => data.filter((d) => d !== "[DONE]").map((d) => JSON.parse(d) as ChatCompletionChunk);

describe("a repeated request is answered from the cache", () => {
  test("miss, then hit: the upstream is called once, the hit is the stored JSON byte for byte and names who produced it", async () => {
    await using c = cachedGateway();
    const first = await ask(c.gw);
    expect(first.status).toBe(200);
    expect(served(first)).toEqual({ provider: "a", model: "model-a", attempts: "1", cache: "miss" });
    const firstText = await first.text();
    const second = await ask(c.gw);
    expect(second.status).toBe(200);
    expect(served(second)).toEqual({ provider: "a", model: "model-a", attempts: "0", cache: "hit" });
    expect(second.headers.get("content-type")).toStartWith("application/json");
    expect(await second.text()).toBe(firstText);
    expect(c.up.calls).toHaveLength(1);
  });

  test("a hit's finish record and log line say cached, with no attempt, the stored answer's provider and usage, and a tiny TTFB", async () => {
    await using c = cachedGateway();
    await (await ask(c.gw)).text();
    await (await ask(c.gw)).text();
    const [miss, hit] = c.records;
    expect(miss!.cached).toBe(false);
    expect(miss!.cache).toBe("miss");
    expect(hit).toMatchObject({ status: 200, outcome: "ok", cached: true, cache: "hit", provider: "a", upstreamModel: "model-a", attempts: [] });
    expect(hit!.usage).toEqual(miss!.usage);
    expect(hit!.ttfbMs).toBe(0); // the injected clock does not move: no upstream wait is in it
    expect(requestFields(hit!)).toMatchObject({ cache: "hit", attempts: 0, provider: "a" });
    expect(requestFields(miss!)).toMatchObject({ cache: "miss", attempts: 1 });
  });

  test("the official SDK gets the same completion twice", async () => {
    await using c = cachedGateway();
    const client = c.gw.client();
    const one = await client.chat.completions.create({ model: "smart", messages: [{ role: "user", content: "hi" }] });
    const two = await client.chat.completions.create({ model: "smart", messages: [{ role: "user", content: "hi" }] });
    expect(two).toEqual(one);
    expect(c.up.calls).toHaveLength(1);
  });
});

describe("one stored answer serves JSON and stream requests", () => {
  test("stored from JSON, a stream request gets valid SSE the openai SDK reassembles to the same text", async () => {
    await using c = cachedGateway();
    const json = (await (await ask(c.gw)).json()) as ChatCompletion;
    const stream = c.gw.client().chat.completions.stream({ model: "smart", messages: [{ role: "user", content: "hi" }] });
    const final = await stream.finalChatCompletion();
    expect(contentOf(final)).toBe(DEFAULT_CONTENT);
    expect(final.choices[0]!.finish_reason).toBe("stop");
    expect(final.id).toBe(json.id);
    expect(c.up.calls).toHaveLength(1);
  });

  test("the replayed stream has a real stream's shape: role chunk, content, finish chunk, then [DONE]; usage only when asked for", async () => {
    await using c = cachedGateway();
    const json = (await (await ask(c.gw)).json()) as ChatCompletion;
    const plain = await ask(c.gw, { stream: true });
    expect(plain.headers.get("content-type")).toStartWith("text/event-stream");
    expect(served(plain)).toEqual({ provider: "a", model: "model-a", attempts: "0", cache: "hit" });
    const read = await readSse(plain);
    expect(read.data.at(-1)).toBe("[DONE]");
    const chunks = chunksOf(read.data);
    expect(chunks.map((ch) => ch.choices[0]?.delta)).toEqual([{ role: "assistant", content: "" }, { content: DEFAULT_CONTENT }, {}]);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("stop");
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({ id: json.id, object: "chat.completion.chunk", created: json.created, model: json.model, system_fingerprint: json.system_fingerprint });
      expect(chunk).not.toHaveProperty("usage");
    }
    const withUsage = chunksOf((await readSse(await ask(c.gw, { stream: true, stream_options: { include_usage: true } }))).data);
    expect(withUsage.slice(0, -1).every((ch) => ch.usage === null)).toBe(true);
    expect(withUsage.at(-1)).toMatchObject({ choices: [], usage: json.usage });
    expect(c.up.calls).toHaveLength(1);
  });

  test("stored from a stream, a JSON request gets the completion the stream made, with the stream's usage", async () => {
    await using c = cachedGateway();
    const streamed = await readSse(await ask(c.gw, { stream: true, stream_options: { include_usage: true } }));
    const chunks = chunksOf(streamed.data);
    const res = await ask(c.gw);
    expect(served(res)).toEqual({ provider: "a", model: "model-a", attempts: "0", cache: "hit" });
    const json = (await res.json()) as ChatCompletion;
    expect(json).toMatchObject({ id: chunks[0]!.id, object: "chat.completion", created: chunks[0]!.created, model: "model-a", usage: chunks.at(-1)!.usage! });
    expect(json.choices).toEqual([{ index: 0, message: { role: "assistant", content: DEFAULT_CONTENT, refusal: null }, logprobs: null, finish_reason: "stop" }]);
    expect(c.up.calls).toHaveLength(1);
  });

  test("a stream whose usage chunk the client did not ask for is stored with the usage the gateway saw", async () => {
    await using c = cachedGateway();
    c.up.reply({ kind: "stream", includeUsage: true });
    const streamed = chunksOf((await readSse(await ask(c.gw, { stream: true }))).data);
    expect(streamed.some((ch) => ch.usage)).toBe(false);
    const json = (await (await ask(c.gw)).json()) as ChatCompletion;
    expect(json.usage).toEqual({ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
  });

  test("a captured OpenAI stream with a tool call in fragments is stored whole: the JSON hit and the replayed stream assemble to the same tool call", async () => {
    await using c = cachedGateway();
    const fixture = await Bun.file(`${FIXTURES}/tool-call-arguments-in-fragments.sse`).text();
    c.up.reply({ kind: "raw", status: 200, body: fixture, contentType: "text/event-stream; charset=utf-8" });
    const client = c.gw.client();
    const request = { model: "smart", messages: [{ role: "user" as const, content: "hi" }] };
    const original = await client.chat.completions.stream(request).finalChatCompletion();
    expect(original.choices[0]!.message.tool_calls).toHaveLength(1);
    const json = await client.chat.completions.create(request);
    expect(json.choices[0]!.message.tool_calls).toEqual(original.choices[0]!.message.tool_calls);
    expect(json.choices[0]!.finish_reason).toBe(original.choices[0]!.finish_reason);
    const replayed = await client.chat.completions.stream(request).finalChatCompletion();
    expect(replayed.choices[0]!.message.tool_calls).toEqual(original.choices[0]!.message.tool_calls);
    expect(c.up.calls).toHaveLength(1);
  });

  test("a captured OpenAI stream with non-ASCII text and its usage replays as the same text and usage", async () => {
    await using c = cachedGateway();
    const fixture = await Bun.file(`${FIXTURES}/text-unicode-include-usage.sse`).text();
    c.up.reply({ kind: "raw", status: 200, body: fixture, contentType: "text/event-stream; charset=utf-8" });
    const client = c.gw.client();
    const request = { model: "smart", messages: [{ role: "user" as const, content: "hi" }], stream_options: { include_usage: true } };
    const original = await client.chat.completions.stream(request).finalChatCompletion();
    const replayed = await client.chat.completions.stream(request).finalChatCompletion();
    expect(contentOf(replayed)).toBe(contentOf(original));
    expect(replayed.usage).toEqual(original.usage);
    expect(c.up.calls).toHaveLength(1);
  });

  test("n: 2 is stored whole: both choices come back, as JSON and as a stream", async () => {
    await using mock = cachedMock();
    const client = mock.gw.client();
    const request = { model: "echo", n: 2, messages: [{ role: "user" as const, content: "two of these" }] };
    const streamed = await client.chat.completions.stream(request).finalChatCompletion();
    expect(streamed.choices.map((ch) => ch.message.content)).toEqual(["two of these", "two of these"]);
    const res = await ask(mock.gw, request);
    expect(cacheOf(res)).toBe("hit");
    const json = (await res.json()) as ChatCompletion;
    expect(json.choices.map((ch) => [ch.index, ch.message.content, ch.finish_reason])).toEqual([[0, "two of these", "stop"], [1, "two of these", "stop"]]);
    const replayed = await client.chat.completions.stream(request).finalChatCompletion();
    expect(replayed.choices.map((ch) => ch.message.content)).toEqual(["two of these", "two of these"]);
  });
});

/** Public model `echo` on the built-in mock, cached for an hour. */
function cachedMock() {
  const clock = new TestClock();
  const gw = startRouted({ providers: [{ id: "m", type: "mock" }], models: { echo: { targets: [{ provider: "m", model: "mock" }], cache: { ttl: "1h" } } } } as ConfigDoc, clock.overrides);
  return { gw, [Symbol.asyncDispose]: () => gw.stop() };
}

describe("what is in the key", () => {
  test("a different temperature, seed or message is a miss", async () => {
    await using c = cachedGateway();
    await (await ask(c.gw, { temperature: 0.2 })).text();
    for (const extra of [{ temperature: 0.3 }, { temperature: 0.2, seed: 7 }, { temperature: 0.2, messages: [{ role: "user", content: "hello" }] }]) {
      const res = await ask(c.gw, extra);
      await res.text();
      expect(cacheOf(res)).toBe("miss");
    }
    expect(c.up.calls).toHaveLength(4);
  });

  test("user, stream, stream_options, key order and an explicit null are not: each is a hit", async () => {
    await using c = cachedGateway();
    await (await ask(c.gw, { temperature: 0.2, max_tokens: 50 })).text();
    const variants: Record<string, unknown>[] = [
      { temperature: 0.2, max_tokens: 50, user: "someone-else" },
      { temperature: 0.2, max_tokens: 50, stream: false },
      { max_tokens: 50, temperature: 0.2, top_p: null },
    ];
    for (const extra of variants) {
      const res = await ask(c.gw, extra);
      await res.text();
      expect(cacheOf(res)).toBe("hit");
    }
    const stream = await ask(c.gw, { temperature: 0.2, max_tokens: 50, stream: true, stream_options: { include_usage: true } });
    expect(cacheOf(stream)).toBe("hit");
    await stream.text();
    expect(c.up.calls).toHaveLength(1);
  });

  test("answers are kept per public model name: the same request to another cached model is a miss", async () => {
    await using c = cachedGateway({ models: { other: { targets: [{ provider: "a", model: "model-a" }], cache: { ttl: "1h" } } } });
    await (await ask(c.gw)).text();
    const res = await ask(c.gw, { model: "other" });
    await res.text();
    expect(cacheOf(res)).toBe("miss");
    expect(c.up.calls).toHaveLength(2);
  });

  test("a request asking for log probabilities is not cached (skip)", async () => {
    await using c = cachedGateway();
    for (let i = 0; i < 2; i++) {
      const res = await ask(c.gw, { logprobs: true });
      await res.text();
      expect(cacheOf(res)).toBe("skip");
    }
    expect(c.up.calls).toHaveLength(2);
  });
});

describe("Cache-Control from the client", () => {
  test("no-cache: the stored answer is not read, the fresh one replaces it (miss), and later requests get the fresh one", async () => {
    await using c = cachedGateway();
    c.up.reply({ kind: "completion", content: "old answer" }, { kind: "completion", content: "new answer" });
    await (await ask(c.gw)).text();
    const refreshed = await ask(c.gw, {}, { "cache-control": "no-cache" });
    expect(cacheOf(refreshed)).toBe("miss");
    expect(contentOf((await refreshed.json()) as ChatCompletion)).toBe("new answer");
    const later = await ask(c.gw);
    expect(cacheOf(later)).toBe("hit");
    expect(contentOf((await later.json()) as ChatCompletion)).toBe("new answer");
    expect(c.up.calls).toHaveLength(2);
  });

  test("no-store: neither read nor written (skip); the stored answer stays", async () => {
    await using c = cachedGateway();
    c.up.reply({ kind: "completion", content: "stored answer" }, { kind: "completion", content: "private answer" });
    await (await ask(c.gw)).text();
    const bypass = await ask(c.gw, {}, { "cache-control": "No-Store, max-age=0" });
    expect(cacheOf(bypass)).toBe("skip");
    expect(contentOf((await bypass.json()) as ChatCompletion)).toBe("private answer");
    const later = await ask(c.gw);
    expect(cacheOf(later)).toBe("hit");
    expect(contentOf((await later.json()) as ChatCompletion)).toBe("stored answer");
  });

  test("no-store on a new request stores nothing: the next one is a miss", async () => {
    await using c = cachedGateway();
    await (await ask(c.gw, { stream: true }, { "cache-control": "no-store" })).text();
    const next = await ask(c.gw);
    await next.text();
    expect(cacheOf(next)).toBe("miss");
    expect(c.up.calls).toHaveLength(2);
  });
});

describe("time to live and bounds", () => {
  test("an answer expires after its model's TTL (the injected clock, no sleeping)", async () => {
    await using c = cachedGateway({ model: { ttl: "10m" } });
    await (await ask(c.gw)).text();
    c.clock.advance(10 * 60_000 - 1);
    expect(cacheOf(await ask(c.gw))).toBe("hit");
    c.clock.advance(1);
    expect(cacheOf(await ask(c.gw))).toBe("miss");
    expect(c.up.calls).toHaveLength(2);
  });

  test("the global TTL (CHATGATE_CACHE_TTL) covers every model without its own; a model's 0s turns it off", async () => {
    await using c = cachedGateway({ model: { ttl: "0s" }, env: { CHATGATE_CACHE_TTL: "1h" } });
    for (const model of ["plain", "plain", "smart", "smart"]) await (await ask(c.gw, { model })).text();
    expect(c.records.map((r) => `${r.model} ${r.cache}`)).toEqual(["plain miss", "plain hit", "smart skip", "smart skip"]);
    c.clock.advance(HOUR);
    expect(cacheOf(await ask(c.gw, { model: "plain" }))).toBe("miss");
  });

  test("the file's top-level cache.ttl is the global one, and the environment wins over it", async () => {
    await using c = cachedGateway({ model: null, cache: { ttl: "1m" }, env: { CHATGATE_CACHE_TTL: "2m" } });
    await (await ask(c.gw)).text();
    c.clock.advance(90_000);
    expect(cacheOf(await ask(c.gw))).toBe("hit");
  });

  test("least recently used answers go first once max_entries is reached", async () => {
    await using c = cachedGateway({ cache: { max_entries: 2 } });
    const q = (text: string) => ({ messages: [{ role: "user", content: text }] });
    for (const text of ["one", "two"]) await (await ask(c.gw, q(text))).text();
    expect(cacheOf(await ask(c.gw, q("one")))).toBe("hit"); // "two" is now the least recently used
    await (await ask(c.gw, q("three"))).text();
    expect(cacheOf(await ask(c.gw, q("two")))).toBe("miss");
    expect(cacheOf(await ask(c.gw, q("three")))).toBe("hit");
  });

  test("answers are evicted to stay within max_bytes, and one larger than a quarter of it is not stored", async () => {
    await using c = cachedGateway({ cache: { max_bytes: 4096 } });
    const long = "x".repeat(500);
    const q = (text: string) => ({ messages: [{ role: "user", content: text }] });
    for (let i = 1; i <= 5; i++) {
      c.up.reply({ kind: "completion", content: `${long} ${i}` });
      await (await ask(c.gw, q(`question ${i}`))).text();
    }
    expect(cacheOf(await ask(c.gw, q("question 5")))).toBe("hit");
    expect(cacheOf(await ask(c.gw, q("question 2")))).toBe("hit");
    c.up.reply({ kind: "completion", content: long });
    expect(cacheOf(await ask(c.gw, q("question 1")))).toBe("miss");
    c.up.reply({ kind: "completion", content: "y".repeat(1100) }, { kind: "completion", content: "y".repeat(1100) });
    await (await ask(c.gw, q("too long"))).text();
    expect(cacheOf(await ask(c.gw, q("too long")))).toBe("miss");
  });

  test("a stream is measured by its answer, not its SSE bytes: one whose framing is over a quarter of max_bytes is kept when its answer fits", async () => {
    await using c = cachedGateway({ cache: { max_bytes: 4096 } });
    const words = Array.from({ length: 12 }, (_, i) => `w${i}`).join(" ");
    c.up.reply({ kind: "answer", answer: words });
    const streamed = await ask(c.gw, { stream: true, messages: [{ role: "user", content: "many" }] });
    expect((await streamed.text()).length).toBeGreaterThan(1024);
    expect(cacheOf(await ask(c.gw, { messages: [{ role: "user", content: "many" }] }))).toBe("hit");
  });
});

describe("what is never stored", () => {
  test("an error: the failed request says miss, and the next one goes upstream", async () => {
    await using c = cachedGateway();
    c.up.reply({ kind: "error", status: 500 });
    const failed = await ask(c.gw);
    expect(failed.status).toBe(502);
    expect(cacheOf(failed)).toBe("miss");
    const next = await ask(c.gw);
    expect(next.status).toBe(200);
    expect(cacheOf(next)).toBe("miss");
    expect(cacheOf(await ask(c.gw))).toBe("hit");
    expect(c.up.calls).toHaveLength(2);
  });

  test.each([
    ["cut mid-event", { cutAfterEvents: 2 }],
    ["ended cleanly before its finish chunk", { endAfterEvents: 3 }],
    ["an error event after content", { errorEventAfter: 2 }],
  ] as const)("a truncated stream (%s) is not stored", async (_, breaks) => {
    await using c = cachedGateway();
    c.up.reply({ kind: "stream", ...breaks });
    const read = await readSse(await ask(c.gw, { stream: true }));
    expect(read.data).not.toContain("[DONE]");
    const next = await ask(c.gw);
    expect(cacheOf(next)).toBe("miss");
    expect(c.up.calls).toHaveLength(2);
  });

  test("a stream the client leaves early is not stored", async () => {
    await using c = cachedGateway();
    c.up.reply({ kind: "stream", delayMs: 20, words: ["a", " b", " c", " d", " e", " f"] });
    const controller = new AbortController();
    const res = await fetch(`${c.gw.url}/v1/chat/completions`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "smart", messages: HI, stream: true }), signal: controller.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await c.up.calls[0]!.aborted;
    expect(cacheOf(await ask(c.gw))).toBe("miss");
  });

  test("an answer continued on another model (stream resume) is not stored; one continued on the same model is", async () => {
    const cacheAll = { cache: { ttl: "1h" } } as unknown as ResumeOptions["config"];
    {
      await using s = resumeSetup({ continuation: { b: "prefill" }, config: cacheAll });
      s.a.reply({ kind: "answer", answer: ANSWER, cutAfterWords: 40 });
      s.b.reply({ kind: "answer", answer: ANSWER, style: "prefill" });
      expectResumed(await readStream(await askResumable(s.gw)), { seams: [{ on: "b/model-b", after: firstWords(40).length }], models: ["model-a", "model-b"] });
      const again = await askResumable(s.gw);
      expect(again.headers.get("x-chatgate-cache")).toBe("miss");
      await again.text();
    }
    {
      await using s = resumeSetup({ continuation: { a: "prefill" }, config: { ...cacheAll, retries: 1 } });
      s.a.reply({ kind: "answer", answer: ANSWER, cutAfterWords: 40 }, { kind: "answer", answer: ANSWER, style: "prefill" });
      expectResumed(await readStream(await askResumable(s.gw)), { seams: [{ on: "a/model-a", after: firstWords(40).length }], models: ["model-a", "model-a"] });
      const again = await askResumable(s.gw, { stream: false });
      expect(again.headers.get("x-chatgate-cache")).toBe("hit");
      expect(contentOf((await again.json()) as ChatCompletion)).toBe(ANSWER);
    }
  });
});

describe("x-chatgate-cache on every chat answer", () => {
  test("POST /chat: miss, then hit, JSON and stream alike", async () => {
    await using c = cachedGateway();
    const first = await ask(c.gw, {}, {}, "/chat");
    expect(cacheOf(first)).toBe("miss");
    const answer = (await first.json()) as { content: string; tokensUsed: number };
    expect(answer.content).toBe(DEFAULT_CONTENT);
    const json = await ask(c.gw, {}, {}, "/chat");
    expect(cacheOf(json)).toBe("hit");
    expect(await json.json()).toEqual(answer);
    const stream = await ask(c.gw, { stream: true }, {}, "/chat");
    expect(cacheOf(stream)).toBe("hit");
    const read = await readSse(stream);
    expect(read.data.slice(0, -1).map((d) => (JSON.parse(d) as { content: string }).content).join("")).toBe(DEFAULT_CONTENT);
    expect(read.data.at(-1)).toBe("[DONE]");
    expect(c.up.calls).toHaveLength(1);
  });

  test("/chat and /v1/chat/completions share an answer for the same model and message", async () => {
    await using c = cachedGateway();
    await (await ask(c.gw, {}, {}, "/chat")).text();
    expect(cacheOf(await ask(c.gw))).toBe("hit");
  });

  test("requests refused before the gateway took them say skip: a bad body, a missing key, an unknown model", async () => {
    await using c = cachedGateway({ env: { CHATGATE_API_KEYS: "sk-client" } });
    const key = { authorization: "Bearer sk-client" };
    const bad = await ask(c.gw, { messages: "not a list" }, key);
    expect(bad.status).toBe(400);
    expect(cacheOf(bad)).toBe("skip");
    const noKey = await ask(c.gw);
    expect(noKey.status).toBe(401);
    expect(cacheOf(noKey)).toBe("skip");
    const badChat = await ask(c.gw, { message: 42 }, key, "/chat");
    expect(badChat.status).toBe(400);
    expect(cacheOf(badChat)).toBe("skip");
    const unknown = await ask(c.gw, { model: "nope" }, key);
    expect(unknown.status).toBe(404);
    expect(cacheOf(unknown)).toBe("skip");
  });

  test("a model without the cache says skip, JSON and stream, and no key is computed for it", async () => {
    await using c = cachedGateway();
    const json = await ask(c.gw, { model: "plain" });
    expect(cacheOf(json)).toBe("skip");
    const stream = await ask(c.gw, { model: "plain", stream: true });
    expect(cacheOf(stream)).toBe("skip");
    await stream.text();
    expect(c.gw.app.gateway.cache!.keysComputed).toBe(0);
    await (await ask(c.gw)).text();
    expect(c.gw.app.gateway.cache!.keysComputed).toBe(1);
  });
});

describe("off by default", () => {
  test("without any cache setting there is no cache at all; every answer says skip and every request goes upstream", async () => {
    await using c = cachedGateway({ model: null });
    expect(c.gw.app.gateway.cache).toBeUndefined();
    for (const extra of [{}, {}, { stream: true }]) {
      const res = await ask(c.gw, extra);
      expect(cacheOf(res)).toBe("skip");
      await res.text();
    }
    expect(c.up.calls).toHaveLength(3);
    expect(c.records.every((r) => r.cached === false && r.cache === "skip")).toBe(true);
  });

  test("a reload turns the cache on and off, and keeps the stored answers while the store's bounds stay the same", async () => {
    await using c = cachedGateway({ model: null });
    const { reload, current } = c.gw.app;
    const withTtl = (ttl: number) => ({ ...current(), cacheTtlMs: ttl });
    reload(withTtl(HOUR));
    await (await ask(c.gw)).text();
    reload(withTtl(2 * HOUR));
    expect(cacheOf(await ask(c.gw))).toBe("hit");
    reload(withTtl(0));
    expect(c.gw.app.gateway.cache).toBeUndefined();
    expect(cacheOf(await ask(c.gw))).toBe("skip");
  });
});

describe("documented configuration", () => {
  test("the README's response cache example is valid: a model's own TTL, and the global one with its bounds", () => {
    const readme = readFileSync(join(import.meta.dir, "..", "README.md"), "utf8");
    const yaml = /## Response cache[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(yaml).toBeDefined();
    const path = join(mkdtempSync(join(tmpdir(), "chatgate-cache-")), "chatgate.yaml");
    writeFileSync(path, yaml!);
    const config = parseConfig({ CHATGATE_CONFIG: path, OPENAI_API_KEY: "sk-1" });
    expect(config.models["faq-bot"]!.cacheTtlMs).toBe(HOUR);
    expect([config.cacheTtlMs, config.cacheMaxEntries, config.cacheMaxBytes]).toEqual([10 * 60_000, 1_000, 64 * 1024 * 1024]);
    expect(parseConfig({ CHATGATE_CONFIG: path, OPENAI_API_KEY: "sk-1", CHATGATE_CACHE_TTL: "1h" }).cacheTtlMs).toBe(HOUR);
  });

  test("CHATGATE_CACHE_TTL takes a duration with its unit; a bare number is refused, naming the variable", () => {
    expect(parseConfig({ CHATGATE_CACHE_TTL: "90s" }).cacheTtlMs).toBe(90_000);
    expect(parseConfig({}).cacheTtlMs).toBe(0);
    expect(() => parseConfig({ CHATGATE_CACHE_TTL: "3600" })).toThrow('CHATGATE_CACHE_TTL: expected a duration with a unit, like 1500ms, 3s, 10m or 1h, got "3600"');
  });

  test("a bad cache setting in the file refuses to start, naming the key", () => {
    const path = join(mkdtempSync(join(tmpdir(), "chatgate-cache-")), "chatgate.yaml");
    writeFileSync(path, "providers: [{id: a, type: mock}]\nmodels:\n  m: {cache: {ttl: 60}, targets: [{provider: a, model: mock}]}\n");
    expect(() => parseConfig({ CHATGATE_CONFIG: path })).toThrow("models.m.cache.ttl");
    writeFileSync(path, "cache: {max_entries: 0}\n");
    expect(() => parseConfig({ CHATGATE_CONFIG: path })).toThrow("cache.max_entries");
  });
});
