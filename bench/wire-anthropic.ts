// Anthropic Messages API wire shapes (anthropic-version 2023-06-01) for the mock's Anthropic side
// and the clients that speak it straight (direct, passthrough). The answer carries the same 20
// pieces as the OpenAI one (wire.ts), so every target's answer is checked against one text.
// Shapes follow test/support/anthropic-wire.ts and the captures in test/fixtures/anthropic/.
import { CONTENT_CHUNKS, answerPieces, promptText } from "./wire.ts";

/** The upstream model: what chatgate's route sends, and what direct and passthrough ask for. */
export const ANTHROPIC_MODEL = "bench-claude";
export const ANTHROPIC_VERSION = "2023-06-01";
/** chatgate's default max_tokens for a request naming none; the straight clients send it too. */
const MAX_TOKENS = 4096;
/** message_start, ping, content_block_start, 20 deltas, content_block_stop, message_delta, message_stop. */
export const ANTHROPIC_EVENTS = CONTENT_CHUNKS + 6;
export const MESSAGE_STOP = 'event: message_stop\ndata: {"type":"message_stop"}\n\n';
const SYSTEM = "You are a benchmark.";
const ID = "msg_01BenchAbcdefghijklmnopq";

export interface AnthropicTextBlock {
  type: string;
  text?: string;
}
export interface AnthropicRequest {
  model?: string;
  max_tokens?: number;
  system?: string | AnthropicTextBlock[];
  messages?: { role: string; content: string | AnthropicTextBlock[] }[];
  stream?: boolean;
}

/**
 * The Messages request chatgate makes of the bench's OpenAI request (system message → top-level
 * `system`, default max_tokens), in the same field order, so all three targets send the mock the
 * same bytes.
 */
export function anthropicRequestBody(opts: { stream: boolean; promptBytes: number }): string {
  const body: AnthropicRequest = {
    model: ANTHROPIC_MODEL,
    max_tokens: MAX_TOKENS,
    messages: [{ role: "user", content: promptText(opts.promptBytes) }],
    system: SYSTEM,
  };
  if (opts.stream) body.stream = true;
  return JSON.stringify(body);
}

const textOf = (c: string | AnthropicTextBlock[] | undefined): number =>
  typeof c === "string" ? c.length : Array.isArray(c) ? c.reduce((n, b) => n + (typeof b.text === "string" ? b.text.length : 0), 0) : 0;

/** The prompt's characters (system included), which the mock reports as input_tokens. */
export function anthropicPromptChars(body: AnthropicRequest): number {
  let n = textOf(body.system);
  for (const m of body.messages ?? []) n += textOf(m.content);
  return n;
}

function usage(prompt: number, output: number) {
  return {
    input_tokens: prompt,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    output_tokens: output,
    service_tier: "standard",
  };
}

function message(text: string | null, prompt: number, output: number) {
  return {
    id: ID,
    type: "message",
    role: "assistant",
    model: ANTHROPIC_MODEL,
    content: text === null ? [] : [{ type: "text", text }],
    stop_reason: text === null ? null : "end_turn",
    stop_sequence: null,
    usage: usage(prompt, output),
  };
}

/** The non-streamed `message`, ~560 B with the default answer. */
export function messageJson(answerBytes: number, prompt: number): string {
  return JSON.stringify(message(answerPieces(answerBytes).join(""), prompt, CONTENT_CHUNKS));
}

const sse = (event: { type: string; [field: string]: unknown }): string => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;

/** The 26 events of the streamed message, in the API's order and framing. */
export function messageEvents(answerBytes: number, prompt: number): string[] {
  const events = [
    sse({ type: "message_start", message: message(null, prompt, 1) }),
    sse({ type: "ping" }),
    sse({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }),
  ];
  for (const text of answerPieces(answerBytes)) {
    events.push(sse({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text } }));
  }
  events.push(sse({ type: "content_block_stop", index: 0 }));
  events.push(sse({ type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: CONTENT_CHUNKS } }));
  events.push(MESSAGE_STOP);
  return events;
}
