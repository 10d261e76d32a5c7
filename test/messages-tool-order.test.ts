// POST /v1/messages from an OpenAI-compatible target whose tool calls come without an `id`, as some
// providers send them: every tool call must still be a tool_use block with an id, name and its
// whole input, asserted on the exact events and on what the Anthropic SDK's stream helper reassembles.
import type Anthropic from "@anthropic-ai/sdk";
import { describe, expect, test } from "bun:test";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { post } from "./support/gateway.ts";
import { GPT, ON_OPENAI, TOOLS, anthropicClient, chunkStream, completionWith, eventsOf, startTargets, type Targets } from "./support/messages.ts";

const SSE = "text/event-stream";
const HI: Anthropic.MessageParam[] = [{ role: "user", content: "look around" }];
/** An id chatgate makes for a call the upstream sent without one. */
const MADE_ID = /^toolu_[0-9a-f]{32}$/;

type Delta = ChatCompletionChunk.Choice.Delta;
type Call = ChatCompletionChunk.Choice.Delta.ToolCall;
type Data = Record<string, unknown>;

const calls = (...tool_calls: Call[]): Delta => ({ tool_calls });
const first = (index: number, id: string | undefined, name: string, args = ""): Call => ({ index, ...(id === undefined ? {} : { id }), type: "function", function: { name, arguments: args } });
const more = (index: number, args: string): Call => ({ index, function: { arguments: args } });


/** The streamed events' data after message_start and ping, the upstream answering with these deltas. */
async function streamed(t: Targets, deltas: Delta[]): Promise<Data[]> {
  t.oa.reply({ kind: "raw", status: 200, contentType: SSE, body: chunkStream(GPT, deltas, "tool_calls") });
  const res = await post(`${t.gw.url}/v1/messages`, { model: ON_OPENAI, max_tokens: 100, tools: TOOLS, messages: HI, stream: true });
  const events = eventsOf(await res.text());
  expect(events.slice(0, 2).map(([name]) => name)).toEqual(["message_start", "ping"]);
  return events.slice(2).map(([, data]) => data);
}

/** What the SDK's stream helper makes of the same answer. */
async function finalMessage(t: Targets, deltas: Delta[]): Promise<Anthropic.Message> {
  t.oa.reply({ kind: "raw", status: 200, contentType: SSE, body: chunkStream(GPT, deltas, "tool_calls") });
  return anthropicClient(t.gw.url).messages.stream({ model: ON_OPENAI, max_tokens: 100, tools: TOOLS, messages: HI }).finalMessage();
}

/**
 * Checks Anthropic's rules for the blocks of a stream (each started at the next index while none is
 * open, fed and stopped at its own index, all stopped before message_delta) and returns them as
 * the client reassembles them: a tool_use block's input is its input_json_deltas parsed.
 */
function blocksOf(data: Data[]): unknown[] {
  const blocks: Array<{ block: Data; json: string }> = [];
  let open = -1;
  for (const d of data) {
    if (d.type === "content_block_start") {
      expect({ open, index: d.index }).toEqual({ open: -1, index: blocks.length });
      open = d.index as number;
      blocks.push({ block: { ...(d.content_block as Data) }, json: "" });
    } else if (d.type === "content_block_delta") {
      expect(d.index).toBe(open);
      const delta = d.delta as Data;
      const block = blocks[open]!;
      if (delta.type === "input_json_delta") block.json += delta.partial_json as string;
      else if (delta.type === "text_delta") block.block.text += delta.text as string;
    } else if (d.type === "content_block_stop") {
      expect(d.index).toBe(open);
      open = -1;
    } else if (d.type === "message_delta") {
      expect(open).toBe(-1);
    }
  }
  expect(open).toBe(-1);
  return blocks.map(({ block, json }) => (block.type === "tool_use" ? { ...block, input: JSON.parse(json || "{}") } : block));
}

describe("tool calls without an id", () => {
  test("a streamed call whose chunks carry no id is a tool_use block with an id made in Anthropic's style, its name and input kept", async () => {
    await using t = startTargets();
    const deltas = [
      calls(first(0, undefined, "Read")),
      calls(more(0, '{"file_path":"/etc/hosts"}')),
      calls({ index: 1, id: null as unknown as string, type: "function", function: { name: "Bash", arguments: '{"command":"ls"}' } }),
    ];
    const data = await streamed(t, deltas);
    expect(data.map((d) => d.type)).toEqual([
      "content_block_start", "content_block_delta", "content_block_stop", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop",
    ]);
    expect(blocksOf(data)).toEqual([
      { type: "tool_use", id: expect.stringMatching(MADE_ID), name: "Read", input: { file_path: "/etc/hosts" } },
      { type: "tool_use", id: expect.stringMatching(MADE_ID), name: "Bash", input: { command: "ls" } },
    ]);

    const final = await finalMessage(t, deltas);
    const uses = final.content as Anthropic.ToolUseBlock[];
    expect(uses.map((u) => [u.type, u.name, u.input])).toEqual([["tool_use", "Read", { file_path: "/etc/hosts" }], ["tool_use", "Bash", { command: "ls" }]]);
    expect(uses.map((u) => u.id)).toEqual([expect.stringMatching(MADE_ID), expect.stringMatching(MADE_ID)]);
    expect(uses[0]!.id).not.toBe(uses[1]!.id);
    expect(final.stop_reason).toBe("tool_use");
  });

  test("a JSON answer's tool call without an id (or type) is a tool_use block with an id made in Anthropic's style", async () => {
    await using t = startTargets();
    const toolCalls = [
      { type: "function", function: { name: "Read", arguments: '{"file_path":"/a"}' } },
      { function: { name: "Bash", arguments: '{"command":"ls"}' } },
      { id: "call_3", type: "function", function: { name: "Read", arguments: '{"file_path":"/b"}' } },
    ] as unknown as Anthropic.ToolUseBlock[];
    t.oa.reply({ kind: "raw", status: 200, body: completionWith(GPT, { tool_calls: toolCalls as never }, "tool_calls") });
    const message = await anthropicClient(t.gw.url).messages.create({ model: ON_OPENAI, max_tokens: 100, tools: TOOLS, messages: HI });
    expect(message.content as unknown).toEqual([
      { type: "tool_use", id: expect.stringMatching(MADE_ID), name: "Read", input: { file_path: "/a" } },
      { type: "tool_use", id: expect.stringMatching(MADE_ID), name: "Bash", input: { command: "ls" } },
      { type: "tool_use", id: "call_3", name: "Read", input: { file_path: "/b" } },
    ]);
    expect(message.stop_reason).toBe("tool_use");
  });
});
