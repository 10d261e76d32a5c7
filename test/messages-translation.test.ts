// POST /v1/messages translated to chat completions: what Claude Code relies on beyond the basic
// shapes — the context-overflow wording that triggers its auto-compaction, chunks without a choice
// index, failed tool results, earlier thinking blocks, the early ping, and stop sequences.
import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { post } from "./support/gateway.ts";
import { GPT, ON_MOCK, ON_OPENAI, TOOLS, anthropicClient, chunkStream, completionWith, eventsOf, startTargets } from "./support/messages.ts";

const SSE = "text/event-stream";
/** The SDK's answer types add fields its answers leave out where they do not apply: compared as plain JSON. */
const plain = (value: unknown): unknown => value;
const HI: Anthropic.MessageParam[] = [{ role: "user", content: "hello there friend" }];
/** The body OpenAI answers a prompt beyond the model's context window with. */
const CONTEXT_EXCEEDED = {
  message: "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens. Please reduce the length of the messages.",
  type: "invalid_request_error",
  param: "messages",
  code: "context_length_exceeded",
};

describe("an OpenAI-compatible upstream's context overflow", () => {
  test("regression: context_length_exceeded reaches the client as Anthropic's 'prompt is too long' 400, JSON and stream, so Claude Code compacts", async () => {
    await using t = startTargets();
    for (const stream of [false, true]) {
      t.oa.reply({ kind: "error", status: 400, error: CONTEXT_EXCEEDED });
      const res = await post(`${t.gw.url}/v1/messages`, { model: ON_OPENAI, max_tokens: 100, messages: HI, stream });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        type: "error",
        error: { type: "invalid_request_error", message: "prompt is too long: 130000 tokens > 128000 maximum" },
        request_id: expect.any(String),
      });
    }
  });

  test("regression: without numbers in the upstream's message the wording still begins 'prompt is too long'", async () => {
    await using t = startTargets();
    t.oa.reply({ kind: "error", status: 400, error: { ...CONTEXT_EXCEEDED, message: "Input is too long for this model." } });
    const failure = await anthropicClient(t.gw.url).messages.create({ model: ON_OPENAI, max_tokens: 100, messages: HI }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(Anthropic.BadRequestError);
    const body = (failure as InstanceType<typeof Anthropic.BadRequestError>).error as { error: { type: string; message: string } };
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.message).toStartWith("prompt is too long");
  });

  test("regression: vLLM's bare 400 for the same (no code, its message) is 'prompt is too long' with the prompt's own count", async () => {
    await using t = startTargets();
    const message = "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4000 in the messages, 1000 in the completion). Please reduce the length of the messages or completion.";
    t.oa.reply({ kind: "error", status: 400, error: { message, type: "BadRequestError", param: null, code: null } });
    const res = await post(`${t.gw.url}/v1/messages`, { model: ON_OPENAI, max_tokens: 1000, messages: HI });
    expect([res.status, ((await res.json()) as { error: unknown }).error]).toEqual([400, { type: "invalid_request_error", message: "prompt is too long: 4000 tokens > 4096 maximum" }]);
  });

  test("a chat completion client still gets OpenAI's own error, untouched", async () => {
    await using t = startTargets();
    t.oa.reply({ kind: "error", status: 400, error: CONTEXT_EXCEEDED });
    const res = await post(`${t.gw.url}/v1/chat/completions`, { model: ON_OPENAI, messages: [{ role: "user", content: "hi" }] });
    expect([res.status, await res.json()]).toEqual([400, { error: CONTEXT_EXCEEDED }]);
  });
});

describe("stream chunks", () => {
  test("regression: chunks whose choices have no index (some compatible servers leave it out) are the first choice's, not dropped", async () => {
    await using t = startTargets();
    const body = chunkStream(GPT, [{ content: "hello " }, { content: "world" }], "stop").replaceAll('"choices":[{"index":0,', '"choices":[{');
    expect(body).not.toContain('"index"');
    t.oa.reply({ kind: "raw", status: 200, contentType: SSE, body });
    const final = await anthropicClient(t.gw.url).messages.stream({ model: ON_OPENAI, max_tokens: 100, messages: HI }).finalMessage();
    expect(plain([final.content, final.stop_reason])).toEqual([[{ type: "text", text: "hello world" }], "end_turn"]);
  });

  test("regression: ping goes out once, right after the first content_block_start, as Anthropic sends it", async () => {
    await using t = startTargets();
    const res = await post(`${t.gw.url}/v1/messages`, { model: ON_MOCK, max_tokens: 100, messages: HI, stream: true });
    expect(eventsOf(await res.text()).map(([name]) => name)).toEqual([
      "message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop",
    ]);
  });

  test("an answer with no content block still gets its one ping, before message_delta", async () => {
    await using t = startTargets();
    t.oa.reply({ kind: "raw", status: 200, contentType: SSE, body: chunkStream(GPT, [], "stop") });
    const res = await post(`${t.gw.url}/v1/messages`, { model: ON_OPENAI, max_tokens: 100, messages: HI, stream: true });
    expect(eventsOf(await res.text()).map(([name]) => name)).toEqual(["message_start", "ping", "message_delta", "message_stop"]);
  });
});

describe("earlier turns", () => {
  test("regression: a failed tool_result (is_error) reaches the model as a tool message marked as an error, its content kept", async () => {
    await using t = startTargets();
    t.oa.reply({ kind: "raw", status: 200, body: completionWith(GPT, { content: "retrying" }, "stop") });
    await anthropicClient(t.gw.url).messages.create({
      model: ON_OPENAI, max_tokens: 100, tools: TOOLS,
      messages: [
        { role: "user", content: "read both" },
        {
          role: "assistant",
          content: [
            { type: "tool_use", id: "toolu_A", name: "Read", input: { file_path: "/a" } },
            { type: "tool_use", id: "toolu_B", name: "Read", input: { file_path: "/b" } },
            { type: "tool_use", id: "toolu_C", name: "Read", input: { file_path: "/c" } },
          ],
        },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "toolu_A", content: "<tool_use_error>File does not exist.</tool_use_error>", is_error: true },
            { type: "tool_result", tool_use_id: "toolu_B", content: [{ type: "text", text: "denied" }], is_error: true },
            { type: "tool_result", tool_use_id: "toolu_C", is_error: true },
          ],
        },
      ],
    });
    expect((t.oa.calls[0]!.body as { messages: unknown[] }).messages.slice(2)).toEqual([
      { role: "tool", tool_call_id: "toolu_A", content: "Error: <tool_use_error>File does not exist.</tool_use_error>" },
      { role: "tool", tool_call_id: "toolu_B", content: "Error: denied" },
      { role: "tool", tool_call_id: "toolu_C", content: "Error" },
    ]);
  });

  test("thinking and redacted_thinking blocks of earlier turns are dropped, and a turn of only thinking and tool_use goes as its tool calls", async () => {
    await using t = startTargets();
    t.oa.reply({ kind: "raw", status: 200, body: completionWith(GPT, { content: "done" }, "stop") });
    const message = await anthropicClient(t.gw.url).messages.create({
      model: ON_OPENAI, max_tokens: 100, tools: TOOLS,
      messages: [
        { role: "user", content: "list" },
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "I should list.", signature: "EqQBCgIYAhIM" },
            { type: "redacted_thinking", data: "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP" },
            { type: "tool_use", id: "toolu_L", name: "Bash", input: { command: "ls" } },
          ],
        },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_L", content: "a b" }] },
      ],
    });
    expect(message.content).toMatchObject([{ type: "text", text: "done" }]);
    const sent = t.oa.calls[0]!.body as { messages: unknown[] };
    expect(sent.messages).toEqual([
      { role: "user", content: "list" },
      { role: "assistant", content: null, tool_calls: [{ id: "toolu_L", type: "function", function: { name: "Bash", arguments: '{"command":"ls"}' } }] },
      { role: "tool", tool_call_id: "toolu_L", content: "a b" },
    ]);
    expect(JSON.stringify(sent)).not.toMatch(/thinking|I should list|EmwKAhgB|EqQB/);
  });
});

describe("stop sequences on the mock", () => {
  test("regression: the mock stops at the first stop sequence and says which: stop_reason stop_sequence, JSON and stream", async () => {
    await using t = startTargets();
    const client = anthropicClient(t.gw.url);
    const request = { model: ON_MOCK, max_tokens: 100, messages: HI, stop_sequences: ["friend", "there"] };
    const message = await client.messages.create(request);
    expect(plain([message.content, message.stop_reason, message.stop_sequence])).toEqual([[{ type: "text", text: "hello " }], "stop_sequence", "there"]);
    const final = await client.messages.stream(request).finalMessage();
    expect(plain([final.content, final.stop_reason, final.stop_sequence])).toEqual([message.content, "stop_sequence", "there"]);
  });

  test("a stop sequence the answer never reaches ends the turn as usual", async () => {
    await using t = startTargets();
    const message = await anthropicClient(t.gw.url).messages.create({ model: ON_MOCK, max_tokens: 100, messages: HI, stop_sequences: ["goodbye"] });
    expect([message.stop_reason, message.stop_sequence]).toEqual(["end_turn", null]);
  });

  test("the chat route's mock agrees: finish_reason stop, the text cut before the sequence", async () => {
    await using t = startTargets();
    const client = new OpenAI({ apiKey: "unused", baseURL: `${t.gw.url}/v1`, maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: ON_MOCK, messages: [{ role: "user", content: "hello there friend" }], stop: ["friend", "there"] });
    expect([completion.choices[0]!.message.content, completion.choices[0]!.finish_reason]).toEqual(["hello ", "stop"]);
  });

  test("an OpenAI-compatible upstream that names the matched sequence (vLLM's stop_reason) gets stop_sequence; one that does not, end_turn", async () => {
    await using t = startTargets();
    const named = JSON.parse(completionWith(GPT, { content: "hello " }, "stop")) as { choices: Array<Record<string, unknown>> };
    named.choices[0]!.stop_reason = "there";
    t.oa.reply({ kind: "raw", status: 200, body: JSON.stringify(named) }, { kind: "raw", status: 200, body: completionWith(GPT, { content: "hello " }, "stop") });
    const client = anthropicClient(t.gw.url);
    const request = { model: ON_OPENAI, max_tokens: 100, messages: HI, stop_sequences: ["there"] };
    const first = await client.messages.create(request);
    const second = await client.messages.create(request);
    expect([first.stop_reason, first.stop_sequence, second.stop_reason, second.stop_sequence]).toEqual(["stop_sequence", "there", "end_turn", null]);
  });
});
