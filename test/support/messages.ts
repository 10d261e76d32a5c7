// What the tests of the Messages API front end (POST /v1/messages) share: an Anthropic SDK client
// pointed at a gateway, a gateway with a mock, an OpenAI-compatible and an Anthropic target, and
// OpenAI wire answers the fake OpenAI upstream sends as they are (tool calls, reasoning).
import Anthropic from "@anthropic-ai/sdk";
import type { ChatCompletion, ChatCompletionChunk } from "openai/resources/chat/completions";
import { anthropicAt, openaiAt } from "./config-file.ts";
import { fakeAnthropic, type FakeAnthropic } from "./fake-anthropic.ts";
import type { TestGateway } from "./gateway.ts";
import { SSE_DONE, completionId, sseEvent } from "./openai-wire.ts";
import { startRouted } from "./routed.ts";
import { fakeOpenAI, type FakeOpenAI } from "./upstream.ts";

/** The official Anthropic SDK against the gateway, as Claude Code uses it (`ANTHROPIC_BASE_URL`), retries off. */
export const anthropicClient = (url: string, apiKey = "unused"): Anthropic => new Anthropic({ apiKey, baseURL: url, maxRetries: 0, timeout: 10_000 });

/** The public names: each served by one kind of target. */
export const ON_MOCK = "claude-on-mock";
export const ON_OPENAI = "claude-on-openai";
export const ON_ANTHROPIC = "claude-on-anthropic";
/** What the targets are asked for. */
export const GPT = "gpt-4.1";
export const CLAUDE = "claude-sonnet-4-5";

export interface Targets extends AsyncDisposable {
  oa: FakeOpenAI;
  claude: FakeAnthropic;
  gw: TestGateway;
}

/**
 * A gateway with a route per target kind, `fallback` (the Anthropic target, then the OpenAI one),
 * and CLAUDE itself (the Anthropic target under its own model name).
 */
export function startTargets(env: Record<string, string> = {}): Targets {
  const oa = fakeOpenAI();
  const claude = fakeAnthropic();
  const gw = startRouted(
    {
      providers: [openaiAt("oa", oa, { models: [GPT] }), anthropicAt("claude", claude, { models: [CLAUDE] }), { id: "m", type: "mock" }],
      models: {
        [ON_MOCK]: { targets: [{ provider: "m", model: "mock" }] },
        [ON_OPENAI]: { targets: [{ provider: "oa", model: GPT }] },
        [ON_ANTHROPIC]: { targets: [{ provider: "claude", model: CLAUDE }] },
        fallback: { targets: [{ provider: "claude", model: CLAUDE }, { provider: "oa", model: GPT }] },
        // Named as its target's model: the client's bytes go upstream unchanged.
        [CLAUDE]: { targets: [{ provider: "claude", model: CLAUDE }] },
      },
    },
    {},
    env,
  );
  return { oa, claude, gw, [Symbol.asyncDispose]: () => gw.stop().then(() => Promise.all([oa.stop(), claude.stop()])).then(() => {}) };
}

type Delta = ChatCompletionChunk.Choice.Delta & { reasoning_content?: string; reasoning?: string };
type Message = ChatCompletion.Choice["message"] & { reasoning_content?: string };

/** A chat completion whose message is `message`, as an OpenAI-compatible upstream answers. */
export function completionWith(model: string, message: Partial<Message>, finish: ChatCompletion.Choice["finish_reason"], usage = { prompt_tokens: 40, completion_tokens: 12, total_tokens: 52 }): string {
  const full: Message = { role: "assistant", content: null, refusal: null, ...message };
  const completion: ChatCompletion = {
    id: completionId(), object: "chat.completion", created: 1_700_000_000, model,
    choices: [{ index: 0, message: full, logprobs: null, finish_reason: finish }], usage,
  };
  return JSON.stringify(completion);
}

/** The SSE text of a chunk stream with these deltas, the finish, a usage chunk and `[DONE]` (the gateway asks for usage). */
export function chunkStream(model: string, deltas: Delta[], finish: ChatCompletionChunk.Choice["finish_reason"], usage = { prompt_tokens: 40, completion_tokens: 12, total_tokens: 52 }): string {
  const id = completionId();
  const chunk = (delta: Delta, finish_reason: ChatCompletionChunk.Choice["finish_reason"]): ChatCompletionChunk => ({
    id, object: "chat.completion.chunk", created: 1_700_000_000, model, choices: [{ index: 0, delta, logprobs: null, finish_reason }], usage: null,
  });
  const chunks = [chunk({ role: "assistant", content: "" }, null), ...deltas.map((d) => chunk(d, null)), chunk({}, finish)];
  const last: ChatCompletionChunk = { id, object: "chat.completion.chunk", created: 1_700_000_000, model, choices: [], usage };
  return [...chunks, last].map(sseEvent).join("") + SSE_DONE;
}

/** Two tool calls in one turn, their arguments streamed in fragments, as OpenAI streams parallel calls. */
export const TWO_CALLS: Delta[] = [
  { tool_calls: [{ index: 0, id: "call_read_1", type: "function", function: { name: "Read", arguments: "" } }] },
  { tool_calls: [{ index: 0, function: { arguments: '{"file_pa' } }] },
  { tool_calls: [{ index: 0, function: { arguments: 'th":"/etc/hosts"}' } }] },
  { tool_calls: [{ index: 1, id: "call_bash_2", type: "function", function: { name: "Bash", arguments: "" } }] },
  { tool_calls: [{ index: 1, function: { arguments: '{"command":"ls -la",' } }] },
  { tool_calls: [{ index: 1, function: { arguments: '"timeout":5}' } }] },
];

/** Claude Code's kind of tools: a name, a description, a JSON schema. */
export const TOOLS: Anthropic.Tool[] = [
  { name: "Read", description: "Reads a file", input_schema: { type: "object", properties: { file_path: { type: "string" } }, required: ["file_path"] } },
  { name: "Bash", description: "Runs a command", input_schema: { type: "object", properties: { command: { type: "string" }, timeout: { type: "number" } }, required: ["command"] } },
];

/** Claude Code's system prompt: blocks with cache_control. */
export const SYSTEM: Anthropic.TextBlockParam[] = [
  { type: "text", text: "You are Claude Code, Anthropic's official CLI for Claude." },
  { type: "text", text: "Be brief.", cache_control: { type: "ephemeral" } },
];

/** The SSE events of a raw response body: [event name, parsed data] in order. */
export function eventsOf(text: string): Array<[string, Record<string, unknown>]> {
  const out: Array<[string, Record<string, unknown>]> = [];
  for (const block of text.split("\n\n")) {
    if (block.trim() === "") continue;
    const name = /^event: (.*)$/m.exec(block)?.[1] ?? "";
    const data = /^data: (.*)$/m.exec(block)?.[1] ?? "";
    out.push([name, JSON.parse(data) as Record<string, unknown>]);
  }
  return out;
}
