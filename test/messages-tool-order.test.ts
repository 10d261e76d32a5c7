// POST /v1/messages streamed from an OpenAI-compatible target whose tool calls do not come one after
// the other: OpenAI's chunks only promise each fragment its call's `index`, so calls may interleave,
// and some providers send no `id`. Anthropic's stream must still be one block after another (start,
// deltas, stop), every tool call a tool_use block with an id, name and its whole input: asserted on
// the exact events and on what the Anthropic SDK's stream helper reassembles.
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

const startTool = (index: number, id: string, name: string): Data => ({ type: "content_block_start", index, content_block: { type: "tool_use", id, name, input: {} } });
const startText = (index: number): Data => ({ type: "content_block_start", index, content_block: { type: "text", text: "" } });
const json = (index: number, partial_json: string): Data => ({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json } });
const text = (index: number, t: string): Data => ({ type: "content_block_delta", index, delta: { type: "text_delta", text: t } });
const stop = (index: number): Data => ({ type: "content_block_stop", index });

/** The streamed events' data after message_start, but the ping, the upstream answering with these deltas. */
async function streamed(t: Targets, deltas: Delta[]): Promise<Data[]> {
  t.oa.reply({ kind: "raw", status: 200, contentType: SSE, body: chunkStream(GPT, deltas, "tool_calls") });
  const res = await post(`${t.gw.url}/v1/messages`, { model: ON_OPENAI, max_tokens: 100, tools: TOOLS, messages: HI, stream: true });
  const events = eventsOf(await res.text());
  // The one ping comes right after the first content_block_start, as Anthropic sends it.
  expect(events.slice(0, 3).map(([name]) => name)).toEqual(["message_start", "content_block_start", "ping"]);
  return events.filter((_, i) => i !== 0 && i !== 2).map(([, data]) => data);
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

/** Two calls whose fragments alternate: each call's first chunk, then 0, 1, 0, 1. */
const INTERLEAVED: Delta[] = [
  calls(first(0, "call_read_1", "Read")),
  calls(first(1, "call_bash_2", "Bash")),
  calls(more(0, '{"file_pa')),
  calls(more(1, '{"command":"ls -la",')),
  calls(more(0, 'th":"/etc/hosts"}')),
  calls(more(1, '"timeout":5}')),
];
const READ_AND_BASH = [
  { type: "tool_use", id: "call_read_1", name: "Read", input: { file_path: "/etc/hosts" } },
  { type: "tool_use", id: "call_bash_2", name: "Bash", input: { command: "ls -la", timeout: 5 } },
];

describe("tool calls that interleave", () => {
  test("alternating fragments of two calls are two blocks one after the other: the second's held until the first's input is whole", async () => {
    await using t = startTargets();
    expect(await streamed(t, INTERLEAVED)).toEqual([
      startTool(0, "call_read_1", "Read"),
      json(0, '{"file_pa'),
      json(0, 'th":"/etc/hosts"}'),
      stop(0),
      startTool(1, "call_bash_2", "Bash"),
      json(1, '{"command":"ls -la",'),
      json(1, '"timeout":5}'),
      stop(1),
      { type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { input_tokens: 40, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 12 } },
      { type: "message_stop" },
    ]);
    const final = await finalMessage(t, INTERLEAVED);
    expect(final.content as unknown).toEqual(READ_AND_BASH);
    expect(final.stop_reason).toBe("tool_use");
  });

  test("three calls, two in one chunk, the second whole before the first: each waits for the one before it, then streams live", async () => {
    await using t = startTargets();
    const deltas = [
      calls(first(0, "call_read_1", "Read", '{"file_path":'), first(1, "call_bash_2", "Bash", '{"command":"pwd"}')),
      calls(first(2, "call_read_3", "Read", '{"file_path":')),
      calls(more(0, '"/a"}')),
      calls(more(2, '"/b"}')),
    ];
    expect((await streamed(t, deltas)).slice(0, -2)).toEqual([
      startTool(0, "call_read_1", "Read"),
      json(0, '{"file_path":'),
      json(0, '"/a"}'),
      stop(0),
      startTool(1, "call_bash_2", "Bash"),
      json(1, '{"command":"pwd"}'),
      stop(1),
      startTool(2, "call_read_3", "Read"),
      json(2, '{"file_path":'),
      json(2, '"/b"}'),
      stop(2),
    ]);
    expect((await finalMessage(t, deltas)).content as unknown).toEqual([
      { type: "tool_use", id: "call_read_1", name: "Read", input: { file_path: "/a" } },
      { type: "tool_use", id: "call_bash_2", name: "Bash", input: { command: "pwd" } },
      { type: "tool_use", id: "call_read_3", name: "Read", input: { file_path: "/b" } },
    ]);
  });

  test("text that comes while a call's input is unfinished is a text block after it", async () => {
    await using t = startTargets();
    const deltas: Delta[] = [
      { content: "Checking." },
      calls(first(0, "call_read_1", "Read", '{"file_')),
      { content: "Also " },
      calls(more(0, 'path":"/a"}')),
      { content: "this." },
    ];
    expect((await streamed(t, deltas)).slice(0, -2)).toEqual([
      startText(0),
      text(0, "Checking."),
      stop(0),
      startTool(1, "call_read_1", "Read"),
      json(1, '{"file_'),
      json(1, 'path":"/a"}'),
      stop(1),
      startText(2),
      text(2, "Also "),
      text(2, "this."),
      stop(2),
    ]);
    expect((await finalMessage(t, deltas)).content as unknown).toEqual([
      { type: "text", text: "Checking." },
      { type: "tool_use", id: "call_read_1", name: "Read", input: { file_path: "/a" } },
      { type: "text", text: "Also this." },
    ]);
  });

  test("a call's block stays open while its input is not a whole object, so a late fragment still reaches it: the next call is held till then", async () => {
    await using t = startTargets();
    // A tool without parameters, its "{}" sent after the next call's start.
    const deltas = [calls(first(0, "call_now_1", "Now")), calls(first(1, "call_bash_2", "Bash", '{"command":')), calls(more(0, "{}")), calls(more(1, '"ls"}'))];
    expect((await streamed(t, deltas)).slice(0, -2)).toEqual([
      startTool(0, "call_now_1", "Now"),
      json(0, "{}"),
      stop(0),
      startTool(1, "call_bash_2", "Bash"),
      json(1, '{"command":'),
      json(1, '"ls"}'),
      stop(1),
    ]);
  });

  test("a call whose input never becomes a whole object (cut short) keeps its block open until the choice finishes, then the held call follows", async () => {
    await using t = startTargets();
    const deltas = [
      calls(first(0, "call_read_1", "Read", '{"file_path":')),
      calls(first(1, "call_bash_2", "Bash", '{"command":"ls"}')),
      calls(more(0, '"/etc/ho')),
    ];
    expect((await streamed(t, deltas)).slice(0, -2)).toEqual([
      startTool(0, "call_read_1", "Read"),
      json(0, '{"file_path":'),
      json(0, '"/etc/ho'),
      stop(0),
      startTool(1, "call_bash_2", "Bash"),
      json(1, '{"command":"ls"}'),
      stop(1),
    ]);
  });

  test("any interleaving of three calls and text is a valid sequence with every call's whole input", async () => {
    await using t = startTargets();
    const pieces: Array<{ key: number; delta: Delta }> = [];
    const inputs = [{ file_path: "/etc/hosts" }, { command: "ls -la | head", timeout: 5 }, { pattern: "a{2}", nested: { deep: [1, { x: "}" }] } }];
    inputs.forEach((input, index) => {
      const args = JSON.stringify(input);
      pieces.push({ key: index, delta: calls(first(index, `call_${index}`, "Read")) });
      for (let at = 0; at < args.length; at += 4) pieces.push({ key: index, delta: calls(more(index, args.slice(at, at + 4))) });
    });
    ["One ", "two ", "three."].forEach((t) => pieces.push({ key: 3, delta: { content: t } }));
    let seed = 7;
    const random = (n: number): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n);
    for (let round = 0; round < 25; round++) {
      // A random merge that keeps each call's (and the text's) own order.
      const queues = [0, 1, 2, 3].map((key) => pieces.filter((p) => p.key === key).map((p) => p.delta));
      const deltas: Delta[] = [];
      while (queues.some((q) => q.length > 0)) {
        const live = queues.filter((q) => q.length > 0);
        deltas.push(live[random(live.length)]!.shift()!);
      }
      const blocks = blocksOf(await streamed(t, deltas));
      // In the order the calls first came (here not always their indexes'): the ids pair them with their results.
      const tools = blocks.filter((b) => (b as Data).type === "tool_use").sort((a, b) => ((a as Data).id as string).localeCompare((b as Data).id as string));
      expect(tools).toEqual(inputs.map((input, i) => ({ type: "tool_use", id: `call_${i}`, name: "Read", input })));
      const texts = blocks.filter((b) => (b as Data).type === "text").map((b) => (b as { text: string }).text);
      expect(texts.join("")).toBe("One two three.");
    }
  });
});

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

  test("a call whose name comes after its first chunk starts its block once the name is known: the start carries the name and the id", async () => {
    await using t = startTargets();
    const deltas = [
      calls({ index: 0, id: "call_late_1", type: "function", function: { arguments: "" } }),
      calls({ index: 0, function: { name: "Read" } }),
      calls(more(0, '{"file_path":"/etc/hosts"}')),
    ];
    expect((await streamed(t, deltas)).slice(0, -2)).toEqual([startTool(0, "call_late_1", "Read"), json(0, '{"file_path":"/etc/hosts"}'), stop(0)]);
    expect((await finalMessage(t, deltas)).content as unknown).toEqual([{ type: "tool_use", id: "call_late_1", name: "Read", input: { file_path: "/etc/hosts" } }]);
  });

  test("two calls on the same index (or with none), told apart by their ids, are two tool_use blocks", async () => {
    await using t = startTargets();
    for (const index of [0, undefined]) {
      const call = (id: string, name: string, args: string) => ({ ...(index === undefined ? {} : { index }), id, type: "function", function: { name, arguments: args } }) as Call;
      const deltas = [calls(call("s1", "Read", '{"file_path":"/a"}')), calls(call("s2", "Bash", '{"command":"ls"}'))];
      expect(blocksOf(await streamed(t, deltas))).toEqual([
        { type: "tool_use", id: "s1", name: "Read", input: { file_path: "/a" } },
        { type: "tool_use", id: "s2", name: "Bash", input: { command: "ls" } },
      ]);
      expect(((await finalMessage(t, deltas)).content as Anthropic.ToolUseBlock[]).map((u) => [u.id, u.name, u.input])).toEqual([["s1", "Read", { file_path: "/a" }], ["s2", "Bash", { command: "ls" }]]);
    }
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
