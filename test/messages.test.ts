// POST /v1/messages in front of targets that speak chat completions (the mock, an OpenAI-compatible
// upstream): the Anthropic SDK as the client, the request translated on the way in (asserted on
// what the upstream received), the answer translated on the way out (JSON and the exact event
// sequence), and the SDK's stream helpers reassembling text, thinking and tool inputs.
import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, test } from "bun:test";
import { countTokens } from "gpt-tokenizer/encoding/o200k_base";
import type { FinishRecord } from "../src/gateway/finish.ts";
import { post } from "./support/gateway.ts";
import { startRouted } from "./support/routed.ts";
import {
  GPT, ON_MOCK, ON_OPENAI, SYSTEM, TOOLS, TWO_CALLS, anthropicClient, chunkStream, completionWith, eventsOf, startTargets,
} from "./support/messages.ts";

const SSE = "text/event-stream";
/** The SDK's answer types add fields (citations, caller) its answers leave out where they do not apply: compared as plain JSON. */
const plain = (value: unknown): unknown => value;
const HI: Anthropic.MessageParam[] = [{ role: "user", content: "hello there friend" }];

describe("on the mock", () => {
  test("a JSON request is answered as an Anthropic message with its stop reason and usage", async () => {
    await using t = startTargets();
    const message = await anthropicClient(t.gw.url).messages.create({ model: ON_MOCK, max_tokens: 100, messages: HI });
    expect(message).toMatchObject({
      type: "message", role: "assistant", model: "mock", content: [{ type: "text", text: "hello there friend" }],
      stop_reason: "end_turn", stop_sequence: null, usage: { input_tokens: 3, output_tokens: 3 },
    });
    expect(message.id).toStartWith("msg_");
  });

  test("max_tokens reached is stop_reason max_tokens", async () => {
    await using t = startTargets();
    const message = await anthropicClient(t.gw.url).messages.create({ model: ON_MOCK, max_tokens: 2, messages: HI });
    expect(plain([message.content, message.stop_reason])).toEqual([[{ type: "text", text: "hello there " }], "max_tokens"]);
  });

  test("a stream is the Messages API's exact event sequence, and the SDK's helpers reassemble its text", async () => {
    await using t = startTargets();
    const res = await post(`${t.gw.url}/v1/messages`, { model: ON_MOCK, max_tokens: 100, messages: HI, stream: true }, { "anthropic-version": "2023-06-01" });
    expect(res.headers.get("content-type")).toStartWith(SSE);
    const events = eventsOf(await res.text());
    // The SSE event name repeats each data's type.
    for (const [name, data] of events) expect(data.type).toBe(name);
    const start = events[0]![1] as { message: Anthropic.Message };
    expect(events.map(([name]) => name)).toEqual([
      "message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop",
    ]);
    expect(start.message).toMatchObject({ type: "message", role: "assistant", model: "mock", content: [], stop_reason: null, stop_sequence: null });
    expect(events.filter(([name]) => name !== "ping").slice(1).map(([, data]) => data)).toEqual([
      { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "hello " } },
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "there " } },
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "friend" } },
      { type: "content_block_stop", index: 0 },
      { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { input_tokens: 3, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 3 } },
      { type: "message_stop" },
    ]);

    const texts: string[] = [];
    const stream = anthropicClient(t.gw.url).messages.stream({ model: ON_MOCK, max_tokens: 100, messages: HI }).on("text", (text) => texts.push(text));
    const final = await stream.finalMessage();
    expect(texts).toEqual(["hello ", "there ", "friend"]);
    expect(final).toMatchObject({ content: [{ type: "text", text: "hello there friend" }], stop_reason: "end_turn", usage: { input_tokens: 3, output_tokens: 3 } });
  });
});

describe("on an OpenAI-compatible target", () => {
  test("system blocks, tools, tool_choice, stop sequences, thinking and metadata are translated to chat completions", async () => {
    await using t = startTargets();
    t.oa.reply({ kind: "raw", status: 200, body: completionWith(GPT, { content: "ok" }, "stop") });
    // By hand: the SDK's types leave out temperature and top_p, which the API still takes.
    await post(`${t.gw.url}/v1/messages`, {
      model: ON_OPENAI, max_tokens: 20_000, system: SYSTEM, tools: TOOLS, tool_choice: { type: "any", disable_parallel_tool_use: true },
      stop_sequences: ["END"], temperature: 0.5, top_p: 0.9, top_k: 5, metadata: { user_id: "user-1" },
      thinking: { type: "enabled", budget_tokens: 10_000 },
      messages: [{ role: "user", content: [{ type: "text", text: "look" }, { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } }] }],
    });
    expect(t.oa.calls[0]!.body).toEqual({
      model: GPT,
      messages: [
        { role: "system", content: `${SYSTEM[0]!.text}\n\n${SYSTEM[1]!.text}` },
        { role: "user", content: [{ type: "text", text: "look" }, { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } }] },
      ],
      max_completion_tokens: 20_000,
      reasoning_effort: "medium",
      stop: ["END"],
      temperature: 0.5,
      top_p: 0.9,
      user: "user-1",
      tools: TOOLS.map((tool) => ({ type: "function", function: { name: tool.name, parameters: tool.input_schema, description: tool.description } })),
      tool_choice: "required",
      parallel_tool_calls: false,
    });
  });

  test("a multi-turn conversation keeps tool ids: tool_use → the assistant's tool calls, tool_result → tool messages; text blocks are joined; thinking is dropped", async () => {
    await using t = startTargets();
    t.oa.reply({ kind: "raw", status: 200, body: completionWith(GPT, { content: "done" }, "stop") });
    await anthropicClient(t.gw.url).messages.create({
      model: ON_OPENAI, max_tokens: 100, tools: TOOLS,
      messages: [
        { role: "user", content: [{ type: "text", text: "<system-reminder>be careful</system-reminder>" }, { type: "text", text: "list and read", cache_control: { type: "ephemeral" } }] },
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "I should call both", signature: "sig" },
            { type: "text", text: "Calling." },
            { type: "tool_use", id: "toolu_A", name: "Read", input: { file_path: "/etc/hosts" } },
            { type: "tool_use", id: "toolu_B", name: "Bash", input: { command: "ls" } },
          ],
        },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "toolu_A", content: "127.0.0.1 localhost" },
            { type: "tool_result", tool_use_id: "toolu_B", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }], is_error: true },
            { type: "text", text: "now explain" },
          ],
        },
      ],
    });
    expect((t.oa.calls[0]!.body as { messages: unknown[] }).messages).toEqual([
      { role: "user", content: "<system-reminder>be careful</system-reminder>\n\nlist and read" },
      {
        role: "assistant", content: "Calling.",
        tool_calls: [
          { id: "toolu_A", type: "function", function: { name: "Read", arguments: '{"file_path":"/etc/hosts"}' } },
          { id: "toolu_B", type: "function", function: { name: "Bash", arguments: '{"command":"ls"}' } },
        ],
      },
      { role: "tool", tool_call_id: "toolu_A", content: "127.0.0.1 localhost" },
      { role: "tool", tool_call_id: "toolu_B", content: "Error: a\nb" },
      { role: "user", content: "now explain" },
    ]);
  });

  test("search results the client supplies reach a chat model as text, in a user turn and in a tool result", async () => {
    await using t = startTargets();
    t.oa.reply({ kind: "raw", status: 200, body: completionWith(GPT, { content: "ok" }, "stop") });
    const result = { type: "search_result" as const, source: "https://example.com/bun", title: "Bun", content: [{ type: "text" as const, text: "Bun is a runtime." }] };
    await anthropicClient(t.gw.url).messages.create({
      model: ON_OPENAI, max_tokens: 100, tools: TOOLS,
      messages: [
        { role: "user", content: [result, { type: "text", text: "what is bun?" }] },
        { role: "assistant", content: [{ type: "tool_use", id: "toolu_S", name: "Read", input: { file_path: "x" } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_S", content: [result] }] },
      ],
    });
    const sent = (t.oa.calls[0]!.body as { messages: unknown[] }).messages;
    expect(sent[0]).toEqual({ role: "user", content: "Bun (https://example.com/bun)\n\nBun is a runtime.\n\nwhat is bun?" });
    expect(sent[2]).toEqual({ role: "tool", tool_call_id: "toolu_S", content: "Bun (https://example.com/bun)\n\nBun is a runtime." });
  });

  test("an upstream that reports no usage: the answer carries the estimate its finish record carries, JSON and stream, never 0", async () => {
    await using t = startTargets();
    const done: FinishRecord[] = [];
    t.gw.app.gateway.finishes.subscribe((r) => done.push(r));
    const answer = "the answer is here";
    const json = JSON.parse(completionWith(GPT, { content: answer }, "stop")) as Record<string, unknown>;
    delete json.usage;
    // The stream without its usage chunk, as a server that ignores stream_options sends it.
    const events = chunkStream(GPT, [{ content: "the answer " }, { content: "is here" }], "stop").split("\n\n").filter((e) => !e.includes('"choices":[]'));
    t.oa.reply({ kind: "raw", status: 200, body: JSON.stringify(json) }, { kind: "raw", status: 200, body: events.join("\n\n"), contentType: "text/event-stream" });
    const client = anthropicClient(t.gw.url);
    const message = await client.messages.create({ model: ON_OPENAI, max_tokens: 100, messages: HI });
    const streamed = await client.messages.stream({ model: ON_OPENAI, max_tokens: 100, messages: HI }).finalMessage();
    for (const [got, record] of [[message, done[0]], [streamed, done[1]]] as const) {
      expect(record!.usageEstimated).toBe(true);
      expect(got.usage.input_tokens).toBeGreaterThan(0);
      expect([got.usage.input_tokens, got.usage.output_tokens]).toEqual([record!.usage!.prompt_tokens, record!.usage!.completion_tokens]);
    }
    expect(streamed.content).toMatchObject([{ type: "text", text: answer }]);
  });

  test("POST /chat tells tokensUsed from the estimate when the upstream reports no usage, not 0", async () => {
    await using t = startTargets();
    const json = JSON.parse(completionWith(GPT, { content: "Hello there world" }, "stop")) as Record<string, unknown>;
    delete json.usage;
    t.oa.reply({ kind: "raw", status: 200, body: JSON.stringify(json) });
    const res = await post(`${t.gw.url}/chat`, { message: "hi how are you", model: `oa/${GPT}` });
    expect(((await res.json()) as { tokensUsed: number }).tokensUsed).toBeGreaterThan(0);
  });

  test("an assistant turn of thinking alone goes as empty content, never as a message chat completions refuse (content null, no tool calls)", async () => {
    await using t = startTargets();
    t.oa.reply({ kind: "raw", status: 200, body: completionWith(GPT, { content: "ok" }, "stop") });
    await anthropicClient(t.gw.url).messages.create({
      model: ON_OPENAI, max_tokens: 100,
      messages: [{ role: "user", content: "a" }, { role: "assistant", content: [{ type: "thinking", thinking: "x", signature: "s" }] }, { role: "user", content: "b" }],
    });
    expect((t.oa.calls[0]!.body as { messages: unknown[] }).messages).toEqual([{ role: "user", content: "a" }, { role: "assistant", content: "" }, { role: "user", content: "b" }]);
  });

  test("a JSON answer with two tool calls in one turn is two tool_use blocks with the upstream's ids, stop_reason tool_use and usage", async () => {
    await using t = startTargets();
    const calls = [
      { id: "call_1", type: "function" as const, function: { name: "Read", arguments: '{"file_path":"/a"}' } },
      { id: "call_2", type: "function" as const, function: { name: "Bash", arguments: '{"command":"ls"}' } },
    ];
    const usage = { prompt_tokens: 50, completion_tokens: 9, total_tokens: 59, prompt_tokens_details: { cached_tokens: 20 } };
    t.oa.reply({ kind: "raw", status: 200, body: completionWith(GPT, { content: "Let me look.", tool_calls: calls, reasoning_content: "Two tools." }, "tool_calls", usage) });
    const message = await anthropicClient(t.gw.url).messages.create({ model: ON_OPENAI, max_tokens: 100, tools: TOOLS, messages: HI });
    expect(plain(message.content)).toEqual([
      { type: "thinking", thinking: "Two tools.", signature: "" },
      { type: "text", text: "Let me look." },
      { type: "tool_use", id: "call_1", name: "Read", input: { file_path: "/a" } },
      { type: "tool_use", id: "call_2", name: "Bash", input: { command: "ls" } },
    ]);
    expect(message.stop_reason).toBe("tool_use");
    expect(plain(message.usage)).toEqual({ input_tokens: 30, cache_creation_input_tokens: 0, cache_read_input_tokens: 20, output_tokens: 9 });
    expect(message.model).toBe(GPT);
  });

  test("a stream with two tool calls in one turn is a tool_use block each, and the SDK reassembles both inputs exactly", async () => {
    await using t = startTargets();
    t.oa.reply({ kind: "raw", status: 200, contentType: SSE, body: chunkStream(GPT, TWO_CALLS, "tool_calls") });
    const res = await post(`${t.gw.url}/v1/messages`, { model: ON_OPENAI, max_tokens: 100, tools: TOOLS, messages: HI, stream: true });
    const events = eventsOf(await res.text());
    expect(events.filter(([name]) => name !== "ping").map(([, data]) => data).slice(1)).toEqual([
      { type: "content_block_start", index: 0, content_block: { type: "tool_use", id: "call_read_1", name: "Read", input: {} } },
      { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: '{"file_pa' } },
      { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: 'th":"/etc/hosts"}' } },
      { type: "content_block_stop", index: 0 },
      { type: "content_block_start", index: 1, content_block: { type: "tool_use", id: "call_bash_2", name: "Bash", input: {} } },
      { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: '{"command":"ls -la",' } },
      { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: '"timeout":5}' } },
      { type: "content_block_stop", index: 1 },
      { type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { input_tokens: 40, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 12 } },
      { type: "message_stop" },
    ]);

    t.oa.reply({ kind: "raw", status: 200, contentType: SSE, body: chunkStream(GPT, TWO_CALLS, "tool_calls") });
    const partial: string[] = [];
    const stream = anthropicClient(t.gw.url).messages.stream({ model: ON_OPENAI, max_tokens: 100, tools: TOOLS, messages: HI });
    stream.on("inputJson", (delta) => partial.push(delta));
    const final = await stream.finalMessage();
    expect(partial.join("")).toBe('{"file_path":"/etc/hosts"}{"command":"ls -la","timeout":5}');
    expect(plain(final.content)).toEqual([
      { type: "tool_use", id: "call_read_1", name: "Read", input: { file_path: "/etc/hosts" } },
      { type: "tool_use", id: "call_bash_2", name: "Bash", input: { command: "ls -la", timeout: 5 } },
    ]);
    expect([final.stop_reason, final.usage.input_tokens, final.usage.output_tokens]).toEqual(["tool_use", 40, 12]);
  });

  test("streamed reasoning_content is a thinking block before the text, reassembled by the SDK's thinking and text events", async () => {
    await using t = startTargets();
    // DeepSeek's and vLLM's field, then OpenRouter's: both are reasoning.
    const deltas = [{ reasoning_content: "Let me " }, { reasoning: "think." }, { content: "The answer" }, { content: " is 4." }];
    t.oa.reply({ kind: "raw", status: 200, contentType: SSE, body: chunkStream(GPT, deltas, "stop") });
    const thinking: string[] = [];
    const text: string[] = [];
    const stream = anthropicClient(t.gw.url).messages.stream({ model: ON_OPENAI, max_tokens: 4096, thinking: { type: "enabled", budget_tokens: 2048 }, messages: HI });
    stream.on("thinking", (delta) => thinking.push(delta)).on("text", (delta) => text.push(delta));
    const final = await stream.finalMessage();
    expect([thinking, text]).toEqual([["Let me ", "think."], ["The answer", " is 4."]]);
    expect(plain(final.content)).toEqual([{ type: "thinking", thinking: "Let me think.", signature: "" }, { type: "text", text: "The answer is 4." }]);
    expect((t.oa.calls[0]!.body as { reasoning_effort: string }).reasoning_effort).toBe("low");
  });

  test("Claude Code's flow: a streamed turn answered with two tool calls, then the tool results answered with text", async () => {
    await using t = startTargets();
    const client = anthropicClient(t.gw.url);
    t.oa.reply(
      { kind: "raw", status: 200, contentType: SSE, body: chunkStream(GPT, [{ content: "Checking." }, ...TWO_CALLS], "tool_calls") },
      { kind: "raw", status: 200, contentType: SSE, body: chunkStream(GPT, [{ content: "Both worked." }], "stop") },
    );
    const messages: Anthropic.MessageParam[] = [{ role: "user", content: [{ type: "text", text: "inspect", cache_control: { type: "ephemeral" } }] }];
    const headers = { "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14" };
    const first = await client.messages.stream({ model: ON_OPENAI, max_tokens: 32_000, system: SYSTEM, tools: TOOLS, messages }, { headers }).finalMessage();
    expect(first.content.map((b) => b.type)).toEqual(["text", "tool_use", "tool_use"]);
    const uses = first.content.filter((b): b is Anthropic.ToolUseBlock => b.type === "tool_use");
    messages.push({ role: "assistant", content: first.content as Anthropic.ContentBlockParam[] });
    messages.push({ role: "user", content: uses.map((u) => ({ type: "tool_result" as const, tool_use_id: u.id, content: `ran ${u.name}` })) });
    const second = await client.messages.stream({ model: ON_OPENAI, max_tokens: 32_000, system: SYSTEM, tools: TOOLS, messages }, { headers }).finalMessage();
    expect(plain(second.content)).toEqual([{ type: "text", text: "Both worked." }]);
    expect((t.oa.calls[1]!.body as { messages: unknown[] }).messages.slice(2)).toEqual([
      {
        role: "assistant", content: "Checking.",
        tool_calls: [
          { id: "call_read_1", type: "function", function: { name: "Read", arguments: '{"file_path":"/etc/hosts"}' } },
          { id: "call_bash_2", type: "function", function: { name: "Bash", arguments: '{"command":"ls -la","timeout":5}' } },
        ],
      },
      { role: "tool", tool_call_id: "call_read_1", content: "ran Read" },
      { role: "tool", tool_call_id: "call_bash_2", content: "ran Bash" },
    ]);
  });

  test("a refusal is a text block with stop_reason refusal, streamed or not", async () => {
    await using t = startTargets();
    const refusal = "I can't help with that.";
    t.oa.reply({ kind: "raw", status: 200, body: completionWith(GPT, { refusal }, "stop") });
    const message = await anthropicClient(t.gw.url).messages.create({ model: ON_OPENAI, max_tokens: 100, messages: HI });
    expect(plain([message.content, message.stop_reason])).toEqual([[{ type: "text", text: refusal }], "refusal"]);

    t.oa.reply({ kind: "raw", status: 200, contentType: SSE, body: chunkStream(GPT, [{ refusal: "I can't " }, { refusal: "help with that." }], "stop") });
    const res = await post(`${t.gw.url}/v1/messages`, { model: ON_OPENAI, max_tokens: 100, messages: HI, stream: true });
    const events = eventsOf(await res.text());
    expect(events.find(([name]) => name === "message_delta")![1]).toMatchObject({ delta: { stop_reason: "refusal", stop_sequence: null } });

    t.oa.reply({ kind: "raw", status: 200, contentType: SSE, body: chunkStream(GPT, [{ refusal: "I can't " }, { refusal: "help with that." }], "stop") });
    const final = await anthropicClient(t.gw.url).messages.stream({ model: ON_OPENAI, max_tokens: 100, messages: HI }).finalMessage();
    expect(plain([final.content, final.stop_reason])).toEqual([[{ type: "text", text: refusal }], message.stop_reason]);

    // Content with it is an answer: its finish reason stands, as in a JSON answer.
    t.oa.reply({ kind: "raw", status: 200, contentType: SSE, body: chunkStream(GPT, [{ content: "Partly: " }, { refusal: "no more." }], "stop") });
    const mixed = await anthropicClient(t.gw.url).messages.stream({ model: ON_OPENAI, max_tokens: 100, messages: HI }).finalMessage();
    expect(mixed.stop_reason).toBe("end_turn");
  });

  test("a stream cut after its first content ends with Anthropic's error event and no message_stop, which the SDK raises", async () => {
    await using t = startTargets();
    t.oa.reply({ kind: "stream", cutAfterEvents: 2 });
    const res = await post(`${t.gw.url}/v1/messages`, { model: ON_OPENAI, max_tokens: 100, messages: HI, stream: true });
    const events = eventsOf(await res.text());
    expect(events.map(([name]) => name)).toEqual(["message_start", "content_block_start", "ping", "content_block_delta", "error"]);
    expect(events.at(-1)![1]).toEqual({ type: "error", error: { type: "api_error", message: expect.stringContaining("Provider 'oa'") } });

    t.oa.reply({ kind: "stream", cutAfterEvents: 2 });
    const stream = anthropicClient(t.gw.url).messages.stream({ model: ON_OPENAI, max_tokens: 100, messages: HI });
    const failure = await stream.finalMessage().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(Anthropic.APIError);
    expect((failure as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: "error", error: { type: "api_error" } });
  });

  test("an upstream error event mid-stream becomes Anthropic's error event", async () => {
    await using t = startTargets();
    t.oa.reply({ kind: "stream", errorEventAfter: 2 });
    const events = eventsOf(await (await post(`${t.gw.url}/v1/messages`, { model: ON_OPENAI, max_tokens: 100, messages: HI, stream: true })).text());
    expect(events.map(([name]) => name)).toEqual(["message_start", "content_block_start", "ping", "content_block_delta", "error"]);
    expect(events.at(-1)![1]).toMatchObject({ type: "error", error: { type: "api_error", message: expect.any(String) } });
  });

  test("while the upstream is silent mid-stream the client gets Anthropic's ping events, which the SDK skips", async () => {
    await using t = startTargets({ CHATGATE_STREAM_HEARTBEAT_MS: "30" });
    t.oa.reply({ kind: "stream", delayMs: 150 });
    const events = eventsOf(await (await post(`${t.gw.url}/v1/messages`, { model: ON_OPENAI, max_tokens: 100, messages: HI, stream: true })).text());
    const names = events.map(([name]) => name);
    // The heartbeat's pings, besides the one after the first content_block_start.
    expect(names.filter((n) => n === "ping").length).toBeGreaterThan(1);
    expect(names.filter((n) => n !== "ping")).toEqual([
      "message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop",
    ]);
    expect(events.filter(([name]) => name === "ping").map(([, data]) => data)).toEqual(names.filter((n) => n === "ping").map(() => ({ type: "ping" })));
  });

  test("count_tokens counts the translated request with the tokenizer, as chat completions' estimates do", async () => {
    await using t = startTargets();
    const system = "You are a helpful assistant.";
    const text = "How many tokens is this sentence?";
    const counted = await anthropicClient(t.gw.url).messages.countTokens({ model: ON_OPENAI, system, messages: [{ role: "user", content: text }] });
    // OpenAI's cookbook framing: 3 per message plus its role, 3 to prime the reply.
    expect(counted).toEqual({ input_tokens: 3 + (3 + countTokens("system") + countTokens(system)) + (3 + countTokens("user") + countTokens(text)) });
    expect(t.oa.calls).toHaveLength(0);
  });
});

describe("errors in Anthropic's shape", () => {
  test("the client key is taken from x-api-key; a wrong or missing one is a 401 authentication_error", async () => {
    await using t = startTargets({ CHATGATE_API_KEYS: "sk-client-1" });
    const ok = await anthropicClient(t.gw.url, "sk-client-1").messages.create({ model: ON_MOCK, max_tokens: 10, messages: HI });
    expect(plain(ok.content)).toEqual([{ type: "text", text: "hello there friend" }]);
    const wrong = await anthropicClient(t.gw.url, "sk-wrong").messages.create({ model: ON_MOCK, max_tokens: 10, messages: HI }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((wrong as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: "error", error: { type: "authentication_error", message: "Incorrect API key provided." } });
    const missing = await post(`${t.gw.url}/v1/messages`, { model: ON_MOCK, max_tokens: 10, messages: HI });
    expect([missing.status, ((await missing.json()) as { error: { type: string } }).error.type]).toEqual([401, "authentication_error"]);
    const bearer = await post(`${t.gw.url}/v1/messages`, { model: ON_MOCK, max_tokens: 10, messages: HI }, { authorization: "Bearer sk-client-1" });
    expect(bearer.status).toBe(200);
  });

  test("every answer carries Anthropic's request-id header, the request's id, which the SDK gives as _request_id and APIError.requestID", async () => {
    await using t = startTargets({ CHATGATE_API_KEYS: "sk-client-1" });
    const client = anthropicClient(t.gw.url, "sk-client-1");
    const { data, response } = await client.messages.create({ model: ON_MOCK, max_tokens: 10, messages: HI }).withResponse();
    expect(response.headers.get("request-id")).toBe(response.headers.get("x-request-id"));
    expect((data as { _request_id?: string | null })._request_id).toBe(response.headers.get("x-request-id"));
    const stream = await client.messages.create({ model: ON_MOCK, max_tokens: 10, messages: HI, stream: true }).withResponse();
    expect(stream.response.headers.get("request-id")).toBe(stream.response.headers.get("x-request-id"));
    for await (const _ of stream.data);
    const counted = await client.messages.countTokens({ model: ON_MOCK, messages: HI }).withResponse();
    expect(counted.response.headers.get("request-id")).toBeTruthy();
    const listed = await client.models.list().withResponse();
    expect(listed.response.headers.get("request-id")).toBeTruthy();
    const refused = (await anthropicClient(t.gw.url, "sk-wrong").messages.create({ model: ON_MOCK, max_tokens: 10, messages: HI }).catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(refused.requestID).toBe(refused.headers?.get("x-request-id"));
    expect(refused.requestID).toBeTruthy();
    const missing = (await client.messages.create({ model: "no-such-model", max_tokens: 10, messages: HI }).catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect([missing.status, missing.requestID === missing.headers?.get("x-request-id")]).toEqual([404, true]);
  });

  test("the beta client's /v1/messages?beta=true (Claude Code's) is the same route, errors included", async () => {
    await using t = startTargets();
    const message = await anthropicClient(t.gw.url).beta.messages.create({ model: ON_MOCK, max_tokens: 10, messages: HI }, { headers: { "anthropic-beta": "claude-code-20250219" } });
    expect(plain(message.content)).toEqual([{ type: "text", text: "hello there friend" }]);
    const bad = await post(`${t.gw.url}/v1/messages?beta=true`, { model: ON_MOCK, messages: HI });
    expect([bad.status, ((await bad.json()) as { error: { message: string } }).error.message]).toEqual([400, "max_tokens: Field required."]);
  });

  test("a bad body is a 400 invalid_request_error naming the field", async () => {
    await using t = startTargets();
    const cases: Array<[unknown, string]> = [
      [{ model: ON_MOCK, messages: HI }, "max_tokens: Field required."],
      [{ model: ON_MOCK, max_tokens: 10, messages: [{ role: "system", content: "x" }] }, "messages.0.role: must be one of user, assistant."],
      [{ model: ON_MOCK, max_tokens: 10, messages: [{ role: "user", content: [{ type: "text", text: "a" }, { type: "video" }] }] }, "messages.0.content.1.type: unknown content block type 'video'; expected one of text, image, document, tool_result, search_result, container_upload."],
      [{ model: ON_MOCK, max_tokens: 10, messages: [{ role: "user", content: [{ type: "thinking", thinking: "hm" }] }] }, "messages.0.content.0.type: a 'thinking' block is not allowed here; expected one of text, image, document, tool_result, search_result, container_upload."],
      [{ model: ON_MOCK, max_tokens: 10, messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "t", content: [{ type: "audio" }] }] }] }, "messages.0.content.0.content.0.type: unknown content block type 'audio'; expected one of text, image, document, search_result."],
      [{ model: ON_MOCK, max_tokens: 10, messages: [{ role: "user", content: [{ type: "image", source: { type: "base64", data: "x" } }] }] }, "messages.0.content.0.source: must be {type: base64, media_type, data}, {type: url, url} or {type: file, file_id}."],
      [{ model: ON_MOCK, max_tokens: 10, messages: [{ role: "assistant", content: [{ type: "tool_use", id: "a", name: "b" }] }] }, "messages.0.content.0.input: Field required."],
      [{ model: ON_MOCK, max_tokens: 10, temperature: 1.5, messages: HI }, "temperature: must be a number from 0 to 1."],
    ];
    for (const [body, message] of cases) {
      const res = await post(`${t.gw.url}/v1/messages`, body);
      expect([res.status, await res.json()]).toEqual([400, { type: "error", error: { type: "invalid_request_error", message }, request_id: res.headers.get("x-request-id") }]);
    }
    const notJson = await post(`${t.gw.url}/v1/messages`, "{nope");
    expect([notJson.status, ((await notJson.json()) as { error: { type: string } }).error.type]).toEqual([400, "invalid_request_error"]);
  });

  test("thinking of type enabled needs budget_tokens (at least 1024), on /v1/messages and count_tokens; disabled and adaptive need none", async () => {
    await using t = startTargets();
    const bad: Array<[unknown, string]> = [
      [{ type: "enabled" }, "thinking.budget_tokens: Field required."],
      [{ type: "enabled", budget_tokens: 1023 }, "thinking.budget_tokens: must be an integer of at least 1024."],
      [{ type: "enabled", budget_tokens: 2048.5 }, "thinking.budget_tokens: must be an integer of at least 1024."],
      [{ type: "sometimes" }, "thinking.type: must be one of enabled, disabled, adaptive."],
    ];
    for (const [thinking, message] of bad) {
      for (const [path, body] of [
        ["/v1/messages", { model: ON_OPENAI, max_tokens: 4096, thinking, messages: HI }],
        ["/v1/messages", { model: ON_OPENAI, max_tokens: 4096, thinking, messages: HI, stream: true }],
        ["/v1/messages/count_tokens", { model: ON_OPENAI, thinking, messages: HI }],
      ] as const) {
        const res = await post(`${t.gw.url}${path}`, body);
        expect([path, res.status, await res.json()]).toEqual([path, 400, { type: "error", error: { type: "invalid_request_error", message }, request_id: res.headers.get("x-request-id") }]);
      }
    }
    // The SDK's own types require budget_tokens; a client that leaves it out gets Anthropic's BadRequestError.
    const sdk = await anthropicClient(t.gw.url).messages.create({ model: ON_OPENAI, max_tokens: 4096, thinking: { type: "enabled" } as Anthropic.ThinkingConfigParam, messages: HI }).catch((e: unknown) => e);
    expect(sdk).toBeInstanceOf(Anthropic.BadRequestError);
    expect(t.oa.calls).toHaveLength(0);

    for (const [thinking, effort] of [[{ type: "enabled", budget_tokens: 1024 }, "low"], [{ type: "disabled" }, undefined], [{ type: "adaptive" }, "medium"]] as const) {
      t.oa.reply({ kind: "raw", status: 200, body: completionWith(GPT, { content: "ok" }, "stop") });
      const res = await post(`${t.gw.url}/v1/messages`, { model: ON_OPENAI, max_tokens: 4096, thinking, messages: HI });
      expect([thinking, res.status]).toEqual([thinking, 200]);
      expect((t.oa.calls.at(-1)!.body as { reasoning_effort?: string }).reasoning_effort).toBe(effort);
      expect((await post(`${t.gw.url}/v1/messages/count_tokens`, { model: ON_OPENAI, thinking, messages: HI })).status).toBe(200);
    }
  });

  test("an unknown model is a 404 not_found_error; an upstream 500 is Anthropic's 500 api_error, where chat completions get 502", async () => {
    await using t = startTargets();
    const done: FinishRecord[] = [];
    t.gw.app.gateway.finishes.subscribe((r) => done.push(r));
    const client = anthropicClient(t.gw.url);
    const missing = await client.messages.create({ model: "nope", max_tokens: 10, messages: HI }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
    expect((missing as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ error: { type: "not_found_error" } });
    t.oa.reply({ kind: "error", status: 500 }, { kind: "error", status: 500 }, { kind: "error", status: 500 }, { kind: "error", status: 500 });
    const failed = await post(`${t.gw.url}/v1/messages`, { model: ON_OPENAI, max_tokens: 10, messages: HI });
    expect([failed.status, ((await failed.json()) as { error: { type: string } }).error.type]).toEqual([500, "api_error"]);
    expect(failed.headers.get("x-chatgate-provider")).toBe("oa");
    const sdk = await client.messages.create({ model: ON_OPENAI, max_tokens: 10, messages: HI }).catch((e: unknown) => e);
    expect(sdk).toBeInstanceOf(Anthropic.InternalServerError);
    expect([(sdk as InstanceType<typeof Anthropic.APIError>).status, (sdk as InstanceType<typeof Anthropic.APIError>).error]).toMatchObject([500, { type: "error", error: { type: "api_error" } }]);
    // A stream that fails before its first event gets the same status.
    const streamed = await post(`${t.gw.url}/v1/messages`, { model: ON_OPENAI, max_tokens: 10, messages: HI, stream: true });
    expect([streamed.status, ((await streamed.json()) as { error: { type: string } }).error.type]).toEqual([500, "api_error"]);
    // The log line says what the client got.
    expect(done.filter((r) => r.route === "/v1/messages" && r.provider === "oa").map((r) => r.status)).toEqual([500, 500, 500]);
    // Chat completions are OpenAI's: the same failure is a 502 server_error there.
    const chat = await post(`${t.gw.url}/v1/chat/completions`, { model: ON_OPENAI, messages: HI });
    expect([chat.status, ((await chat.json()) as { error: { type: string; code: string } }).error]).toMatchObject([502, { type: "server_error", code: "upstream_error" }]);
  });

  test("an OpenAI-compatible upstream's 503 is Anthropic's 529 overloaded_error, JSON and stream; chat completions still get 502", async () => {
    await using t = startTargets();
    t.oa.reply({ kind: "error", status: 503 }, { kind: "error", status: 503 }, { kind: "error", status: 503 }, { kind: "error", status: 503 });
    const json = await post(`${t.gw.url}/v1/messages`, { model: ON_OPENAI, max_tokens: 10, messages: HI });
    expect([json.status, ((await json.json()) as { error: { type: string } }).error.type]).toEqual([529, "overloaded_error"]);
    const streamed = await post(`${t.gw.url}/v1/messages`, { model: ON_OPENAI, max_tokens: 10, messages: HI, stream: true });
    expect([streamed.status, ((await streamed.json()) as { error: { type: string } }).error.type]).toEqual([529, "overloaded_error"]);
    const sdk = await anthropicClient(t.gw.url).messages.create({ model: ON_OPENAI, max_tokens: 10, messages: HI }).catch((e: unknown) => e);
    expect([(sdk as InstanceType<typeof Anthropic.APIError>).status, (sdk as InstanceType<typeof Anthropic.APIError>).error]).toMatchObject([529, { type: "error", error: { type: "overloaded_error" } }]);
    const chat = await post(`${t.gw.url}/v1/chat/completions`, { model: ON_OPENAI, messages: HI });
    expect([chat.status, ((await chat.json()) as { error: { code: string } }).error.code]).toEqual([502, "upstream_error"]);
  });

  test("a model whose every target is cooling down is a 500 api_error at once, where chat completions get 503", async () => {
    await using t = startTargets({ CHATGATE_COOLDOWN_AFTER: "1", CHATGATE_COOLDOWN_MS: "60000" });
    t.oa.reply({ kind: "error", status: 500 });
    expect((await post(`${t.gw.url}/v1/messages`, { model: ON_OPENAI, max_tokens: 10, messages: HI })).status).toBe(500);
    const cooling = await anthropicClient(t.gw.url).messages.create({ model: ON_OPENAI, max_tokens: 10, messages: HI }).catch((e: unknown) => e);
    expect(cooling).toBeInstanceOf(Anthropic.InternalServerError);
    expect((cooling as InstanceType<typeof Anthropic.APIError>).status).toBe(500);
    expect((cooling as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: "error", error: { type: "api_error", message: expect.stringContaining("cooling down") } });
    const chat = await post(`${t.gw.url}/v1/chat/completions`, { model: ON_OPENAI, messages: HI });
    expect([chat.status, ((await chat.json()) as { error: { code: string } }).error.code]).toEqual([503, "targets_cooling_down"]);
    expect(t.oa.calls).toHaveLength(1);
  });

  test("a rate-limited request is a 429 rate_limit_error with Retry-After", async () => {
    await using t = startTargets({ CHATGATE_RATE_LIMIT_MAX: "1" });
    expect((await post(`${t.gw.url}/v1/messages`, { model: ON_MOCK, max_tokens: 10, messages: HI })).status).toBe(200);
    const limited = await post(`${t.gw.url}/v1/messages`, { model: ON_MOCK, max_tokens: 10, messages: HI });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).not.toBeNull();
    expect(((await limited.json()) as { error: { type: string } }).error.type).toBe("rate_limit_error");
  });
});

describe("models", () => {
  test("GET /v1/models with anthropic-version answers in Anthropic's list shape; without it, in OpenAI's", async () => {
    await using t = startTargets();
    const page = await anthropicClient(t.gw.url).models.list();
    const ids = page.data.map((m) => m.id);
    expect(ids).toContain(ON_OPENAI);
    expect(plain(page.data[0])).toEqual({
      type: "model", id: ids[0]!, display_name: ids[0]!, created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      lifecycle: "active", deprecated_at: null, retires_at: null, line: null, max_input_tokens: null, max_tokens: null, capabilities: null,
    });
    const raw = (await (await fetch(`${t.gw.url}/v1/models`, { headers: { "anthropic-version": "2023-06-01" } })).json()) as Record<string, unknown>;
    expect(raw).toMatchObject({ has_more: false, first_id: ids[0], last_id: ids.at(-1) });
    const openai = (await (await fetch(`${t.gw.url}/v1/models`)).json()) as { object: string };
    expect(openai.object).toBe("list");
    const one = await anthropicClient(t.gw.url).models.retrieve(ON_OPENAI);
    expect(one).toMatchObject({ type: "model", id: ON_OPENAI });
  });
});

describe("the model list's pages (anthropic-version)", () => {
  /** A gateway serving 25 public models on the mock (`m-00` … `m-24`), and the mock's own. */
  function many() {
    const models = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`m-${String(i).padStart(2, "0")}`, { targets: [{ provider: "m", model: "mock" }] }]));
    return startRouted({ providers: [{ id: "m", type: "mock" }], models });
  }
  const ANTHROPIC = { "anthropic-version": "2023-06-01" };
  type List = { data: { id: string }[]; has_more: boolean; first_id: string | null; last_id: string | null };
  const list = async (url: string, query: string): Promise<List> => (await (await fetch(`${url}/v1/models?${query}`, { headers: ANTHROPIC })).json()) as List;

  test("limit defaults to 20; the SDK pages through every model with limit 3, after_id and has_more", async () => {
    await using gw = many();
    const all = await list(gw.url, "limit=1000");
    const ids = all.data.map((m) => m.id);
    expect(ids.length).toBeGreaterThan(25);
    expect(all).toMatchObject({ has_more: false, first_id: ids[0]!, last_id: ids.at(-1)! });

    const client = anthropicClient(gw.url);
    const first = await client.models.list();
    expect([first.data.length, first.has_more, first.first_id, first.last_id]).toEqual([20, true, ids[0]!, ids[19]!]);

    const pages: string[][] = [];
    for await (const page of (await client.models.list({ limit: 3 })).iterPages()) pages.push(page.data.map((m) => m.id));
    expect(pages.flat()).toEqual(ids);
    expect(pages.map((p) => p.length)).toEqual([...Array(Math.floor(ids.length / 3)).fill(3), ...(ids.length % 3 ? [ids.length % 3] : [])]);
    const seen: string[] = [];
    for await (const model of client.models.list({ limit: 7 })) seen.push(model.id);
    expect(seen).toEqual(ids);

    expect(await list(gw.url, `limit=3&after_id=${ids[2]!}`)).toEqual({ data: expect.any(Array), has_more: true, first_id: ids[3]!, last_id: ids[5]! });
    const last = await list(gw.url, `limit=5&after_id=${ids.at(-3)!}`);
    expect([last.data.map((m) => m.id), last.has_more, last.first_id, last.last_id]).toEqual([ids.slice(-2), false, ids.at(-2)!, ids.at(-1)!]);
    const none = await list(gw.url, `after_id=${ids.at(-1)!}`);
    expect(none).toEqual({ data: [], has_more: false, first_id: null, last_id: null });
  });

  test("before_id pages back: has_more says whether there are models before the page, and the SDK follows first_id", async () => {
    await using gw = many();
    const ids = (await list(gw.url, "limit=1000")).data.map((m) => m.id);
    const back = await list(gw.url, `limit=3&before_id=${ids[10]!}`);
    expect([back.data.map((m) => m.id), back.has_more, back.first_id, back.last_id]).toEqual([ids.slice(7, 10), true, ids[7]!, ids[9]!]);
    const start = await list(gw.url, `limit=3&before_id=${ids[2]!}`);
    expect([start.data.map((m) => m.id), start.has_more]).toEqual([ids.slice(0, 2), false]);

    const pages: string[][] = [];
    for await (const page of (await anthropicClient(gw.url).models.list({ limit: 4, before_id: ids[10]! })).iterPages()) pages.push(page.data.map((m) => m.id));
    expect(pages).toEqual([ids.slice(6, 10), ids.slice(2, 6), ids.slice(0, 2)]);
  });

  test("a limit out of 1..1000, an unknown cursor or both cursors is a 400 invalid_request_error in Anthropic's shape; OpenAI's list ignores paging", async () => {
    await using gw = many();
    for (const limit of [0, 1001]) {
      const err = await anthropicClient(gw.url).models.list({ limit }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: "error", error: { type: "invalid_request_error", message: "limit: must be an integer from 1 to 1000." } });
    }
    const cases: Array<[string, string]> = [
      ["limit=abc", "limit: must be an integer from 1 to 1000."],
      ["limit=2.5", "limit: must be an integer from 1 to 1000."],
      ["limit=-1", "limit: must be an integer from 1 to 1000."],
      ["after_id=nope", "after_id: no model 'nope' in the list."],
      ["before_id=nope", "before_id: no model 'nope' in the list."],
      ["after_id=m-01&before_id=m-05", "before_id: give after_id or before_id, not both."],
    ];
    for (const [query, message] of cases) {
      const res = await fetch(`${gw.url}/v1/models?${query}`, { headers: ANTHROPIC });
      expect([query, res.status, await res.json()]).toEqual([query, 400, { type: "error", error: { type: "invalid_request_error", message }, request_id: res.headers.get("x-request-id") }]);
    }
    expect((await list(gw.url, "limit=1")).data).toHaveLength(1);
    expect((await list(gw.url, "limit=1000")).has_more).toBe(false);

    const openai = (await (await fetch(`${gw.url}/v1/models?limit=3&after_id=nope`)).json()) as { object: string; data: unknown[] };
    expect([openai.object, openai.data.length]).toEqual(["list", (await list(gw.url, "limit=1000")).data.length]);
    const models = await gw.client().models.list();
    expect(models.data.length).toBe(openai.data.length);
  });
});

describe("the OpenAPI document", () => {
  test("lists POST /v1/messages and /v1/messages/count_tokens under the Anthropic tag, with their request schemas", async () => {
    await using t = startTargets();
    const doc = (await (await fetch(`${t.gw.url}/docs/json`)).json()) as { paths: Record<string, Record<string, { tags: string[]; requestBody?: { content: Record<string, { schema: { required?: string[] } }> } }>> };
    const create = doc.paths["/v1/messages"]!.post!;
    const count = doc.paths["/v1/messages/count_tokens"]!.post!;
    expect([create.tags, count.tags]).toEqual([["Anthropic"], ["Anthropic"]]);
    expect(create.requestBody!.content["application/json"]!.schema.required).toEqual(["model", "messages", "max_tokens"]);
    expect(count.requestBody!.content["application/json"]!.schema.required).toEqual(["model", "messages"]);
    // The key as Anthropic's clients send it (x-api-key), or as a bearer token.
    const full = doc as unknown as { components: { securitySchemes: Record<string, unknown> }; paths: Record<string, Record<string, { security?: unknown }>> };
    expect(full.components.securitySchemes.apiKey).toEqual({ type: "apiKey", in: "header", name: "x-api-key" });
    for (const path of ["/v1/messages", "/v1/messages/count_tokens"]) expect(full.paths[path]!.post!.security).toEqual([{ apiKey: [] }, { bearer: [] }]);
  });
});
