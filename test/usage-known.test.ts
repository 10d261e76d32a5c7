// Usage always known (issue 12): chatgate asks OpenAI-compatible upstreams for usage itself and
// gives a client that did not ask exactly the stream OpenAI would; when no usage comes (a cut, a
// client that left, a provider without usage, a JSON answer without it) the finish record gets a
// real tokenizer's count of the prompt and of what was delivered, marked usageEstimated. In process
// against the fake upstreams, and the compiled binary's log line.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { countTokens as o200k } from "gpt-tokenizer/encoding/o200k_base";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { requestFields } from "../src/obs/log.ts";
import { spawnBinary } from "./support/binary.ts";
import { anthropicAt } from "./support/config-file.ts";
import { fakeAnthropic } from "./support/fake-anthropic.ts";
import { post, startGateway, type TestGateway } from "./support/gateway.ts";
import { nextRecord } from "./support/records.ts";
import { DEFAULT_WORDS, chatCompletion } from "./support/openai-wire.ts";
import { startRouted, within } from "./support/routed.ts";
import { readSse } from "./support/sse.ts";
import { COOKBOOK_MESSAGES } from "./support/cookbook.ts";
import { fakeOpenAI, type FakeOpenAI } from "./support/upstream.ts";

const MODEL = "gpt-4o-mini";
/** OpenAI's cookbook ("How to count tokens with tiktoken"): the API counts these as 124 prompt tokens on gpt-4o-mini. */
const COOKBOOK = COOKBOOK_MESSAGES;
const COOKBOOK_PROMPT = 124;
const WORDS = " The quick brown fox jumps over the lazy dog while the gateway counts every token it passes on".split(/(?= )/);

function openaiGateway(up: FakeOpenAI): TestGateway {
  return startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: "sk-upstream-usage-test" });
}

const streamed = (extra: Record<string, unknown> = {}) => ({ model: MODEL, messages: COOKBOOK, stream: true, ...extra });

/** The text of every content delta in an SSE body, as the client assembled it. */
function contentOf(data: string[]): string {
  return data
    .filter((d) => d.startsWith("{") && !d.startsWith('{"error"'))
    .map((d) => (JSON.parse(d) as ChatCompletionChunk).choices.map((c) => c.delta.content ?? "").join(""))
    .join("");
}

/** `text` with every chunk's id and created set to those of `like`'s first chunk: two streams of the same answer compared byte for byte. */
function sameIds(text: string, like: string): string {
  const id = (s: string) => /"id":"([^"]+)","object":"chat\.completion\.chunk","created":(\d+)/.exec(s)!;
  const [, fromId, fromCreated] = id(text);
  const [, toId, toCreated] = id(like);
  return text.replaceAll(`"id":"${fromId}"`, `"id":"${toId}"`).replaceAll(`"created":${fromCreated},`, `"created":${toCreated},`);
}

describe("chatgate asks for usage itself, and a client that did not ask sees exactly what OpenAI sends it", () => {
  test("the upstream gets the client's bytes with include_usage spliced in; the client's stream is byte for byte the one the upstream sends unasked; the record has the upstream's own usage", async () => {
    await using up = fakeOpenAI();
    await using gw = openaiGateway(up);
    up.reply({ kind: "stream", words: WORDS }, { kind: "stream", words: WORDS });
    const record = nextRecord(gw);
    const request = streamed({ temperature: 0 });
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, request));
    expect(read.status).toBe(200);

    const raw = JSON.stringify(request);
    expect(up.calls[0]!.rawBody).toBe(`{"stream_options":{"include_usage":true},${raw.slice(1)}`);
    expect(up.calls[0]!.body).toMatchObject({ stream_options: { include_usage: true } });

    // What the same upstream sends a client that does not ask for usage, straight.
    const direct = await readSse(await post(`${up.url}/chat/completions`, request));
    expect(direct.text).not.toContain("usage");
    expect(read.text).toBe(sameIds(direct.text, read.text));

    const finish = await record;
    expect(finish.outcome).toBe("ok");
    expect(finish.usage).toEqual({ prompt_tokens: 5, completion_tokens: WORDS.length, total_tokens: 5 + WORDS.length });
    expect(finish.usageEstimated ?? false).toBe(false);
    expect(requestFields(finish).usage_estimated).toBe(false);
  });

  test("a client that asked for usage gets its stream with usage, and its bytes go upstream unchanged", async () => {
    await using up = fakeOpenAI();
    await using gw = openaiGateway(up);
    const request = streamed({ stream_options: { include_usage: true } });
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, request));
    expect(up.calls[0]!.rawBody).toBe(JSON.stringify(request));
    const last = JSON.parse(read.data.at(-2)!) as ChatCompletionChunk;
    expect(last).toMatchObject({ choices: [], usage: { prompt_tokens: 5, completion_tokens: DEFAULT_WORDS.length } });
  });

  test("stream_options without include_usage is sent with include_usage true, its other fields kept; the client still gets no usage", async () => {
    await using up = fakeOpenAI();
    await using gw = openaiGateway(up);
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, streamed({ stream_options: { include_usage: false, custom: 1 } })));
    expect(up.calls[0]!.body).toMatchObject({ stream_options: { include_usage: true, custom: 1 } });
    expect(read.text).not.toContain("usage");
    expect(read.data.at(-1)).toBe("[DONE]");
  });

  test("an upstream that refuses stream_options with a 400 is asked again without it, and never again after; its usage is estimated", async () => {
    await using up = fakeOpenAI();
    await using gw = openaiGateway(up);
    const refusal = { message: "Unrecognized request argument supplied: stream_options", type: "invalid_request_error", param: null, code: null };
    up.reply({ kind: "error", status: 400, error: refusal }, { kind: "stream", words: WORDS }, { kind: "stream", words: WORDS });
    const record = nextRecord(gw);
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, streamed()));
    expect(read.status).toBe(200);
    expect(contentOf(read.data)).toBe(WORDS.join(""));
    expect(up.calls.map((c) => "stream_options" in (c.body as object))).toEqual([true, false]);
    const finish = await record;
    expect(finish.usageEstimated).toBe(true);
    expect(finish.usage).toMatchObject({ prompt_tokens: COOKBOOK_PROMPT, completion_tokens: o200k(WORDS.join("")) });
    await readSse(await post(`${gw.baseURL}/chat/completions`, streamed()));
    expect(up.calls.map((c) => "stream_options" in (c.body as object))).toEqual([true, false, false]);
  });
});

describe("no usage from the upstream: the prompt and what was delivered, counted with a tokenizer", () => {
  test("a stream the upstream cuts: the prompt's count and the tokenizer's count of the text the client got, usage_estimated", async () => {
    await using up = fakeOpenAI();
    await using gw = openaiGateway(up);
    // Role chunk and 7 words, then half an event and a reset.
    up.reply({ kind: "stream", words: WORDS, cutAfterEvents: 8 });
    const record = nextRecord(gw);
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, streamed()));
    expect(read.data.at(-1)).toContain('"error"');
    const got = contentOf(read.data);
    expect(got).toBe(WORDS.slice(0, 7).join(""));
    const finish = await record;
    expect(finish.outcome).toBe("truncated");
    expect(finish.usageEstimated).toBe(true);
    expect(finish.usage).toEqual({ prompt_tokens: COOKBOOK_PROMPT, completion_tokens: o200k(got), total_tokens: COOKBOOK_PROMPT + o200k(got) });
    expect(requestFields(finish)).toMatchObject({ usage_estimated: true, tokens_in: COOKBOOK_PROMPT, tokens_out: o200k(got) });
  });

  test("a stream the client leaves: the text it was sent up to then, usage_estimated", async () => {
    await using up = fakeOpenAI();
    await using gw = openaiGateway(up);
    const many = Array.from({ length: 200 }, (_, i) => ` word${i}`);
    up.reply({ kind: "stream", words: many, delayMs: 15 });
    const record = nextRecord(gw);
    const res = await post(`${gw.baseURL}/chat/completions`, streamed());
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let received = "";
    const textSoFar = () => contentOf(received.split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => e.slice(6)));
    while (textSoFar().length < 60) received += decoder.decode((await reader.read()).value, { stream: true });
    await reader.cancel();
    const text = textSoFar();
    const finish = await record;
    expect(finish.outcome).toBe("client_abort");
    expect(finish.usageEstimated).toBe(true);
    expect(finish.usage!.prompt_tokens).toBe(COOKBOOK_PROMPT);
    // What was in flight when the client left may add a chunk or two to what it read.
    const counted = o200k(text);
    expect(finish.usage!.completion_tokens).toBeGreaterThanOrEqual(counted);
    expect(finish.usage!.completion_tokens).toBeLessThanOrEqual(counted + 4);
    expect(finish.usage!.completion_tokens / counted).toBeLessThan(1.05);
  });

  test("an upstream that never sends usage, even asked: the whole answer counted, the client's stream untouched", async () => {
    await using up = fakeOpenAI();
    await using gw = openaiGateway(up);
    up.reply({ kind: "stream", words: WORDS, includeUsage: false }, { kind: "stream", words: WORDS });
    const record = nextRecord(gw);
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, streamed()));
    expect(read.data.at(-1)).toBe("[DONE]");
    const direct = await readSse(await post(`${up.url}/chat/completions`, streamed()));
    expect(read.text).toBe(sameIds(direct.text, read.text));
    const finish = await record;
    expect(finish.outcome).toBe("ok");
    expect(finish.usageEstimated).toBe(true);
    expect(finish.usage).toEqual({ prompt_tokens: COOKBOOK_PROMPT, completion_tokens: o200k(WORDS.join("")), total_tokens: COOKBOOK_PROMPT + o200k(WORDS.join("")) });
  });

  test("a JSON answer without usage is estimated; one with usage keeps the upstream's", async () => {
    await using up = fakeOpenAI();
    await using gw = openaiGateway(up);
    const content = "Bonjour ! Voici une réponse sans décompte de jetons.";
    const { usage: _, ...bare } = chatCompletion(MODEL, content);
    up.reply({ kind: "raw", status: 200, body: JSON.stringify(bare) }, { kind: "completion", content });
    const first = nextRecord(gw);
    const res = await post(`${gw.baseURL}/chat/completions`, { model: MODEL, messages: COOKBOOK });
    expect(await res.json()).toEqual(bare);
    expect(up.calls[0]!.body).not.toHaveProperty("stream_options");
    const estimated = await first;
    expect(estimated.usageEstimated).toBe(true);
    expect(estimated.usage).toEqual({ prompt_tokens: COOKBOOK_PROMPT, completion_tokens: o200k(content), total_tokens: COOKBOOK_PROMPT + o200k(content) });
    const second = nextRecord(gw);
    await (await post(`${gw.baseURL}/chat/completions`, { model: MODEL, messages: COOKBOOK })).json();
    const reported = await second;
    expect(reported.usageEstimated ?? false).toBe(false);
    expect(reported.usage?.prompt_tokens).toBe(5);
  });

  test("an Anthropic stream cut before message_delta: its own input tokens, and the output counted from what was delivered", async () => {
    await using claude = fakeAnthropic();
    await using gw = startRouted({ providers: [anthropicAt("claude", claude)], models: { smart: { targets: [{ provider: "claude", model: "claude-sonnet-4-5" }] } } });
    const answer = "Stream resume lets a gateway finish an answer that its provider dropped halfway through, and usage is counted either way.";
    claude.reply({ kind: "answer", answer, cutAfterWords: 9 });
    const record = nextRecord(gw);
    const question = "Please explain usage estimates in one short paragraph.";
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, { model: "smart", messages: [{ role: "user", content: question }], stream: true }));
    const got = contentOf(read.data);
    expect(got.length).toBeGreaterThan(0);
    expect(answer.startsWith(got)).toBe(true);
    const finish = await record;
    expect(finish.outcome).toBe("truncated");
    expect(finish.usageEstimated).toBe(true);
    // The fake counts a request's words as its input tokens (message_start).
    const input = question.split(" ").length;
    expect(finish.usage).toMatchObject({ prompt_tokens: input, completion_tokens: o200k(got), total_tokens: input + o200k(got) });
  });
});

describe("the compiled binary", () => {
  test("estimates are counted by a child process that gets no environment and exits once idle", async () => {
    await using up = fakeOpenAI();
    await using gw = await spawnBinary({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: "sk-upstream-usage-binary" });
    const children = () => readFileSync(`/proc/${gw.proc.pid}/task/${gw.proc.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    expect(children()).toEqual([]);
    up.reply({ kind: "stream", words: WORDS, cutAfterEvents: 6 });
    const cut = await readSse(await post(`${gw.url}/v1/chat/completions`, streamed()));
    const line = await gw.waitForLog((l) => l.msg === "request" && l.outcome === "truncated");
    expect(line).toMatchObject({ usage_estimated: true, tokens_in: COOKBOOK_PROMPT, tokens_out: o200k(contentOf(cut.data)) });
    const [child] = children();
    expect(readFileSync(`/proc/${child}/cmdline`, "utf8").split("\0")).toContain("__count-tokens");
    expect(readFileSync(`/proc/${child}/environ`, "utf8")).not.toContain("sk-upstream-usage-binary");
    // Gone 1.5 s after its last count, and all of its memory with it. Not our child to wait on: /proc says.
    const gone = async () => {
      while (children().length > 0) await Bun.sleep(20);
    };
    await within(gone(), 5_000, "the counting process's exit");
  }, 60_000);

  test("a cut stream's request line says usage_estimated with the tokenizer's counts, and SIGTERM right after it still writes that line before exiting", async () => {
    await using up = fakeOpenAI();
    await using gw = await spawnBinary({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: "sk-upstream-usage-binary" });
    up.reply({ kind: "stream", words: WORDS }, { kind: "stream", words: WORDS, cutAfterEvents: 6 });
    const whole = await readSse(await post(`${gw.url}/v1/chat/completions`, streamed()));
    const wholeLine = await gw.waitForLog((l) => l.msg === "request" && l.outcome === "ok");
    expect(wholeLine).toMatchObject({ usage_estimated: false, tokens_in: 5, tokens_out: WORDS.length });
    expect(whole.text).not.toContain("usage");

    const cut = await readSse(await post(`${gw.url}/v1/chat/completions`, streamed()));
    const got = contentOf(cut.data);
    // The process's first estimate loads the tokenizer: a shutdown now waits for the record.
    gw.proc.kill("SIGTERM");
    expect(await within(gw.exited, 10_000, "the exit")).toBe(0);
    const line = gw.logs().find((l) => l.msg === "request" && l.outcome === "truncated");
    expect(line).toMatchObject({ usage_estimated: true, tokens_in: COOKBOOK_PROMPT, tokens_out: o200k(got) });
  }, 60_000);
});
