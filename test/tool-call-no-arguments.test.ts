// A tool call without arguments, streamed, in both directions. From an Anthropic upstream, whose
// tool_use block with input {} streams one input_json_delta of "" or none at all, the OpenAI client
// must assemble arguments "{}" (as OpenAI sends them, and as the non-streamed answer has them), not
// "", which no client can JSON.parse. From an OpenAI upstream whose call has arguments "" or none,
// the Anthropic SDK's stream helper must assemble input {}.
import { describe, expect, test } from "bun:test";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import type { StreamEvent } from "../src/providers/anthropic/wire.ts";
import { DEFAULT_MODEL, message, messageEvents, sse, toolUseId } from "./support/anthropic-wire.ts";
import { anthropicAt } from "./support/config-file.ts";
import { fakeAnthropic } from "./support/fake-anthropic.ts";
import { GPT, ON_OPENAI, TOOLS, anthropicClient, chunkStream, startTargets } from "./support/messages.ts";
import { chat, startRouted } from "./support/routed.ts";
import { readSse } from "./support/sse.ts";

const WEATHER = { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } };
const NOW = { type: "function", function: { name: "get_time", parameters: { type: "object", properties: {} } } };

/**
 * Anthropic's stream of two calls: get_weather {"city":"Paris"} in fragments, then get_time with
 * input {}, whose block carries `argless` (one "" delta, or none) between its start and stop.
 */
function twoCalls(argless: "one empty delta" | "no delta"): string {
  const content = [
    { type: "tool_use" as const, id: toolUseId(), name: "get_weather", input: { city: "Paris" } },
    { type: "tool_use" as const, id: toolUseId(), name: "get_time", input: {} },
  ];
  const events = messageEvents(message({ content, stopReason: "tool_use" })).filter((e) => !(e.type === "content_block_delta" && e.index === 1));
  const stop = events.findIndex((e) => e.type === "content_block_stop" && e.index === 1);
  const empty: StreamEvent = { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: "" } };
  if (argless === "one empty delta") events.splice(stop, 0, empty);
  return events.map(sse).join("");
}

function setUp() {
  const claude = fakeAnthropic();
  const gw = startRouted({ providers: [anthropicAt("claude", claude)], models: { smart: { targets: [{ provider: "claude", model: "claude-sonnet-4-5" }] } } });
  return { claude, gw, [Symbol.asyncDispose]: () => gw.stop().then(() => claude.stop()) };
}

describe("a tool call without arguments from an Anthropic upstream, streamed to an OpenAI client", () => {
  test.each(["one empty delta", "no delta"] as const)("with %s, assembles arguments \"{}\" in the openai SDK", async (argless) => {
    await using s = setUp();
    s.claude.reply({ kind: "stream", raw: twoCalls(argless) });
    const stream = s.gw.client().chat.completions.stream({ model: "smart", messages: [{ role: "user", content: "Weather and time?" }], tools: [WEATHER, NOW] as never });
    const final = await stream.finalChatCompletion();
    const calls = final.choices[0]!.message.tool_calls!.map((c) => (c.type === "function" ? [c.function.name, c.function.arguments] : []));
    expect(calls).toEqual([["get_weather", '{"city":"Paris"}'], ["get_time", "{}"]]);
    expect(JSON.parse(calls[1]![1]!)).toEqual({});
    expect(final.model).toBe(DEFAULT_MODEL);
  });

  test.each(["one empty delta", "no delta"] as const)("with %s, the raw SSE sends one \"{}\" for it before the finish, and the other call's fragments as they came", async (argless) => {
    await using s = setUp();
    s.claude.reply({ kind: "stream", raw: twoCalls(argless) });
    const { status, data } = await readSse(await chat(s.gw, { stream: true, tools: [WEATHER, NOW] }));
    expect(status).toBe(200);
    expect(data.at(-1)).toBe("[DONE]");
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as ChatCompletionChunk);
    const pieces: string[][] = [[], []];
    for (const chunk of chunks) for (const call of chunk.choices[0]?.delta.tool_calls ?? []) pieces[call.index]!.push(call.function?.arguments ?? "");
    // The start's "" and Anthropic's fragments of 7 characters, nothing added.
    expect(pieces[0]).toEqual(["", '{"city"', ':"Paris', '"}']);
    expect(pieces[1]).toEqual(["", "{}"]);
    const finish = chunks.findIndex((c) => c.choices[0]?.finish_reason === "tool_calls");
    const last = chunks.findLastIndex((c) => c.choices[0]?.delta.tool_calls !== undefined);
    expect(last).toBeLessThan(finish);
  });
});

describe("a tool call without arguments from an OpenAI upstream, streamed to an Anthropic client", () => {
  const SSE = "text/event-stream";

  test.each([
    ["arguments \"\"", { arguments: "" }],
    ["no arguments member", {}],
  ] as const)("with %s, the SDK's stream helper assembles input {}", async (_, args) => {
    await using t = startTargets();
    const deltas = [{ tool_calls: [{ index: 0, id: "call_now_1", type: "function" as const, function: { name: "Read", ...args } }] }];
    t.oa.reply({ kind: "raw", status: 200, contentType: SSE, body: chunkStream(GPT, deltas, "tool_calls") });
    const final = await anthropicClient(t.gw.url).messages.stream({ model: ON_OPENAI, max_tokens: 100, tools: TOOLS, messages: [{ role: "user", content: "Read it" }] }).finalMessage();
    expect(final.content).toEqual([expect.objectContaining({ type: "tool_use", id: "call_now_1", name: "Read", input: {} })]);
    expect(final.stop_reason).toBe("tool_use");
  });
});
