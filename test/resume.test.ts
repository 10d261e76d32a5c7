// Stream resume (issue 10): a committed stream that breaks (cut, stall past idle, a retryable error
// event, an end without [DONE]) on a route with `resume: true` is continued — by the same target
// when it can continue and has retries left, else by the route's next capable target — and the
// client sees one stream: one id, one role chunk, an exact seam marked by one comment, summed usage,
// [DONE]. Fake upstreams continue a prefill as real providers do: the rest of a known answer.
import { describe, expect, test } from "bun:test";
import { createParser } from "eventsource-parser";
import { countTokens as o200k } from "gpt-tokenizer/encoding/o200k_base";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { DEFAULT_MODEL } from "./support/anthropic-wire.ts";
import { PREFILL_REJECTED_MESSAGE, TRAILING_WHITESPACE_MESSAGE } from "./support/fake-anthropic.ts";
import {
  ANSWER,
  CLAUDE,
  CUT_CODES,
  P,
  QUESTION,
  SMART,
  WORDS,
  aroundSeam,
  ask,
  expectContinuation,
  expectFresh,
  expectOneErrorEvent,
  expectResumed,
  firstWords,
  readStream,
  resumeSetup,
  summedUsage,
  within,
  type Continuation,
} from "./support/resume.ts";
import { answerPieces, textOf } from "./support/scripted-body.ts";
import { PREFILL_REJECTED, fakeOpenAI, type ContinuationStyle } from "./support/upstream.ts";
import { fakeAnthropic } from "./support/fake-anthropic.ts";
import { post, startGateway } from "./support/gateway.ts";

const STYLES: ContinuationStyle[] = ["prefill", "prefix", "vllm"];
/** Same-target continuation needs a retry left. */
const RETRY = { retries: 1 };

const served = (res: Response) => ({
  provider: res.headers.get("x-chatgate-provider"),
  model: res.headers.get("x-chatgate-model"),
  attempts: res.headers.get("x-chatgate-attempts"),
});

/** Reads an SSE body from a fake: each event's data. */
async function dataOf(res: Response): Promise<string[]> {
  const data: string[] = [];
  createParser({ onEvent: (e) => data.push(e.data) }).feed(await res.text());
  return data;
}

const postTo = (url: string, body: unknown) => fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("the fakes continue a known answer as real providers do", () => {
  const continuation = (style: ContinuationStyle, text: string) => ({
    model: "m",
    stream: true,
    stream_options: { include_usage: true },
    messages: [...QUESTION, style === "prefix" ? { role: "assistant", content: text, prefix: true } : { role: "assistant", content: text }],
    ...(style === "vllm" ? { continue_final_message: true, add_generation_prompt: false } : {}),
  });

  test("pieces join to the text exactly, either way round", () => {
    expect(answerPieces(ANSWER)).toHaveLength(60);
    expect(answerPieces(ANSWER).join("")).toBe(ANSWER);
    expect(answerPieces(ANSWER, true).join("")).toBe(ANSWER);
    expect(answerPieces(" fox jumps", true)).toEqual([" fox ", "jumps"]);
    expect(answerPieces(" fox jumps")).toEqual([" fox", " jumps"]);
  });

  test.each(STYLES)("OpenAI fake, %s: a fresh request gets the whole answer, a continuation the rest, with computable usage", async (style) => {
    await using up = fakeOpenAI();
    up.reply({ kind: "answer", answer: ANSWER, style }, { kind: "answer", answer: ANSWER, style });
    const fresh = (await dataOf(await postTo(`${up.url}/chat/completions`, { model: "m", stream: true, stream_options: { include_usage: true }, messages: QUESTION }))).slice(0, -1);
    const chunks = fresh.map((d) => JSON.parse(d) as ChatCompletionChunk);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(ANSWER);
    expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: P, completion_tokens: 60, total_tokens: P + 60 });
    const rest = (await dataOf(await postTo(`${up.url}/chat/completions`, continuation(style, firstWords(40))))).slice(0, -1);
    const more = rest.map((d) => JSON.parse(d) as ChatCompletionChunk);
    expect(more[0]!.choices[0]!.delta.role).toBe("assistant");
    expect(more.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(ANSWER.slice(firstWords(40).length));
    expect(more.at(-1)!.usage).toEqual({ prompt_tokens: P + 40, completion_tokens: 20, total_tokens: P + 60 });
  });

  test("OpenAI fake: a continuation in another style, one that does not begin the answer, or to a model without prefill is a 400", async () => {
    await using up = fakeOpenAI();
    up.reply({ kind: "answer", answer: ANSWER, style: "prefix" }, { kind: "answer", answer: ANSWER }, { kind: "answer", answer: ANSWER, rejectPrefill: true });
    const url = `${up.url}/chat/completions`;
    expect((await postTo(url, continuation("prefill", firstWords(3)))).status).toBe(400);
    expect((await postTo(url, continuation("prefill", "Nothing like it"))).status).toBe(400);
    const rejected = await postTo(url, continuation("prefill", firstWords(3)));
    expect(rejected.status).toBe(400);
    expect(await rejected.json()).toEqual({ error: PREFILL_REJECTED });
  });

  test("OpenAI fake: a cut after 40 words sends the role chunk and 40 pieces, then tears the connection", async () => {
    await using up = fakeOpenAI();
    up.reply({ kind: "answer", answer: ANSWER, cutAfterWords: 40 });
    const res = await postTo(`${up.url}/chat/completions`, { model: "m", stream: true, messages: QUESTION });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    let torn = false;
    try {
      for (let read = await reader.read(); !read.done; read = await reader.read()) text += decoder.decode(read.value, { stream: true });
    } catch {
      torn = true;
    }
    expect(torn).toBe(true);
    const data: string[] = [];
    createParser({ onEvent: (e) => data.push(e.data) }).feed(text);
    const chunks = data.map((d) => JSON.parse(d) as ChatCompletionChunk);
    expect(chunks).toHaveLength(41);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(firstWords(40));
  });

  test("Anthropic fake: a prefill gets the rest; one ending in whitespace, or to a model without prefill, is the API's 400", async () => {
    await using up = fakeAnthropic();
    up.reply({ kind: "answer", answer: ANSWER }, { kind: "answer", answer: ANSWER }, { kind: "answer", answer: ANSWER, rejectPrefill: true });
    const url = `${up.url}/v1/messages`;
    const body = (text: string) => ({ model: CLAUDE, max_tokens: 100, stream: true, messages: [...QUESTION, { role: "assistant", content: [{ type: "text", text }] }] });
    const events = (await dataOf(await postTo(url, body(firstWords(40))))).map((d) => JSON.parse(d) as { type: string; delta?: { text?: string }; message?: { usage: { input_tokens: number } }; usage?: { output_tokens: number } });
    expect(events.map((e) => e.delta?.text ?? "").join("")).toBe(ANSWER.slice(firstWords(40).length));
    expect(events[0]!.message!.usage.input_tokens).toBe(P + 40);
    expect(events.find((e) => e.type === "message_delta")!.usage!.output_tokens).toBe(20);
    const spaced = await postTo(url, body(firstWords(40, true)));
    expect(spaced.status).toBe(400);
    expect(((await spaced.json()) as { error: { message: string } }).error.message).toBe(TRAILING_WHITESPACE_MESSAGE);
    const rejected = await postTo(url, body(firstWords(40)));
    expect(rejected.status).toBe(400);
    expect(await rejected.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error", message: PREFILL_REJECTED_MESSAGE } });
  });
});

describe.each(STYLES)("the same target continues its own broken stream (%s)", (style) => {
  test("a cut after 40 of 60 words: the whole answer, one id, an exact seam, one comment, summed usage, headers as at commit", async () => {
    await using s = resumeSetup({ continuation: { a: style, b: style }, config: RETRY });
    // The continuation names a dated snapshot, as OpenAI does: the chunks after the seam carry it.
    s.a.reply({ kind: "answer", answer: ANSWER, style, cutAfterWords: 40 }, { kind: "answer", answer: ANSWER, style, model: "model-a-0613" });
    const record = s.nextRecord();
    const res = await ask(s.gw);
    expect(served(res)).toEqual({ provider: "a", model: "model-a", attempts: "1" });
    const read = await readStream(res);
    expectResumed(read, { seams: [{ on: "a/model-a", after: firstWords(40).length }], models: ["model-a", "model-a-0613"], usage: summedUsage(40) });
    expect(aroundSeam(read).before.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(firstWords(40));
    expect(s.a.calls).toHaveLength(2);
    expectFresh(s.a.calls[0]!);
    expectContinuation(s.a.calls[1]!, style, firstWords(40), "model-a");
    expect(s.b.calls).toHaveLength(0);
    const finish = await within(record, 2_000, "the finish record");
    expect(finish).toMatchObject({ resumed: true, outcome: "ok", stream: true, model: SMART });
    expect(finish.attempts.map((a) => [a.provider, a.model])).toEqual([["a", "model-a"], ["a", "model-a"]]);
    expect(finish.attempts[0]!.reason).toMatch(CUT_CODES);
    // The continuing attempt's reason: "resumed" (what the implementation records), or "ok".
    expect(finish.attempts[1]!.reason).toMatch(/^(ok|resumed)$/);
    expect(finish.attempts[1]!.status).toBe(200);
    expect(finish.usage).toMatchObject(summedUsage(40));
  });

  test("a retryable error event (overloaded) mid-stream never reaches the client: the continuation follows", async () => {
    await using s = resumeSetup({ continuation: { a: style }, config: RETRY });
    s.a.reply({ kind: "answer", answer: ANSWER, style, errorAfterWords: 40 }, { kind: "answer", answer: ANSWER, style });
    const read = await readStream(await ask(s.gw));
    expectResumed(read, { seams: [{ on: "a/model-a", after: firstWords(40).length }], models: ["model-a", "model-a"], usage: summedUsage(40) });
    expect(read.text).not.toContain("verloaded");
    expectContinuation(s.a.calls[1]!, style, firstWords(40), "model-a");
  });

  test("an end without finish or [DONE] is resumed", async () => {
    await using s = resumeSetup({ continuation: { a: style }, config: RETRY });
    s.a.reply({ kind: "answer", answer: ANSWER, style, endAfterWords: 40 }, { kind: "answer", answer: ANSWER, style });
    const read = await readStream(await ask(s.gw));
    expectResumed(read, { seams: [{ on: "a/model-a", after: firstWords(40).length }], models: ["model-a", "model-a"], usage: summedUsage(40) });
  });

  test("a break right after a chunk ending in a space: the prefill is trimmed and the space is not sent twice", async () => {
    await using s = resumeSetup({ continuation: { a: style }, config: RETRY });
    s.a.reply({ kind: "answer", answer: ANSWER, style, spaceAfter: true, cutAfterWords: 40 }, { kind: "answer", answer: ANSWER, style, spaceAfter: true });
    const read = await readStream(await ask(s.gw));
    expectResumed(read, { seams: [{ on: "a/model-a", after: firstWords(40, true).length }], models: ["model-a", "model-a"], usage: summedUsage(40, { delivered: firstWords(40, true) }) });
    expectContinuation(s.a.calls[1]!, style, firstWords(40), "model-a");
    const after = aroundSeam(read).after.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(after).toBe(ANSWER.slice(firstWords(40, true).length));
  });

  test("without usage asked for, the resumed stream has no usage chunk and still ends with [DONE]", async () => {
    await using s = resumeSetup({ continuation: { a: style }, config: RETRY });
    s.a.reply({ kind: "answer", answer: ANSWER, style, cutAfterWords: 40 }, { kind: "answer", answer: ANSWER, style });
    const read = await readStream(await ask(s.gw, { stream_options: undefined }));
    expectResumed(read, { seams: [{ on: "a/model-a", after: firstWords(40).length }], models: ["model-a", "model-a"] });
    expect(read.chunks.filter((c) => c.usage)).toEqual([]);
  });

  test("through the openai SDK's stream helper the assembled message is the known answer", async () => {
    await using s = resumeSetup({ continuation: { a: style }, config: RETRY });
    s.a.reply({ kind: "answer", answer: ANSWER, style, cutAfterWords: 40 }, { kind: "answer", answer: ANSWER, style });
    const stream = s.gw.client().chat.completions.stream({ model: SMART, messages: [{ role: "user", content: QUESTION[0]!.content }], stream_options: { include_usage: true } });
    const final = await stream.finalChatCompletion();
    expect(final.choices).toHaveLength(1);
    expect(final.choices[0]!.message.content).toBe(ANSWER);
    expect(final.choices[0]!.finish_reason).toBe("stop");
    expect(final.usage).toMatchObject(summedUsage(40));
  });
});

describe("another target of the route continues", () => {
  test.each([
    ["the primary cannot continue (continuation none)", { b: "prefill" }, {}],
    ["the primary can continue but has no retry left", { a: "prefill", b: "prefill" }, { retries: 0 }],
  ] as const)("%s: the fallback continues, and the client sees one stream", async (_, continuation, config) => {
    await using s = resumeSetup({ continuation, config });
    s.a.reply({ kind: "answer", answer: ANSWER, cutAfterWords: 40 });
    s.b.reply({ kind: "answer", answer: ANSWER, style: "prefill" });
    const record = s.nextRecord();
    const res = await ask(s.gw);
    expect(served(res)).toEqual({ provider: "a", model: "model-a", attempts: "1" });
    const read = await readStream(res);
    expectResumed(read, { seams: [{ on: "b/model-b", after: firstWords(40).length }], models: ["model-a", "model-b"], usage: summedUsage(40) });
    expect(s.a.calls).toHaveLength(1);
    expect(s.b.calls).toHaveLength(1);
    expectContinuation(s.b.calls[0]!, "prefill", firstWords(40), "model-b");
    const finish = await within(record, 2_000, "the finish record");
    expect(finish.resumed).toBe(true);
    expect(finish.attempts.map((a) => [a.provider, a.model])).toEqual([["a", "model-a"], ["b", "model-b"]]);
    expect(finish.usage).toMatchObject(summedUsage(40));
  });

  test("a stall after commit past the idle timeout: the silent target is not asked again, the next capable one continues", async () => {
    await using s = resumeSetup({ continuation: { a: "prefix", b: "prefix" }, config: RETRY, provider: { a: { timeouts: { idle: "100ms" } } } });
    s.a.reply({ kind: "answer", answer: ANSWER, stallAfterWords: 40 });
    s.b.reply({ kind: "answer", answer: ANSWER, style: "prefix" });
    const record = s.nextRecord();
    const read = await readStream(await ask(s.gw));
    expectResumed(read, { seams: [{ on: "b/model-b", after: firstWords(40).length }], models: ["model-a", "model-b"], usage: summedUsage(40) });
    expect(s.a.calls).toHaveLength(1);
    await within(s.a.calls[0]!.aborted, 2_000, "the silent upstream let go");
    expectContinuation(s.b.calls[0]!, "prefix", firstWords(40), "model-b");
    const finish = await within(record, 2_000, "the finish record");
    expect(finish.attempts[0]!.reason).toBe("upstream_timeout");
    expect(finish.attempts[1]!.reason).toMatch(/^(ok|resumed)$/);
  });

  test("a target that rejects the continuation (400 about prefill) is skipped for the rest of the process: the next capable one continues", async () => {
    await using s = resumeSetup({ continuation: { a: "prefill", b: "prefill" }, config: RETRY });
    s.a.reply({ kind: "answer", answer: ANSWER, cutAfterWords: 40 }, { kind: "answer", answer: ANSWER, rejectPrefill: true });
    s.b.reply({ kind: "answer", answer: ANSWER });
    const first = await readStream(await ask(s.gw));
    expectResumed(first, { seams: [{ on: "b/model-b", after: firstWords(40).length }], models: ["model-a", "model-b"], usage: summedUsage(40) });
    expect(first.text).not.toContain("prefill");
    expect([s.a.calls.length, s.b.calls.length]).toEqual([2, 1]);
    expectContinuation(s.a.calls[1]!, "prefill", firstWords(40), "model-a");

    // Next stream: a still serves fresh requests, but is not asked to continue again.
    s.a.reply({ kind: "answer", answer: ANSWER, cutAfterWords: 20 });
    s.b.reply({ kind: "answer", answer: ANSWER });
    const second = await readStream(await ask(s.gw));
    expectResumed(second, { seams: [{ on: "b/model-b", after: firstWords(20).length }], models: ["model-a", "model-b"], usage: summedUsage(20) });
    expect([s.a.calls.length, s.b.calls.length]).toEqual([3, 2]);
    expectFresh(s.a.calls[2]!);
  });

  test("a cooling target is skipped: the next capable one continues", async () => {
    await using s = resumeSetup({ targets: ["a", "b", "c"], continuation: { a: "prefill", b: "prefill", c: "prefill" }, config: { cooldown_after: 1, cooldown: "30s" } });
    s.a.reply({ kind: "error", status: 500 });
    s.b.reply({ kind: "answer", answer: ANSWER });
    const served1 = await readStream(await ask(s.gw));
    expect([served1.content, served1.done]).toEqual([ANSWER, true]);
    // a is cooling down now: b serves, breaks, and c (not a) continues.
    s.b.reply({ kind: "answer", answer: ANSWER, cutAfterWords: 40 });
    s.c.reply({ kind: "answer", answer: ANSWER });
    const read = await readStream(await ask(s.gw));
    expectResumed(read, { seams: [{ on: "c/model-c", after: firstWords(40).length }], models: ["model-b", "model-c"], usage: summedUsage(40) });
    expect(s.a.calls).toHaveLength(1);
    expectContinuation(s.c.calls[0]!, "prefill", firstWords(40), "model-c");
  });

  test("a target's own continuation overrides its provider's: none on a target of a prefill provider, vllm on a target of a none provider", async () => {
    await using s = resumeSetup({ continuation: { a: "prefill", b: "none" }, targetContinuation: { a: "none", b: "vllm" }, config: RETRY });
    s.a.reply({ kind: "answer", answer: ANSWER, cutAfterWords: 40 });
    s.b.reply({ kind: "answer", answer: ANSWER, style: "vllm" });
    const read = await readStream(await ask(s.gw));
    expectResumed(read, { seams: [{ on: "b/model-b", after: firstWords(40).length }], models: ["model-a", "model-b"], usage: summedUsage(40) });
    expect(s.a.calls).toHaveLength(1);
    expectContinuation(s.b.calls[0]!, "vllm", firstWords(40), "model-b");
  });
});

/** The Messages request's last turn: an assistant turn whose text is `text`. */
function expectAnthropicPrefill(call: { body: unknown }, text: string): void {
  const body = call.body as { messages: Array<{ role: string; content: unknown }>; stream?: boolean; model: string };
  expect(body.model).toBe(CLAUDE);
  expect(body.stream).toBe(true);
  expect(body.messages).toHaveLength(2);
  expect(body.messages[0]!.role).toBe("user");
  expect(body.messages[1]!.role).toBe("assistant");
  expect(textOf(body.messages[1]!.content)).toBe(text);
}

describe("the Anthropic adapter as the continuing target", () => {
  test("after a break right after a chunk ending in a space, Claude continues a trimmed prefill and the seam is exact", async () => {
    await using s = resumeSetup({ targets: ["a", "claude"], continuation: { claude: "prefill" } });
    s.a.reply({ kind: "answer", answer: ANSWER, spaceAfter: true, cutAfterWords: 40 });
    // The message names a dated snapshot: the chunks after the seam carry it.
    s.claude.reply({ kind: "answer", answer: ANSWER, model: DEFAULT_MODEL });
    const res = await ask(s.gw);
    expect(served(res)).toEqual({ provider: "a", model: "model-a", attempts: "1" });
    const read = await readStream(res);
    expectResumed(read, {
      seams: [{ on: new RegExp(`^claude/(${CLAUDE}|${DEFAULT_MODEL})$`), after: firstWords(40, true).length }],
      models: ["model-a", DEFAULT_MODEL],
      usage: summedUsage(40, { delivered: firstWords(40, true) }),
    });
    expect(s.claude.calls).toHaveLength(1);
    expectAnthropicPrefill(s.claude.calls[0]!, firstWords(40));
    const after = aroundSeam(read).after.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(after).toBe(ANSWER.slice(firstWords(40, true).length));
    expect(after.startsWith(WORDS[40]!)).toBe(true);
  });

  test("Claude's own stream broken by an overloaded error event is continued by Claude (its deltas end in spaces)", async () => {
    await using s = resumeSetup({ targets: ["claude", "a"], continuation: { claude: "prefill" }, config: RETRY });
    s.claude.reply({ kind: "answer", answer: ANSWER, errorAfterWords: 40 }, { kind: "answer", answer: ANSWER });
    const record = s.nextRecord();
    const read = await readStream(await ask(s.gw));
    expectResumed(read, { seams: [{ on: `claude/${CLAUDE}`, after: firstWords(40, true).length }], models: [CLAUDE, CLAUDE], usage: summedUsage(40, { delivered: firstWords(40, true), promptReported: true }) });
    expect(read.text).not.toContain("verloaded");
    expect(s.claude.calls).toHaveLength(2);
    expectAnthropicPrefill(s.claude.calls[1]!, firstWords(40));
    expect(s.a.calls).toHaveLength(0);
    expect((await within(record, 2_000, "the finish record")).resumed).toBe(true);
  });

  test("Claude's stream cut is continued by an OpenAI-type fallback", async () => {
    await using s = resumeSetup({ targets: ["claude", "a"], continuation: { a: "prefix" } });
    s.claude.reply({ kind: "answer", answer: ANSWER, spaceAfter: false, cutAfterWords: 40 });
    s.a.reply({ kind: "answer", answer: ANSWER, style: "prefix" });
    const read = await readStream(await ask(s.gw));
    expectResumed(read, { seams: [{ on: "a/model-a", after: firstWords(40).length }], models: [CLAUDE, "model-a"], usage: summedUsage(40, { promptReported: true }) });
    expectContinuation(s.a.calls[0]!, "prefix", firstWords(40), "model-a");
  });

  test("Claude rejecting the prefill: the client gets the original failure, never the 400", async () => {
    await using s = resumeSetup({ targets: ["a", "claude"], continuation: { claude: "prefill" } });
    s.a.reply({ kind: "answer", answer: ANSWER, endAfterWords: 40 });
    s.claude.reply({ kind: "answer", answer: ANSWER, rejectPrefill: true });
    const read = await readStream(await ask(s.gw));
    const error = expectOneErrorEvent(read, firstWords(40));
    expect(error.code).toBe("upstream_stream_truncated");
    expect(error.message).not.toMatch(/prefill|user message/i);
    expect(s.claude.calls).toHaveLength(1);
  });
});

describe("when a stream is not resumed it ends as today: one error event, no [DONE]", () => {
  test.each([
    ["resume left out", null],
    ["resume: false", false],
  ] as const)("%s: a cut gets today's error event and no continuation is asked for", async (_, resume) => {
    await using s = resumeSetup({ resume, continuation: { a: "prefill", b: "prefill" }, config: RETRY });
    s.a.reply({ kind: "answer", answer: ANSWER, cutAfterWords: 40 });
    const record = s.nextRecord();
    const read = await readStream(await ask(s.gw));
    expect(expectOneErrorEvent(read, firstWords(40)).code).toMatch(CUT_CODES);
    expect(read.comments.filter((c) => c.startsWith("resumed"))).toEqual([]);
    expect([s.a.calls.length, s.b.calls.length]).toEqual([1, 0]);
    const finish = await within(record, 2_000, "the finish record");
    expect(finish.resumed).toBe(false);
    expect(finish.attempts).toHaveLength(1);
  });

  test("resume on but no target can continue (every continuation none): today's error event", async () => {
    await using s = resumeSetup({ config: RETRY });
    s.a.reply({ kind: "answer", answer: ANSWER, endAfterWords: 40 });
    const read = await readStream(await ask(s.gw));
    expect(expectOneErrorEvent(read, firstWords(40)).code).toBe("upstream_stream_truncated");
    expect([s.a.calls.length, s.b.calls.length]).toEqual([1, 0]);
  });

  test("resume on but no capable target: an overloaded error event mid-stream ends the stream with one error event naming it", async () => {
    await using s = resumeSetup({ config: RETRY });
    s.a.reply({ kind: "answer", answer: ANSWER, errorAfterWords: 40 });
    const read = await readStream(await ask(s.gw));
    expect(expectOneErrorEvent(read, firstWords(40)).message).toContain("Overloaded");
    expect([s.a.calls.length, s.b.calls.length]).toEqual([1, 0]);
  });

  test("an error event that is not retryable (a content filter) is not resumed: one error event naming it", async () => {
    await using s = resumeSetup({ continuation: { a: "prefill", b: "prefill" }, config: RETRY });
    const filtered = { message: "The response was filtered due to the prompt triggering content management policy.", type: "invalid_request_error", param: "prompt", code: "content_filter" };
    s.a.reply({ kind: "answer", answer: ANSWER, errorAfterWords: 40, errorEvent: filtered });
    const read = await readStream(await ask(s.gw));
    expect(expectOneErrorEvent(read, firstWords(40)).message).toContain("filtered");
    expect([s.a.calls.length, s.b.calls.length]).toEqual([1, 0]);
  });

  test("an Anthropic error event that is not retryable (invalid_request_error) is not resumed", async () => {
    await using s = resumeSetup({ targets: ["claude", "a"], continuation: { claude: "prefill", a: "prefill" }, config: RETRY });
    s.claude.reply({ kind: "answer", answer: ANSWER, errorAfterWords: 40, errorType: "invalid_request_error" });
    const read = await readStream(await ask(s.gw));
    expectOneErrorEvent(read, firstWords(40, true));
    expect([s.claude.calls.length, s.a.calls.length]).toEqual([1, 0]);
  });

  test("a silence is not continued by the silent target itself: with no other target, the stream ends with upstream_timeout", async () => {
    await using s = resumeSetup({ targets: ["a"], continuation: { a: "prefill" }, config: RETRY, provider: { a: { timeouts: { idle: "100ms" } } } });
    s.a.reply({ kind: "answer", answer: ANSWER, stallAfterWords: 40 });
    const read = await readStream(await ask(s.gw));
    expect(expectOneErrorEvent(read, firstWords(40)).code).toBe("upstream_timeout");
    expect(s.a.calls).toHaveLength(1);
  });

  const TOOL_CALL: ChatCompletionChunk.Choice.Delta[] = [
    { tool_calls: [{ index: 0, id: "call_abc123", type: "function", function: { name: "get_weather", arguments: "" } }] },
    { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] },
  ];
  const REFUSAL: ChatCompletionChunk.Choice.Delta[] = [{ refusal: "I can't help with" }];
  test.each<[string, { inject?: ChatCompletionChunk.Choice.Delta[] }, Record<string, unknown>]>([
    ["a tool call in progress", { inject: TOOL_CALL }, {}],
    ["a refusal in progress", { inject: REFUSAL }, {}],
    ["n > 1", {}, { n: 2 }],
    ["logprobs", {}, { logprobs: true }],
  ])("%s: no resume", async (_, reply, request) => {
    await using s = resumeSetup({ continuation: { a: "prefill", b: "prefill" }, config: RETRY });
    s.a.reply({ kind: "answer", answer: ANSWER, cutAfterWords: 5, ...reply });
    const read = await readStream(await ask(s.gw, request));
    expect(expectOneErrorEvent(read, firstWords(5)).code).toMatch(CUT_CODES);
    expect(read.comments.filter((c) => c.startsWith("resumed"))).toEqual([]);
    expect([s.a.calls.length, s.b.calls.length]).toEqual([1, 0]);
  });

  test("a fallback that rejects prefill: the original failure reaches the client, not the 400, and the fallback is not asked again", async () => {
    await using s = resumeSetup({ continuation: { b: "prefill" } });
    s.a.reply({ kind: "answer", answer: ANSWER, endAfterWords: 40 }, { kind: "answer", answer: ANSWER, endAfterWords: 30 });
    s.b.reply({ kind: "answer", answer: ANSWER, rejectPrefill: true });
    const read = await readStream(await ask(s.gw));
    const error = expectOneErrorEvent(read, firstWords(40));
    expect(error.code).toBe("upstream_stream_truncated");
    expect(error.type).not.toBe("invalid_request_error");
    expect(error.message).not.toMatch(/prefill|role|final message/i);
    expect(s.b.calls).toHaveLength(1);
    // b is marked unable to continue for this process: the next break does not ask it.
    const again = await readStream(await ask(s.gw));
    expect(expectOneErrorEvent(again, firstWords(30)).code).toBe("upstream_stream_truncated");
    expect([s.a.calls.length, s.b.calls.length]).toEqual([2, 1]);
  });

  test.each([0, 1, 2])("max_resumes %p spent: a stream that keeps breaking ends with the original failure after that many continuations", async (max) => {
    await using s = resumeSetup({ targets: ["a"], continuation: { a: "prefill" }, max_resumes: max, config: { retries: 5 } });
    for (let i = 0; i <= max; i++) s.a.reply({ kind: "answer", answer: ANSWER, cutAfterWords: 10 });
    s.a.reply({ kind: "answer", answer: ANSWER });
    const read = await readStream(await ask(s.gw));
    expect(expectOneErrorEvent(read, firstWords(10 * (max + 1))).code).toMatch(CUT_CODES);
    const seams = read.comments.filter((c) => c.startsWith("resumed"));
    expect(seams).toEqual(Array.from({ length: max }, (_, i) => `resumed on a/model-a after ${firstWords(10 * (i + 1)).length} characters`));
    expect(new Set(read.chunks.map((c) => c.id)).size).toBe(1);
    expect(read.chunks.filter((c) => c.choices[0]?.delta.role !== undefined)).toHaveLength(1);
    expect(s.a.calls).toHaveLength(max + 1);
  });

  test("max_resumes defaults to 2", async () => {
    await using s = resumeSetup({ targets: ["a"], continuation: { a: "prefill" }, config: { retries: 5 } });
    for (let i = 0; i < 4; i++) s.a.reply({ kind: "answer", answer: ANSWER, endAfterWords: 10 });
    const read = await readStream(await ask(s.gw));
    expect(expectOneErrorEvent(read, firstWords(30)).code).toBe("upstream_stream_truncated");
    expect(s.a.calls).toHaveLength(3);
  });
});

describe("continuations that fail, and the edges of resuming", () => {
  test("a continuation that breaks before its first content: the next capable target continues, with the one seam comment it made", async () => {
    await using s = resumeSetup({ continuation: { a: "prefill", b: "prefill" }, config: RETRY });
    s.a.reply({ kind: "answer", answer: ANSWER, cutAfterWords: 40 }, { kind: "answer", answer: ANSWER, cutAfterWords: 0 });
    s.b.reply({ kind: "answer", answer: ANSWER });
    const read = await readStream(await ask(s.gw));
    expectResumed(read, { seams: [{ on: "b/model-b", after: firstWords(40).length }], models: ["model-a", "model-b"], usage: summedUsage(40) });
    expect([s.a.calls.length, s.b.calls.length]).toEqual([2, 1]);
    expectContinuation(s.b.calls[0]!, "prefill", firstWords(40), "model-b");
  });

  test("a continuation answered with a 500 moves on to the next capable target, and the target is not marked unable to continue", async () => {
    await using s = resumeSetup({ continuation: { a: "prefill", b: "prefill" }, config: RETRY });
    s.a.reply({ kind: "answer", answer: ANSWER, cutAfterWords: 40 }, { kind: "error", status: 500 });
    s.b.reply({ kind: "answer", answer: ANSWER });
    expectResumed(await readStream(await ask(s.gw)), { seams: [{ on: "b/model-b", after: firstWords(40).length }], models: ["model-a", "model-b"], usage: summedUsage(40) });
    // Next stream: a continues its own break again.
    s.a.reply({ kind: "answer", answer: ANSWER, cutAfterWords: 20 }, { kind: "answer", answer: ANSWER });
    expectResumed(await readStream(await ask(s.gw)), { seams: [{ on: "a/model-a", after: firstWords(20).length }], models: ["model-a", "model-a"], usage: summedUsage(20) });
    expect([s.a.calls.length, s.b.calls.length]).toEqual([4, 1]);
  });

  test("a continuation that breaks in turn is continued by the next target: two seams, the exact answer, usage over all three parts", async () => {
    await using s = resumeSetup({ targets: ["a", "b", "c"], continuation: { b: "prefix", c: "vllm" } });
    s.a.reply({ kind: "answer", answer: ANSWER, cutAfterWords: 20 });
    s.b.reply({ kind: "answer", answer: ANSWER, endAfterWords: 20 });
    s.c.reply({ kind: "answer", answer: ANSWER, model: "model-c-0613" });
    const record = s.nextRecord();
    const read = await readStream(await ask(s.gw));
    // The two broken parts are counted with the tokenizer; each one's prompt is the next one's
    // less its own count (see summedUsage in ./support/resume.ts).
    const first = o200k(firstWords(20));
    const second = o200k(ANSWER.slice(firstWords(20).length, firstWords(40).length));
    const prompt = (P + 40 - second - first) + (P + 40 - second) + (P + 40);
    const completion = first + second + 20;
    expectResumed(read, {
      seams: [{ on: "b/model-b", after: firstWords(20).length }, { on: "c/model-c", after: firstWords(40).length }],
      models: ["model-a", "model-c-0613"],
      usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
    });
    expectContinuation(s.b.calls[0]!, "prefix", firstWords(20), "model-b");
    expectContinuation(s.c.calls[0]!, "vllm", firstWords(40), "model-c");
    const middle = read.chunks.filter((c) => c.model === "model-b").map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(middle).toBe(ANSWER.slice(firstWords(20).length, firstWords(40).length));
    const finish = await within(record, 2_000, "the finish record");
    expect(finish.resumed).toBe(true);
    expect(finish.attempts.map((a) => a.provider)).toEqual(["a", "b", "c"]);
  });

  test("with the overall deadline near, no continuation starts: the original failure ends the stream", async () => {
    await using s = resumeSetup({ continuation: { a: "prefill", b: "prefill" }, config: { ...RETRY, timeout: "10s" } });
    s.a.reply({ kind: "answer", answer: ANSWER, endAfterWords: 40, delayMs: 1 });
    const answer = ask(s.gw);
    await s.a.nextCall();
    s.clock.advance(9_900);
    const read = await readStream(await answer);
    expect(expectOneErrorEvent(read, firstWords(40)).code).toBe("upstream_stream_truncated");
    expect([s.a.calls.length, s.b.calls.length]).toEqual([1, 0]);
  });

  test("a client that goes away during the continuation: the continuing upstream call is let go", async () => {
    await using s = resumeSetup({ continuation: { b: "prefill" } });
    s.a.reply({ kind: "answer", answer: ANSWER, cutAfterWords: 40 });
    s.b.reply({ kind: "answer", answer: ANSWER, stallAfterWords: 5 });
    const record = s.nextRecord();
    const controller = new AbortController();
    const body = JSON.stringify({ model: SMART, messages: QUESTION, stream: true });
    const res = await fetch(`${s.gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body, signal: controller.signal });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const want = ANSWER.slice(0, firstWords(45).length);
    const content = () => {
      let got = "";
      createParser({ onEvent: (e) => (got += e.data === "[DONE]" ? "" : ((JSON.parse(e.data) as ChatCompletionChunk).choices[0]?.delta.content ?? "")) }).feed(text);
      return got;
    };
    while (content() !== want) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error(`the stream ended early:\n${text}`);
      text += decoder.decode(chunk.value, { stream: true });
    }
    expect(text).toContain(": resumed on b/model-b after");
    controller.abort();
    await within(s.b.calls[0]!.aborted, 2_000, "the continuing upstream call let go");
    expect((await within(record, 2_000, "the finish record")).outcome).toBe("client_abort");
  });
});

describe("the seam with other text", () => {
  test("a break right after a paragraph break: the newlines are not sent twice", async () => {
    const answer = "The first paragraph ends here.\n\nThe second paragraph starts now and goes on to its end.";
    const cut = answerPieces(answer, true).slice(0, 5).join("");
    expect(cut.endsWith("here.\n\n")).toBe(true);
    await using s = resumeSetup({ continuation: { a: "prefill" }, config: RETRY });
    s.a.reply({ kind: "answer", answer, spaceAfter: true, cutAfterWords: 5 }, { kind: "answer", answer, spaceAfter: true });
    const read = await readStream(await ask(s.gw));
    expectResumed(read, { answer, seams: [{ on: "a/model-a", after: cut.length }], models: ["model-a", "model-a"] });
    expectContinuation(s.a.calls[1]!, "prefill", cut.trimEnd(), "model-a");
  });

  test("non-ASCII text: the seam comment counts JavaScript string length, and the answer is exact", async () => {
    const answer = "Café au lait ☕ costs 3 € in Zürich 🚀 and naïve tourists 👩‍👩‍👧 pay more — c’est la vie.";
    const k = 7;
    const sent = answerPieces(answer).slice(0, k).join("");
    await using s = resumeSetup({ continuation: { a: "prefix" }, config: RETRY });
    s.a.reply({ kind: "answer", answer, cutAfterWords: k }, { kind: "answer", answer, style: "prefix" });
    const read = await readStream(await ask(s.gw));
    expectResumed(read, { answer, seams: [{ on: "a/model-a", after: sent.length }], models: ["model-a", "model-a"] });
    expect(sent.length).not.toBe(new TextEncoder().encode(sent).length);
  });

  test("a JSON (non-streamed) request on a resume route is answered as before", async () => {
    await using s = resumeSetup({ continuation: { a: "prefill" }, config: RETRY });
    const res = await post(`${s.gw.url}/v1/chat/completions`, { model: SMART, messages: QUESTION });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe("Hello from upstream");
  });
});

describe("the env-only set-up: CHATGATE_RESUME and CHATGATE_CONTINUATION", () => {
  const envGateway = (up: { url: string }, extra: Record<string, string>) =>
    startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: "sk-env-secret", CHATGATE_CONTINUATION: "prefix", CHATGATE_RETRIES: "1", ...extra });

  test("CHATGATE_RESUME=1 resumes on the implicit provider in its CHATGATE_CONTINUATION style", async () => {
    await using up = fakeOpenAI();
    await using gw = envGateway(up, { CHATGATE_RESUME: "1" });
    up.reply({ kind: "answer", answer: ANSWER, style: "prefix", cutAfterWords: 40 }, { kind: "answer", answer: ANSWER, style: "prefix" });
    const res = await post(`${gw.url}/v1/chat/completions`, { model: "gpt-4o-mini", messages: QUESTION, stream: true, stream_options: { include_usage: true } });
    const read = await readStream(res);
    expectResumed(read, { seams: [{ on: "openai/gpt-4o-mini", after: firstWords(40).length }], models: ["gpt-4o-mini", "gpt-4o-mini"], usage: summedUsage(40) });
    expectContinuation(up.calls[1]!, "prefix", firstWords(40), "gpt-4o-mini");
  });

  test("without CHATGATE_RESUME the same break ends as today", async () => {
    await using up = fakeOpenAI();
    await using gw = envGateway(up, {});
    up.reply({ kind: "answer", answer: ANSWER, style: "prefix", cutAfterWords: 40 });
    const read = await readStream(await post(`${gw.url}/v1/chat/completions`, { model: "gpt-4o-mini", messages: QUESTION, stream: true }));
    expect(expectOneErrorEvent(read, firstWords(40)).code).toMatch(CUT_CODES);
    expect(up.calls).toHaveLength(1);
  });
});
