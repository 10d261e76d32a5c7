// A native Anthropic target behind a public name (issue 9): a preamble then an error falls back to
// OpenAI without a byte of it reaching the client; the classification applies to it as to any
// target; and its answers reach the official openai SDK and the Vercel AI SDK (generateText and
// streamText, each with a tool call round trip) in OpenAI's shape, with Anthropic's own model.
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, isStepCount, jsonSchema, streamText, tool } from "ai";
import { describe, expect, test } from "bun:test";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { TestClock } from "./support/clock.ts";
import { anthropicAt, openaiAt } from "./support/config-file.ts";
import { DEFAULT_MODEL, toolUseId } from "./support/anthropic-wire.ts";
import { fakeAnthropic, type FakeAnthropic } from "./support/fake-anthropic.ts";
import { DEFAULT_WORDS, chatCompletionChunks } from "./support/openai-wire.ts";
import { chat, startRouted, upstreamBytes } from "./support/routed.ts";
import { readSse } from "./support/sse.ts";
import { fakeOpenAI, type FakeOpenAI } from "./support/upstream.ts";
import type { TestGateway } from "./support/gateway.ts";

/** What route `smart` asks Anthropic for; scripted answers name the dated DEFAULT_MODEL, as Anthropic's do. */
const CLAUDE = "claude-sonnet-4-5";
const GPT = "gpt-4.1";

interface Setup extends AsyncDisposable {
  claude: FakeAnthropic;
  oa: FakeOpenAI;
  gw: TestGateway;
  clock: TestClock;
}

/** Route `smart` → claude/claude-sonnet-4-5, then oa/gpt-4.1. */
function setUp(config: { retries?: number; max_retry_wait?: string } = {}): Setup {
  const claude = fakeAnthropic();
  const oa = fakeOpenAI();
  const clock = new TestClock();
  const gw = startRouted(
    {
      providers: [anthropicAt("claude", claude), openaiAt("oa", oa)],
      models: { smart: { targets: [{ provider: "claude", model: CLAUDE }, { provider: "oa", model: GPT }] } },
      ...config,
    },
    clock.overrides,
  );
  return { claude, oa, gw, clock, [Symbol.asyncDispose]: () => gw.stop().then(() => Promise.all([claude.stop(), oa.stop()])).then(() => {}) };
}

const modelOf = (body: unknown) => (body as { model: string }).model;

describe("an Anthropic primary", () => {
  test("sending message_start and ping, then overloaded_error, falls back to OpenAI, and no byte of its attempt reaches the client", async () => {
    await using s = setUp();
    s.claude.reply({ kind: "stream", errorAfterEvents: 2, errorType: "overloaded_error" }, { kind: "stream", errorAfterEvents: 2, errorType: "overloaded_error", splitBytes: 5 });
    // The bytes, exactly: the fallback's stream as it sent it.
    const read = await readSse(await chat(s.gw, { stream: true }));
    expect(read.text).toBe(upstreamBytes(GPT, read.data[0]!));
    // The same through the SDK, assembled chunk by chunk.
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of await s.gw.client().chat.completions.create({ model: "smart", messages: [{ role: "user", content: "hi" }], stream: true })) chunks.push(chunk);
    const { id, created } = chunks[0]!;
    expect(chunks).toEqual(chatCompletionChunks(GPT, DEFAULT_WORDS, false).map((c) => ({ ...c, id, created })));
    expect(s.claude.calls.map((c) => [modelOf(c.body), (c.body as { stream: boolean }).stream])).toEqual([[CLAUDE, true], [CLAUDE, true]]);
    expect(s.oa.calls.map((c) => modelOf(c.body))).toEqual([GPT, GPT]);
  });

  test("rate_limit_error with retry-after 1 s is waited for and retried on it, as for any target", async () => {
    await using s = setUp({ retries: 2, max_retry_wait: "10s" });
    s.claude.reply({ kind: "error", type: "rate_limit_error", headers: { "retry-after": "1" } }, { kind: "message", model: DEFAULT_MODEL });
    const res = await chat(s.gw);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe(DEFAULT_MODEL);
    expect(s.clock.sleeps).toEqual([1000]);
    expect([s.claude.calls.length, s.oa.calls.length]).toEqual([2, 0]);
  });

  test.each(["overloaded_error", "api_error"] as const)("%s is retried on it after a backoff", async (type) => {
    await using s = setUp({ retries: 2 });
    s.claude.reply({ kind: "error", type });
    expect((await chat(s.gw)).status).toBe(200);
    expect(s.clock.sleeps).toEqual([125]);
    expect([s.claude.calls.length, s.oa.calls.length]).toEqual([2, 0]);
  });

  test("authentication_error (our key refused) goes to the OpenAI fallback at once, without a retry", async () => {
    await using s = setUp({ retries: 2 });
    s.claude.reply({ kind: "error", type: "authentication_error" });
    const res = await chat(s.gw);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe(GPT);
    expect([s.claude.calls.length, s.oa.calls.length]).toEqual([1, 1]);
  });
});

describe("an Anthropic target through the clients", () => {
  test("the openai SDK gets a chat.completion and a chunk stream, each with Anthropic's own dated model", async () => {
    await using s = setUp();
    s.claude.reply({ kind: "message", model: DEFAULT_MODEL }, { kind: "stream", model: DEFAULT_MODEL });
    const client = s.gw.client();
    const completion = await client.chat.completions.create({ model: "smart", messages: [{ role: "user", content: "hi" }] });
    expect(completion).toMatchObject({ object: "chat.completion", model: DEFAULT_MODEL, choices: [{ message: { role: "assistant", content: "Hello from Claude" }, finish_reason: "stop" }] });
    const chunks: ChatCompletionChunk[] = [];
    const stream = await client.chat.completions.create({ model: "smart", messages: [{ role: "user", content: "hi" }], stream: true, stream_options: { include_usage: true } });
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe("Hello from Claude");
    expect(new Set(chunks.map((c) => c.model))).toEqual(new Set([DEFAULT_MODEL]));
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 6, total_tokens: 18 } });
    expect(s.claude.calls.map((c) => modelOf(c.body))).toEqual([CLAUDE, CLAUDE]);
    expect(s.oa.calls).toHaveLength(0);
  });

  const weather = tool({
    description: "The weather in a city",
    inputSchema: jsonSchema<{ city: string }>({ type: "object", properties: { city: { type: "string" } }, required: ["city"] }),
    execute: async ({ city }) => ({ city, sky: "sunny" }),
  });

  /** The second request after a tool call: the tool_use block and its tool_result, ids kept. */
  function expectToolRoundTrip(claude: FakeAnthropic, id: string) {
    expect(claude.calls).toHaveLength(2);
    const second = claude.calls[1]!.body as { model: string; messages: unknown[]; tools: unknown[] };
    expect(second.model).toBe(CLAUDE);
    expect(second.tools).toEqual([expect.objectContaining({ name: "get_weather", input_schema: expect.objectContaining({ required: ["city"] }) })]);
    expect(second.messages).toEqual([
      { role: "user", content: expect.anything() },
      { role: "assistant", content: [expect.objectContaining({ type: "tool_use", id, name: "get_weather", input: { city: "Paris" } })] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: id, content: JSON.stringify({ city: "Paris", sky: "sunny" }) }] },
    ]);
  }

  test.each([false, true])("the Vercel AI SDK (streamed: %p) calls a tool and gets the answer to its result", async (streamed) => {
    await using s = setUp();
    const id = toolUseId();
    const kind = streamed ? ("stream" as const) : ("message" as const);
    s.claude.reply(
      { kind, model: DEFAULT_MODEL, content: [{ type: "tool_use", id, name: "get_weather", input: { city: "Paris" } }], stopReason: "tool_use" },
      { kind, model: DEFAULT_MODEL, content: [{ type: "text", text: "It is sunny in Paris." }] },
    );
    const model = createOpenAI({ baseURL: s.gw.baseURL, apiKey: "unused" }).chat("smart");
    const options = { model, tools: { get_weather: weather }, stopWhen: isStepCount(2), maxRetries: 0, prompt: "Weather in Paris?" };
    const result = streamed ? streamText(options) : await generateText(options);
    expect(await result.text).toBe("It is sunny in Paris.");
    const steps = await result.steps;
    expect(steps).toHaveLength(2);
    expect(steps[0]!.toolCalls).toEqual([expect.objectContaining({ toolCallId: id, toolName: "get_weather", input: { city: "Paris" } })]);
    expect(steps[0]!.toolResults).toEqual([expect.objectContaining({ toolCallId: id, output: { city: "Paris", sky: "sunny" } })]);
    expect(steps.map((step) => step.response.modelId)).toEqual([DEFAULT_MODEL, DEFAULT_MODEL]);
    expectToolRoundTrip(s.claude, id);
    expect(s.oa.calls).toHaveLength(0);
  });
});
