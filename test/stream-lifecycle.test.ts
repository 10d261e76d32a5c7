// A stream's life beyond its bytes (issue 3, "Lifecycle" and "Streamed … lazily"): a client that
// goes away cancels the upstream call, a slow client slows the upstream read, 500 streams at once
// all arrive whole, and /status counts what is in flight.
import { expect, test } from "bun:test";
import { createParser } from "eventsource-parser";
import http from "node:http";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { post, startGateway } from "./support/gateway.ts";
import { SSE_DONE, chatCompletionChunks, sseEvent } from "./support/openai-wire.ts";
import { SOURCE_CMD, spawnGateway } from "./support/process.ts";
import { fakeOpenAI } from "./support/upstream.ts";

const UPSTREAM_KEY = "sk-upstream-secret";
const chat = (extra: Record<string, unknown> = {}) => ({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: true, ...extra });

/** Resolves with `promise`, or fails the test if it has not settled within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: Timer | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Whether `promise` settles within `ms`; for asserting that something has NOT happened yet. */
const settlesWithin = (promise: Promise<unknown>, ms: number) => within(promise, ms, "").then(() => true, () => false);

/** An SSE body read on demand: `until(n)` reads until n events have arrived (or the body ends). */
function sseReader(res: Response) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const data: string[] = [];
  const parser = createParser({ onEvent: (event) => data.push(event.data) });
  return {
    data,
    async until(count: number): Promise<string[]> {
      while (data.length < count) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(decoder.decode(value, { stream: true }));
      }
      return data;
    },
  };
}

interface StatusBody {
  in_flight: { json: number; streams: number };
}

/** Polls /status until `ok` holds: the counters have no event to await. Bounded by `ms`. */
async function statusUntil(url: string, ok: (status: StatusBody) => boolean, ms = 1000): Promise<StatusBody> {
  const deadline = performance.now() + ms;
  for (;;) {
    const status = (await (await fetch(`${url}/status`)).json()) as StatusBody;
    if (ok(status) || performance.now() > deadline) return status;
    await Bun.sleep(5);
  }
}

// node:http, not fetch, for the 500-stream tests: in one Bun process fetch keeps at most 256
// requests in flight (BUN_CONFIG_MAX_HTTP_REQUESTS, which `bun test` does not read), so 500 fetches
// from the test would queue on the client side and prove nothing about the gateway.
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

interface HttpStream {
  /** The first SSE event has arrived. */
  first: Promise<void>;
  done: Promise<{ status: number; text: string; data: string[] }>;
}

function httpStream(url: string, body: unknown): HttpStream {
  const first = Promise.withResolvers<void>();
  const done = new Promise<{ status: number; text: string; data: string[] }>((resolve, reject) => {
    const req = http.request(url, { method: "POST", agent, headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      const data: string[] = [];
      const parser = createParser({ onEvent: (event) => data.push(event.data) === 1 && first.resolve() });
      res.setEncoding("utf8");
      res.on("data", (piece: string) => {
        text += piece;
        parser.feed(piece);
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text, data }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
  done.catch(first.reject);
  return { first: first.promise, done };
}

function httpJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent }, (res) => {
      let text = "";
      res.on("data", (piece) => (text += piece));
      res.on("end", () => resolve(JSON.parse(text)));
    }).on("error", reject);
  });
}

test("a client that disconnects mid-stream has the upstream request aborted within a second", async () => {
  await using up = fakeOpenAI();
  await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: UPSTREAM_KEY });
  up.reply({ kind: "stream", stallAfterEvents: 2 });
  const client = new AbortController();
  const res = await fetch(`${gw.baseURL}/chat/completions`, { method: "POST", body: JSON.stringify(chat()), headers: { "content-type": "application/json" }, signal: client.signal });
  await sseReader(res).until(1);
  const call = await up.nextCall();
  client.abort();
  await within(call.aborted, 1000, "the upstream abort");
  expect((await statusUntil(gw.url, (s) => s.in_flight.streams === 0)).in_flight.streams).toBe(0);
});

test("the official SDK leaving a stream early has the upstream request aborted within a second", async () => {
  await using up = fakeOpenAI();
  await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: UPSTREAM_KEY });
  // The role chunk and the first word come at once (the stream commits on that word), the rest in a
  // minute. Sized as the fake sends them to chatgate, which asks for usage (usage: null on each).
  const head = chatCompletionChunks("gpt-4o-mini", ["a", "b"], true).slice(0, 2).map(sseEvent).join("");
  up.reply({ kind: "stream", words: ["a", "b"], delayMs: 60_000, splitBytes: new TextEncoder().encode(head).length });
  const stream = await gw.client().chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: true });
  for await (const chunk of stream) {
    expect(chunk.choices[0]?.delta.role).toBe("assistant");
    break;
  }
  await within(up.calls[0]!.aborted, 1000, "the upstream abort");
});

test("a client that gives up on a JSON request has the upstream request aborted within a second", async () => {
  await using up = fakeOpenAI();
  await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: UPSTREAM_KEY });
  up.reply({ kind: "stall" });
  const client = new AbortController();
  const pending = fetch(`${gw.baseURL}/chat/completions`, { method: "POST", body: JSON.stringify(chat({ stream: false })), headers: { "content-type": "application/json" }, signal: client.signal }).catch((e: Error) => e.name);
  const call = await up.nextCall();
  expect((await statusUntil(gw.url, (s) => s.in_flight.json === 1)).in_flight.json).toBe(1);
  client.abort();
  expect(await pending).toBe("AbortError");
  await within(call.aborted, 1000, "the upstream abort");
  expect((await statusUntil(gw.url, (s) => s.in_flight.json === 0)).in_flight.json).toBe(0);
});

test("a slow client slows the upstream read: a large stream is not drained ahead of the client, and arrives whole once it reads on", async () => {
  // 64 MB: well beyond what the sockets and Bun's buffers hold on loopback (about 26 MB measured
  // between a paused client and this fake), so an eager gateway would let the fake finish.
  const words = Array.from({ length: 1024 }, (_, i) => `${i}:${"x".repeat(64 * 1024)}`);
  await using up = fakeOpenAI();
  await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: UPSTREAM_KEY });
  up.reply({ kind: "stream", words });
  const events = sseReader(await post(`${gw.baseURL}/chat/completions`, chat()));
  await events.until(1);
  const call = await up.nextCall();
  expect(await settlesWithin(call.finished, 1500)).toBe(false);
  const data = await events.until(Infinity);
  expect(data).toHaveLength(words.length + 3);
  expect(data.at(-1)).toBe("[DONE]");
  const contents = data.slice(1, -2).map((d) => (JSON.parse(d) as ChatCompletionChunk).choices[0]?.delta.content);
  expect(contents.every((content, i) => content === words[i])).toBe(true);
  await within(call.finished, 1000, "the upstream's end");
  // 64 MB through the gateway and a 1.5 s wait on purpose: ~4 s on a loaded 2-core machine, past bun's default 5 s bound at times.
}, 20_000);

test("/status counts streams and JSON requests in flight, and forgets them when they end", async () => {
  await using up = fakeOpenAI();
  await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: UPSTREAM_KEY });
  up.reply({ kind: "stream", stallAfterEvents: 2 }, { kind: "stream", stallAfterEvents: 2 }, { kind: "stream", stallAfterEvents: 2 }, { kind: "stall" });
  const client = new AbortController();
  const open = (body: unknown) => fetch(`${gw.baseURL}/chat/completions`, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" }, signal: client.signal });
  for (let i = 0; i < 3; i++) await sseReader(await open(chat())).until(1);
  const json = open(chat({ stream: false })).catch(() => "aborted");
  await up.nextCall();
  expect((await statusUntil(gw.url, (s) => s.in_flight.json === 1)).in_flight).toEqual({ json: 1, streams: 3 });
  client.abort();
  await json;
  expect((await statusUntil(gw.url, (s) => s.in_flight.streams + s.in_flight.json === 0)).in_flight).toEqual({ json: 0, streams: 0 });
});

test("500 concurrent streams on the mock each arrive complete, correct and in order", async () => {
  await using gw = startGateway({ CHATGATE_MOCK: "1" });
  const prompt = (i: number) => `stream ${i} says alpha beta gamma delta ${i}`;
  const streams = Array.from({ length: 500 }, (_, i) => httpStream(`${gw.baseURL}/chat/completions`, chat({ model: "mock", messages: [{ role: "user", content: prompt(i) }] })));
  const results = await Promise.all(streams.map((s) => s.done));
  for (const [i, { status, data }] of results.entries()) {
    expect(status).toBe(200);
    expect(data.at(-1)).toBe("[DONE]");
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as ChatCompletionChunk);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(prompt(i));
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("stop");
  }
}, 15_000);

// A process of its own, started as in production: the gateway's upstream fetches then face Bun's
// default cap of 256 requests in flight per process, which queues the rest until slots free up.
test("the chatgate process holds 500 streams to an upstream open at once, and each arrives complete, byte for byte", async () => {
  const N = 500;
  // Each stream's bytes go out in slices 1.5 s apart: the first holds the role chunk and the first
  // content (where a stream commits), so every stream is open upstream and has answered the
  // client before any of them can finish.
  // Replies go to requests in arrival order, so each stream's word is checked against the set served.
  const head = chatCompletionChunks(`model-${N}`, [`w${N}`], false).slice(0, 2).map(sseEvent).join("");
  const half = new TextEncoder().encode(head).length;
  await using up = fakeOpenAI();
  for (let i = 0; i < N; i++) up.reply({ kind: "stream", words: [`w${i}`], delayMs: 1500, splitBytes: half });
  await using gw = await spawnGateway(SOURCE_CMD, { OPENAI_BASE_URL: up.url, OPENAI_API_KEY: UPSTREAM_KEY, CHATGATE_RATE_LIMIT_MAX: "0" });
  const anyFinished = Promise.withResolvers<"an upstream stream finished first">();
  void (async () => {
    for (let i = 0; i < N; i++) void (await up.nextCall()).finished.then(() => anyFinished.resolve("an upstream stream finished first"));
  })();
  const streams = Array.from({ length: N }, (_, i) => httpStream(`${gw.url}/v1/chat/completions`, chat({ model: `model-${i}` })));
  const allOpen = Promise.all(streams.map((s) => s.first)).then(() => "all open" as const);
  const overlap = await Promise.race([allOpen, anyFinished.promise]);
  const inFlight = overlap === "all open" ? ((await httpJson(`${gw.url}/status`)) as StatusBody).in_flight.streams : -1;
  const results = await Promise.all(streams.map((s) => s.done));
  const served = new Set<string>();
  for (const [i, { status, text, data }] of results.entries()) {
    expect(status).toBe(200);
    const first = JSON.parse(data[0]!) as ChatCompletionChunk;
    const word = String((JSON.parse(data[1]!) as ChatCompletionChunk).choices[0]?.delta.content);
    expect(word).toMatch(/^w\d+$/);
    served.add(word);
    const expected = chatCompletionChunks(`model-${i}`, [word], false).map((c) => sseEvent({ ...c, id: first.id, created: first.created }));
    expect(text).toBe(expected.join("") + SSE_DONE);
  }
  expect(served.size).toBe(N);
  expect(up.calls).toHaveLength(N);
  expect(overlap).toBe("all open");
  expect(inFlight).toBe(N);
}, 15_000);
