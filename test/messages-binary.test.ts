// POST /v1/messages against the compiled binary, from outside, the way Claude Code drives it
// (ANTHROPIC_BASE_URL at chatgate, the key in x-api-key): the Anthropic SDK's streaming and tool
// flow on an OpenAI-compatible target and on an Anthropic one, errors in Anthropic's shape,
// count_tokens and the model list.
import Anthropic from "@anthropic-ai/sdk";
import { beforeAll, describe, expect, test } from "bun:test";
import { compiledBinary, spawnBinary } from "./support/binary.ts";
import { anthropicAt, openaiAt, routedEnv } from "./support/config-file.ts";
import { fakeAnthropic } from "./support/fake-anthropic.ts";
import { CLAUDE, GPT, SYSTEM, TOOLS, TWO_CALLS, anthropicClient, chunkStream, eventsOf } from "./support/messages.ts";
import { fakeOpenAI } from "./support/upstream.ts";
import { toolUseId } from "./support/anthropic-wire.ts";

beforeAll(() => compiledBinary(), 120_000);

const KEY = "sk-chatgate-client-0123456789";
const SSE = "text/event-stream";

/** Claude Code's two requests: a turn answered with two tool calls, then the tool results answered with text. */
async function claudeCodeTurns(client: Anthropic, model: string): Promise<[Anthropic.Message, Anthropic.Message]> {
  const headers = { "anthropic-beta": "claude-code-20250219" };
  const messages: Anthropic.MessageParam[] = [{ role: "user", content: "inspect the machine" }];
  const first = await client.messages.stream({ model, max_tokens: 32_000, system: SYSTEM, tools: TOOLS, messages }, { headers }).finalMessage();
  const uses = first.content.filter((b): b is Anthropic.ToolUseBlock => b.type === "tool_use");
  messages.push({ role: "assistant", content: first.content as Anthropic.ContentBlockParam[] });
  messages.push({ role: "user", content: uses.map((u) => ({ type: "tool_result" as const, tool_use_id: u.id, content: `ran ${u.name}` })) });
  const second = await client.messages.stream({ model, max_tokens: 32_000, system: SYSTEM, tools: TOOLS, messages }, { headers }).finalMessage();
  return [first, second];
}

describe("the compiled binary speaks the Messages API", () => {
  test("Claude Code's tool flow works on an OpenAI-compatible target and on an Anthropic one; errors, count_tokens and models are Anthropic's", async () => {
    await using oa = fakeOpenAI();
    await using claude = fakeAnthropic();
    const doc = {
      providers: [openaiAt("oa", oa, { models: [GPT] }), anthropicAt("claude", claude, { models: [CLAUDE] })],
      models: { sonnet: { targets: [{ provider: "oa", model: GPT }] }, opus: { targets: [{ provider: "claude", model: CLAUDE }] } },
    };
    await using gw = await spawnBinary({ ...routedEnv(doc), CHATGATE_API_KEYS: KEY, CHATGATE_RATE_LIMIT_MAX: "0" });
    const client = anthropicClient(gw.url, KEY);

    // An OpenAI-compatible target: translated both ways, tool ids kept across the turns.
    oa.reply(
      { kind: "raw", status: 200, contentType: SSE, body: chunkStream(GPT, [{ content: "Looking." }, ...TWO_CALLS], "tool_calls") },
      { kind: "raw", status: 200, contentType: SSE, body: chunkStream(GPT, [{ content: "All " }, { content: "good." }], "stop") },
    );
    const [first, second] = await claudeCodeTurns(client, "sonnet");
    expect(first.content.map((b) => (b.type === "tool_use" ? [b.id, b.input] : b.type))).toEqual([
      "text", ["call_read_1", { file_path: "/etc/hosts" }], ["call_bash_2", { command: "ls -la", timeout: 5 }],
    ]);
    expect([first.stop_reason, second.stop_reason, second.content.map((b) => (b.type === "text" ? b.text : b.type))]).toEqual(["tool_use", "end_turn", ["All good."]]);
    const toolTurns = (oa.calls[1]!.body as { messages: Array<{ role: string; tool_call_id?: string }> }).messages.filter((m) => m.role === "tool");
    expect(toolTurns.map((m) => m.tool_call_id)).toEqual(["call_read_1", "call_bash_2"]);

    // An Anthropic target: its own stream, passed on; the SDK reassembles the same shapes.
    const ids = [toolUseId(), toolUseId()];
    claude.reply(
      { kind: "stream", stopReason: "tool_use", content: [{ type: "text", text: "Looking." }, { type: "tool_use", id: ids[0]!, name: "Read", input: { file_path: "/a" } }, { type: "tool_use", id: ids[1]!, name: "Bash", input: { command: "ls" } }] },
      { kind: "stream", content: [{ type: "text", text: "All good." }] },
    );
    const [up, done] = await claudeCodeTurns(client, "opus");
    expect(up.content.map((b) => (b.type === "tool_use" ? [b.id, b.input] : b.type))).toEqual(["text", [ids[0], { file_path: "/a" }], [ids[1], { command: "ls" }]]);
    expect(done.content.map((b) => (b.type === "text" ? b.text : b.type))).toEqual(["All good."]);
    expect((claude.calls[1]!.body as { model: string }).model).toBe(CLAUDE);
    expect(claude.calls[1]!.headers["anthropic-beta"]).toBe("claude-code-20250219");

    // Errors in Anthropic's shape, from the binary's guard and validation.
    const wrong = await anthropicClient(gw.url, "sk-wrong").messages.create({ model: "sonnet", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(Anthropic.AuthenticationError);
    const bad = await fetch(`${gw.url}/v1/messages`, { method: "POST", headers: { "x-api-key": KEY, "content-type": "application/json" }, body: JSON.stringify({ model: "sonnet", messages: [] }) });
    expect([bad.status, ((await bad.json()) as { error: { type: string; message: string } }).error]).toEqual([400, { type: "invalid_request_error", message: "max_tokens: Field required." }]);

    // A stream cut by the upstream ends with an error event, never message_stop.
    oa.reply({ kind: "stream", cutAfterEvents: 2 });
    const cut = await fetch(`${gw.url}/v1/messages`, { method: "POST", headers: { "x-api-key": KEY, "content-type": "application/json" }, body: JSON.stringify({ model: "sonnet", max_tokens: 10, stream: true, messages: [{ role: "user", content: "hi" }] }) });
    expect(eventsOf(await cut.text()).map(([name]) => name).slice(-2)).toEqual(["content_block_delta", "error"]);

    // count_tokens: Anthropic's own for the Anthropic target, the tokenizer's for the other.
    expect(await client.messages.countTokens({ model: "opus", messages: [{ role: "user", content: "hi" }] })).toEqual({ input_tokens: 1234 });
    const estimated = await client.messages.countTokens({ model: "sonnet", messages: [{ role: "user", content: "hi" }] });
    expect(estimated.input_tokens).toBeGreaterThan(0);

    const models = await client.models.list();
    expect(models.data.map((m) => [m.type, m.id])).toContainEqual(["model", "sonnet"]);
  }, 30_000);
});
