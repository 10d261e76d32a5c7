// Resilience of streams (issue 9): a stream commits at its first content-bearing chunk. Before it
// (a silent upstream, a role chunk then silence, an error event first) the router falls back and no
// byte of the failed attempt reaches the client; after it nothing is retried: one error event, no
// [DONE]. A clean end after the finish_reason is complete. Two OpenAI fakes behind route a → b.
import { describe, expect, test } from "bun:test";
import { createParser } from "eventsource-parser";
import { MODEL_A, MODEL_B, chat, pair, upstreamBytes } from "./support/routed.ts";
import { readSse, type SseRead } from "./support/sse.ts";

const RETRYING = { retries: 2, max_retry_wait: "10s" };

/** What follows `prefix` in the body: exactly one OpenAI error event, then the end, no `[DONE]`. */
function oneErrorEventAfter(read: SseRead, prefix: string): { code: string; message: string } {
  expect(read.status).toBe(200);
  expect(read.text.slice(0, prefix.length)).toBe(prefix);
  const rest = read.text.slice(prefix.length);
  const events: string[] = [];
  createParser({ onEvent: (event) => events.push(event.data) }).feed(rest);
  expect(events).toHaveLength(1);
  expect(rest).toBe(`data: ${events[0]}\n\n`);
  expect(read.data).not.toContain("[DONE]");
  return (JSON.parse(events[0]!) as { error: { code: string; message: string } }).error;
}

describe("before the first content the router may still fall back, invisibly", () => {
  test("a stream with no headers within first_byte falls back at once, with exactly one attempt on the silent target", async () => {
    await using p = pair({ config: RETRYING, a: { timeouts: { first_byte: "200ms" } } });
    p.a.reply({ kind: "stall" });
    const read = await readSse(await chat(p.gw, { stream: true }));
    expect(read.text).toBe(upstreamBytes(MODEL_B, read.data[0]!));
    expect([p.a.calls.length, p.b.calls.length]).toEqual([1, 1]);
    await p.a.calls[0]!.aborted;
    expect(p.clock.sleeps).toEqual([]);
  });

  test("a stream silent after its role chunk, past idle, falls back, and its role chunk never reaches the client", async () => {
    await using p = pair({ config: RETRYING, a: { timeouts: { first_byte: "5s", idle: "200ms" } } });
    p.a.reply({ kind: "stream", stallAfterEvents: 1 });
    const read = await readSse(await chat(p.gw, { stream: true }));
    expect(read.text).toBe(upstreamBytes(MODEL_B, read.data[0]!));
    expect([p.a.calls.length, p.b.calls.length]).toEqual([1, 1]);
    await p.a.calls[0]!.aborted;
  });

  test.each([
    ["first event", 0],
    ["first event after its role chunk", 1],
  ])("an OpenAI primary whose %s is an error event falls back, none of it reaching the client", async (_, after) => {
    await using p = pair({ config: RETRYING });
    p.a.reply({ kind: "stream", errorEventAfter: after, splitBytes: 7 });
    const read = await readSse(await chat(p.gw, { stream: true }));
    expect(read.text).toBe(upstreamBytes(MODEL_B, read.data[0]!));
    expect(read.text).not.toContain(MODEL_A);
    expect([p.a.calls.length, p.b.calls.length]).toEqual([1, 1]);
  });
});

describe("after the first content nothing is retried", () => {
  test("a stream cut after its first content: the whole events so far, one error event, no [DONE], and no call on the fallback", async () => {
    await using p = pair({ config: RETRYING });
    p.a.reply({ kind: "stream", cutAfterEvents: 3 });
    const read = await readSse(await chat(p.gw, { stream: true }));
    const error = oneErrorEventAfter(read, upstreamBytes(MODEL_A, read.data[0]!, 3));
    expect(error.code).toMatch(/^upstream_(stream_truncated|connection_error)$/);
    expect([p.a.calls.length, p.b.calls.length]).toEqual([1, 0]);
  });

  test("a stream that ends cleanly before its finish_reason is a truncation: one error event, no [DONE], no fallback", async () => {
    await using p = pair({ config: RETRYING });
    p.a.reply({ kind: "stream", endAfterEvents: 3 });
    const read = await readSse(await chat(p.gw, { stream: true }));
    const error = oneErrorEventAfter(read, upstreamBytes(MODEL_A, read.data[0]!, 3));
    expect(error.code).toBe("upstream_stream_truncated");
    expect(error.message).toContain("after 3 events");
    expect([p.a.calls.length, p.b.calls.length]).toEqual([1, 0]);
  });

  test("a complete stream without [DONE] is finalised with [DONE] by chatgate, its usage chunk kept, with no fallback", async () => {
    await using p = pair({ config: RETRYING });
    p.a.reply({ kind: "stream", endWithoutDone: true });
    const read = await readSse(await chat(p.gw, { stream: true, stream_options: { include_usage: true } }));
    expect(read.data.at(-1)).toBe("[DONE]");
    const usage = JSON.parse(read.data.at(-2)!) as { choices: unknown[]; usage: { total_tokens: number }; model: string };
    expect(usage).toMatchObject({ choices: [], model: MODEL_A, usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 } });
    expect(read.data.filter((d) => d === "[DONE]")).toHaveLength(1);
    expect([p.a.calls.length, p.b.calls.length]).toEqual([1, 0]);
  });
});
