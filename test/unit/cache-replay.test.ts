// A stored answer replayed as a stream, and a stream read back into the answer to store: the two
// must agree with each other and with how the official SDK assembles a stream.
import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import type { ChatCompletion } from "openai/resources/chat/completions";
import { replayEvents, replayStream } from "../../src/cache/replay.ts";
import { decodeAnswer, encodeAnswer, storable } from "../../src/cache/stored-answer.ts";
import { completionOf, StreamRecorder } from "../../src/cache/stream-answer.ts";
import { readEvents } from "../../src/providers/openai-observer.ts";

const USAGE = { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 };

/** Two choices: one with thinking and text, one with a tool call and no text. */
const ANSWER = {
  id: "chatcmpl-replay",
  object: "chat.completion",
  created: 1_752_489_377,
  model: "model-a",
  system_fingerprint: "fp_1",
  service_tier: "default",
  choices: [
    { index: 0, message: { role: "assistant", content: "Grüße, ☃ world", refusal: null, reasoning_content: "thinking…" }, logprobs: null, finish_reason: "stop" },
    {
      index: 1,
      message: { role: "assistant", content: null, refusal: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Köln"}' } }] },
      logprobs: null,
      finish_reason: "tool_calls",
    },
  ],
  usage: USAGE,
} as unknown as ChatCompletion;

const dataOf = (bytes: Uint8Array) => [...readEvents(bytes)];

describe("replay and read back", () => {
  test("a replayed answer reads back into the same completion", () => {
    expect(completionOf(dataOf(replayEvents(ANSWER, false)), 2, USAGE)).toEqual(ANSWER);
    expect(completionOf(dataOf(replayEvents(ANSWER, true)), 2, USAGE)).toEqual(ANSWER);
  });

  test("the usage chunk comes last, and only when asked for; [DONE] ends the stream", () => {
    const asked = dataOf(replayEvents(ANSWER, true));
    expect(asked.at(-1)).toBe("[DONE]");
    expect(JSON.parse(asked.at(-2)!)).toMatchObject({ choices: [], usage: USAGE });
    expect(asked.slice(0, -2).every((d) => (JSON.parse(d) as { usage?: unknown }).usage === null)).toBe(true);
    const plain = dataOf(replayEvents(ANSWER, false));
    expect(plain.some((d) => d.includes('"usage"'))).toBe(false);
  });

  test("the official SDK assembles the replayed stream into the stored completion's messages", async () => {
    const body = replayEvents(ANSWER, true);
    await using server = Bun.serve({ port: 0, fetch: () => new Response(body, { headers: { "content-type": "text/event-stream" } }) });
    const client = new OpenAI({ baseURL: `http://127.0.0.1:${server.port}/v1`, apiKey: "unused", maxRetries: 0 });
    const final = await client.chat.completions.stream({ model: "smart", n: 2, messages: [{ role: "user", content: "hi" }], stream_options: { include_usage: true } }).finalChatCompletion();
    expect(final.choices[0]!.message.content).toBe("Grüße, ☃ world");
    expect(final.choices[1]!.message.tool_calls).toEqual(ANSWER.choices[1]!.message.tool_calls!);
    expect(final.choices.map((c) => c.finish_reason)).toEqual(["stop", "tool_calls"]);
    expect(final.usage).toEqual(USAGE);
  });

  test("a replayed stream is complete in its first read, with what a finished stream's `seen` says", async () => {
    const stored = decodeAnswer(encodeAnswer({ provider: "a", model: "model-a", json: JSON.stringify(ANSWER) }))!;
    const open = replayStream(stored, false);
    expect(open.complete).toBe(true);
    expect([open.seen.done, open.seen.finished, open.seen.usage]).toEqual([true, 2, USAGE]);
    expect(await open.rest.next()).toEqual({ done: true, value: undefined });
  });
});

describe("what a stream must be to be stored", () => {
  const events = (...chunks: unknown[]) => [...chunks.map((c) => JSON.stringify(c)), "[DONE]"];
  const chunk = (choices: unknown[]) => ({ id: "x", object: "chat.completion.chunk", created: 1, model: "m", choices });
  const text = (content: string, finish: string | null = null, index = 0) => chunk([{ index, delta: { content }, logprobs: null, finish_reason: finish }]);

  test("whole: text joined, tool-call arguments joined by index, the name taken whole as the SDK does", () => {
    const data = events(
      chunk([{ index: 0, delta: { role: "assistant", content: null, tool_calls: [{ index: 0, id: "c1", type: "function", function: { name: "f", arguments: "" } }] } }]),
      chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] } }]),
      chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: "1}" } }] }, finish_reason: "tool_calls" }]),
    );
    const completion = completionOf(data, 1, undefined)!;
    expect(completion.choices[0]!.message).toEqual({ role: "assistant", content: null, refusal: null, tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: '{"a":1}' } }] });
    expect(completion).not.toHaveProperty("usage");
  });

  test.each([
    ["no [DONE]", [JSON.stringify(text("hi", "stop"))], 1],
    ["a choice without its finish reason", events(text("hi", "stop"), text("yo", null, 1)), 2],
    ["fewer choices than asked for", events(text("hi", "stop")), 2],
    ["a gap in the choice indexes", events(text("hi", "stop", 1)), 2],
    ["an error event", events(text("hi"), { error: { message: "overloaded" } }), 1],
    ["log probabilities", events(chunk([{ index: 0, delta: { content: "hi" }, logprobs: { content: [] }, finish_reason: "stop" }])), 1],
    ["a delta a replay would lose (audio)", events(chunk([{ index: 0, delta: { audio: { id: "a" } }, finish_reason: "stop" }])), 1],
    ["a tool call without an id", events(chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { name: "f", arguments: "{}" } }] }, finish_reason: "tool_calls" }])), 1],
    ["a chunk that is not JSON", ["{not json", "[DONE]"], 1],
  ] as const)("not stored: %s", (_, data, n) => {
    expect(completionOf(data as readonly string[], n, undefined)).toBeUndefined();
  });

  test("a recorder keeps the chunks as they pass and lets go past its byte cap", async () => {
    const bytes = new TextEncoder().encode(`data: ${JSON.stringify(text("hello", "stop"))}\n\n`);
    const done = new TextEncoder().encode("data: [DONE]\n\n");
    const inner = [done][Symbol.iterator]();
    const source = { next: () => Promise.resolve(inner.next() as IteratorResult<Uint8Array, void>) };
    const small = new StreamRecorder(bytes, source, bytes.length + done.length);
    while (!(await small.next()).done);
    expect(small.answer(1, USAGE)!.choices[0]!.message.content).toBe("hello");
    const capped = new StreamRecorder(bytes, { next: () => Promise.resolve({ done: false, value: done }) }, bytes.length);
    await capped.next();
    expect(capped.answer(1, USAGE)).toBeUndefined();
  });
});

describe("the stored form", () => {
  test("a header line, then the completion's JSON as it came; another version or garbage reads as nothing", () => {
    const json = JSON.stringify(ANSWER);
    const text = encodeAnswer({ provider: "a", model: "model-a", dropped: ["seed"], json });
    expect(text.endsWith(`\n${json}`)).toBe(true);
    expect(decodeAnswer(text)).toEqual({ provider: "a", model: "model-a", dropped: ["seed"], json, completion: ANSWER });
    expect(decodeAnswer(text.replace('"v":1', '"v":2'))).toBeUndefined();
    expect(decodeAnswer("garbage")).toBeUndefined();
    expect(decodeAnswer('{"v":1,"provider":"a","model":"m"}\n{"truncated')).toBeUndefined();
  });

  test("storable: annotations: [] is fine; annotations, audio or a legacy function_call are not", () => {
    const withMessage = (message: Record<string, unknown>) => ({ ...ANSWER, choices: [{ index: 0, message: { role: "assistant", content: "x", ...message }, logprobs: null, finish_reason: "stop" }] }) as unknown as ChatCompletion;
    expect(storable(withMessage({ annotations: [] }))).toBe(true);
    expect(storable(withMessage({ annotations: [{ type: "url_citation" }] }))).toBe(false);
    expect(storable(withMessage({ audio: { id: "a" } }))).toBe(false);
    expect(storable(withMessage({ function_call: { name: "f", arguments: "{}" } }))).toBe(false);
    expect(storable({ ...ANSWER, choices: [] } as ChatCompletion)).toBe(false);
  });
});
