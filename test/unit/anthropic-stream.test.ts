import { describe, expect, test } from "bun:test";
import { createParser } from "eventsource-parser";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { GatewayError } from "../../src/errors.ts";
import { anthropicError, statusOfErrorType } from "../../src/providers/anthropic/errors.ts";
import { AnthropicEventStream } from "../../src/providers/anthropic/stream.ts";
import { CallTimer } from "../../src/providers/anthropic/timer.ts";
import { redactor } from "../../src/providers/upstream-error.ts";

const encoder = new TextEncoder();
const fixture = (name: string) => Bun.file(new URL(`../fixtures/anthropic/${name}`, import.meta.url)).text();

/** A body delivering `text` in slices of `split` bytes (splitting UTF-8 sequences on purpose). */
function body(text: string, split: number): ReadableStream<Uint8Array> {
  const bytes = encoder.encode(text);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + split));
      at += split;
    },
  });
}

interface Run {
  yields: string[];
  data: string[];
  chunks: ChatCompletionChunk[];
  error: GatewayError | undefined;
  stream: AnthropicEventStream;
}

async function run(text: string, { split = 1 << 20, includeUsage = false, maxEventBytes }: { split?: number; includeUsage?: boolean; maxEventBytes?: number } = {}): Promise<Run> {
  const client = new AbortController().signal;
  const timer = new CallTimer(client, { firstByteMs: 5000, idleMs: 5000, totalMs: 10000 });
  const redact = redactor("sk-ant-secret");
  const stream = new AnthropicEventStream(body(text, split), {
    provider: "claude", timer, client, includeUsage, dropped: [], maxEventBytes,
    onError: (e) => anthropicError("claude", { status: statusOfErrorType(e.type), type: e.type, message: e.message }, redact),
  });
  const yields: string[] = [];
  let error: GatewayError | undefined;
  try {
    for await (const bytes of stream) yields.push(new TextDecoder().decode(bytes));
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    error = err;
  }
  const data: string[] = [];
  createParser({ onEvent: (e) => data.push(e.data) }).feed(yields.join(""));
  const chunks = data.filter((d) => d !== "[DONE]").map((d) => JSON.parse(d) as ChatCompletionChunk);
  return { yields, data, chunks, error, stream };
}

type Delta = ChatCompletionChunk.Choice.Delta & { reasoning_content?: string };

/** The message a client assembles from the chunks. */
function assemble(chunks: ChatCompletionChunk[]) {
  let content = "";
  let reasoning = "";
  let finish: string | null = null;
  let refusal: string | null = null;
  const calls: Array<{ id?: string; name?: string; arguments: string }> = [];
  for (const chunk of chunks) {
    const choice = chunk.choices[0];
    if (!choice) continue;
    const delta = choice.delta as Delta;
    content += delta.content ?? "";
    reasoning += delta.reasoning_content ?? "";
    refusal = delta.refusal ?? refusal;
    for (const call of delta.tool_calls ?? []) {
      const slot = (calls[call.index] ??= { arguments: "" });
      if (call.id) slot.id = call.id;
      if (call.function?.name) slot.name = call.function.name;
      slot.arguments += call.function?.arguments ?? "";
    }
    finish = choice.finish_reason ?? finish;
  }
  return { content, reasoning, finish, refusal, calls };
}

const SPLITS = [1, 3, 17, 1 << 20];

describe("Anthropic stream → OpenAI chunks", () => {
  test.each(SPLITS)("text with unicode and a ping, read in %i-byte pieces, assembles the same answer", async (split) => {
    const { chunks, data, error, stream } = await run(await fixture("text-unicode-with-ping.sse"), { split });
    expect(error).toBeUndefined();
    expect(assemble(chunks)).toMatchObject({ content: "Hello! Grüße aus Zürich — 你好 👋", finish: "stop" });
    expect(data.at(-1)).toBe("[DONE]");
    expect(new Set(chunks.map((c) => c.id))).toEqual(new Set(["msg_01XFDUDYJgAACzvnptvVoYEL"]));
    expect(new Set(chunks.map((c) => c.model))).toEqual(new Set(["claude-sonnet-4-5-20250929"]));
    expect(new Set(chunks.map((c) => c.created)).size).toBe(1);
    expect(chunks.every((c) => c.object === "chat.completion.chunk" && !("usage" in c))).toBe(true);
    expect(stream.seen.done).toBe(true);
    expect(stream.seen.usage).toMatchObject({ prompt_tokens: 25, completion_tokens: 15, total_tokens: 40 });
  });

  test("the first yield holds the role chunk and the first content chunk together, however the bytes came", async () => {
    const { yields } = await run(await fixture("text-unicode-with-ping.sse"), { split: 1 });
    const first: string[] = [];
    createParser({ onEvent: (e) => first.push(e.data) }).feed(yields[0]!);
    expect(first.map((d) => (JSON.parse(d) as ChatCompletionChunk).choices[0]!.delta)).toEqual([{ role: "assistant", content: "" }, { content: "Hello" }]);
  });

  test.each(SPLITS)("two tool calls in one turn, read in %i-byte pieces, keep their own indexes, ids and names", async (split) => {
    const { chunks, error } = await run(await fixture("tool-use-two-calls-in-fragments.sse"), { split });
    expect(error).toBeUndefined();
    const answer = assemble(chunks);
    expect(answer.content).toBe("I'll check the weather in both cities.");
    expect(answer.finish).toBe("tool_calls");
    expect(answer.calls).toEqual([
      { id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", name: "get_weather", arguments: "{\"location\": \"San Francisco, CA\"}" },
      { id: "toolu_01Ae9fWq3mXkPJ2sVCYb3Zr8", name: "get_weather", arguments: "{\"location\": \"Paris, \\u00cele-de-France\", \"unit\": \"celsius\"}" },
    ]);
    const opening = chunks.map((c) => c.choices[0]?.delta.tool_calls?.[0]).filter((call) => call?.id !== undefined);
    expect(opening).toEqual([
      { index: 0, id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", type: "function", function: { name: "get_weather", arguments: "" } },
      { index: 1, id: "toolu_01Ae9fWq3mXkPJ2sVCYb3Zr8", type: "function", function: { name: "get_weather", arguments: "" } },
    ]);
  });

  test.each(SPLITS)("thinking, read in %i-byte pieces, comes out as reasoning_content; its signature never does", async (split) => {
    const { chunks, yields } = await run(await fixture("thinking-then-text.sse"), { split });
    expect(assemble(chunks)).toMatchObject({ reasoning: "The previous result was 925. Now divide by 5.\n\n925 ÷ 5 = 185", content: "925 ÷ 5 = 185", finish: "stop" });
    expect(yields.join("")).not.toContain("EqQBCgIYAhIM");
  });

  test("a refusal with no content commits on its finish chunk: content_filter with the explanation", async () => {
    const { yields, chunks } = await run(await fixture("refusal-without-content.sse"));
    expect(yields).toHaveLength(1);
    expect(assemble(chunks)).toMatchObject({ content: "", finish: "content_filter", refusal: "This request triggered restrictions on violative cyber content." });
  });

  test("max_tokens ends the answer with finish_reason length", async () => {
    expect(assemble((await run(await fixture("max-tokens.sse"))).chunks).finish).toBe("length");
  });

  test.each(SPLITS)("overloaded after the preamble, read in %i-byte pieces, throws before anything is yielded", async (split) => {
    const { yields, error, stream } = await run(await fixture("overloaded-after-preamble.sse"), { split });
    expect(yields).toEqual([]);
    expect(error).toMatchObject({ status: 503, code: "upstream_overloaded", retryable: true, upstreamStatus: 529 });
    expect(stream.seen.errorEvent).toBe(true);
    expect(stream.seen.done).toBe(false);
  });

  test("with include_usage every chunk carries usage: null and a last chunk carries the usage, cache tokens included", async () => {
    const { chunks, data } = await run(await fixture("cache-read-and-write-usage.sse"), { includeUsage: true });
    expect(chunks.slice(0, -1).every((c) => c.usage === null && c.choices.length === 1)).toBe(true);
    expect(chunks.at(-1)).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 1233, completion_tokens: 4, total_tokens: 1237, prompt_tokens_details: { cached_tokens: 1024, cache_write_tokens: 188 } },
    });
    expect(data.at(-1)).toBe("[DONE]");
  });

  test("a stream that ends cleanly without message_stop is a truncation, after what was already sent, and never [DONE]", async () => {
    const text = await fixture("text-unicode-with-ping.sse");
    const { yields, data, error, stream } = await run(text.slice(0, text.indexOf("event: message_stop")));
    expect(yields.length).toBeGreaterThan(0);
    expect(data).not.toContain("[DONE]");
    expect(error).toMatchObject({ status: 502, code: "upstream_stream_truncated" });
    expect(error!.message).toContain("after 8 events without message_stop");
    expect(stream.seen.done).toBe(false);
    expect(stream.seen.usage).toMatchObject({ completion_tokens: 15 });
  });

  test("a stream cut in the middle of an event says so", async () => {
    const text = await fixture("text-unicode-with-ping.sse");
    const { error } = await run(text.slice(0, text.indexOf("event: content_block_stop") + 30), { split: 5 });
    expect(error?.message).toContain("ended in the middle of an event after 6 events");
  });

  test("an error event after content delivers the content first, then throws the error's own kind", async () => {
    const text = await fixture("text-unicode-with-ping.sse");
    const cut = text.slice(0, text.indexOf("event: content_block_stop"));
    const { chunks, data, error } = await run(`${cut}event: error\ndata: {"type":"error","error":{"type":"api_error","message":"Internal server error"}}\n\n`);
    expect(assemble(chunks).content).toBe("Hello! Grüße aus Zürich — 你好 👋");
    expect(data).not.toContain("[DONE]");
    expect(error).toMatchObject({ status: 502, code: "upstream_error", upstreamStatus: 500 });
  });

  test("an event whose data is not JSON is dropped and counted, and the stream goes on", async () => {
    const text = await fixture("text-unicode-with-ping.sse");
    const at = text.indexOf("event: content_block_stop");
    const { chunks, error, stream } = await run(`${text.slice(0, at)}event: content_block_delta\ndata: {"type":"content_bl\n\n${text.slice(at)}`, { split: 7 });
    expect(error).toBeUndefined();
    expect(assemble(chunks).content).toBe("Hello! Grüße aus Zürich — 你好 👋");
    expect(stream.malformedEvents).toBe(1);
  });

  test("no Anthropic event name or payload reaches the client", async () => {
    for (const name of ["text-unicode-with-ping.sse", "tool-use-two-calls-in-fragments.sse", "thinking-then-text.sse", "refusal-without-content.sse"]) {
      const out = (await run(await fixture(name), { includeUsage: true })).yields.join("");
      for (const word of ["event:", "message_start", "content_block", "input_json_delta", "signature", "ping", "stop_reason", "msg_start"]) expect(out).not.toContain(word);
    }
  });

  test("an event held unfinished past the cap is an error", async () => {
    const text = await fixture("text-unicode-with-ping.sse");
    const huge = `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"${"x".repeat(500)}`;
    const { error } = await run(text.slice(0, text.indexOf("event: content_block_stop")) + huge, { split: 64, maxEventBytes: 256 });
    expect(error).toMatchObject({ status: 502, code: "upstream_response_too_large" });
  });

  test("content before message_start is a malformed stream, not a crash", async () => {
    const { error, yields } = await run(`event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}\n\n`);
    expect(yields).toEqual([]);
    expect(error).toMatchObject({ status: 502, code: "upstream_invalid_stream" });
  });

  test("events after message_stop are ignored", async () => {
    const text = await fixture("max-tokens.sse");
    const { data } = await run(`${text}event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"late"}}\n\n`);
    expect(data.at(-1)).toBe("[DONE]");
    expect(data.join("")).not.toContain("late");
  });
});
