import { createParser, type EventSourceParser } from "eventsource-parser";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import type { CompletionUsage } from "openai/resources/completions";
import { encodeEvents } from "../sse-encode.ts";
import type { Message, StreamEvent } from "../providers/anthropic/wire.ts";
import { anthropicUsage, messageId, stopReason } from "./to-message.ts";
import { errorTypeOfEvent } from "./errors.ts";

/** A delta with its reasoning as DeepSeek and vLLM send it (`reasoning_content`), or as OpenRouter does (`reasoning`). */
type Delta = ChatCompletionChunk.Choice.Delta & { reasoning_content?: string | null; reasoning?: string | null };
type OpenBlock = "text" | "thinking" | "tool_use";

const event = (e: StreamEvent): string => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
const PING = event({ type: "ping" });
const utf8 = new TextDecoder();

/**
 * Turns an OpenAI chunk stream (whole SSE events, as a provider yields them) into the events of
 * Anthropic's Messages stream, in the order the API sends them: message_start and a ping with the
 * first chunk; a content block per run of reasoning (thinking), text, or one tool call, each
 * opened with content_block_start, fed by thinking_delta / text_delta / input_json_delta and
 * closed with content_block_stop; then, at `[DONE]`, message_delta (stop reason and usage, which
 * OpenAI sends last) and message_stop. An upstream error event becomes Anthropic's `error` event.
 */
export class EventTranslator {
  /** The stream is over: message_stop or an error event was written. */
  ended = false;
  private out = "";
  private started = false;
  private readonly parser: EventSourceParser;
  /** Index of the open block (-1: none yet) and its kind; undefined kind: the last was closed. */
  private index = -1;
  private open: OpenBlock | undefined;
  /** Each tool call's block index, by the call's OpenAI index. */
  private readonly toolBlocks = new Map<number, number>();
  private finish: string | null = null;
  private usage: CompletionUsage | undefined;
  /** Whether the answer had refusal text, and content text: a refusal alone stops as `refusal`. */
  private refused = false;
  private said = false;

  constructor(private readonly fallbackModel: string) {
    this.parser = createParser({ onEvent: ({ data }) => this.data(data) });
  }

  /** The Anthropic events for a run of whole OpenAI events; undefined when it made none. */
  push(bytes: Uint8Array): Uint8Array | undefined {
    this.parser.feed(utf8.decode(bytes));
    if (this.out === "") return undefined;
    const out = encodeEvents(this.out);
    this.out = "";
    return out;
  }

  private data(data: string): void {
    if (this.ended) return;
    if (data === "[DONE]") return this.stop();
    let chunk: Partial<ChatCompletionChunk> & { error?: { message?: string; type?: string; code?: string } };
    try {
      chunk = JSON.parse(data) as typeof chunk;
    } catch {
      return;
    }
    if (chunk === null || typeof chunk !== "object") return;
    if (chunk.error !== undefined && chunk.error !== null) return this.error(chunk.error);
    if (!this.started) this.start(chunk);
    if (chunk.usage) this.usage = chunk.usage;
    const choice = chunk.choices?.find((c) => c.index === 0);
    if (choice === undefined) return;
    if (choice.delta) this.delta(choice.delta as Delta);
    if (choice.finish_reason) {
      this.finish = choice.finish_reason;
      this.close();
    }
  }

  private start(chunk: Partial<ChatCompletionChunk>): void {
    this.started = true;
    const message: Message = {
      id: messageId(chunk.id), type: "message", role: "assistant", model: chunk.model ?? this.fallbackModel,
      content: [], stop_reason: null, stop_sequence: null, usage: anthropicUsage(undefined),
    };
    this.out += event({ type: "message_start", message }) + PING;
  }

  private delta(delta: Delta): void {
    const thinking = delta.reasoning_content || delta.reasoning;
    if (typeof thinking === "string" && thinking !== "") {
      this.into("thinking");
      this.out += event({ type: "content_block_delta", index: this.index, delta: { type: "thinking_delta", thinking } });
    }
    if (typeof delta.content === "string" && delta.content !== "") this.said = true;
    else if (typeof delta.refusal === "string" && delta.refusal !== "") this.refused = true;
    const text = delta.content || delta.refusal;
    if (typeof text === "string" && text !== "") {
      this.into("text");
      this.out += event({ type: "content_block_delta", index: this.index, delta: { type: "text_delta", text } });
    }
    for (const call of delta.tool_calls ?? []) this.toolCall(call);
  }

  private toolCall(call: ChatCompletionChunk.Choice.Delta.ToolCall): void {
    if (call.id !== undefined && call.id !== null && !this.toolBlocks.has(call.index)) {
      this.close();
      this.index++;
      this.open = "tool_use";
      this.toolBlocks.set(call.index, this.index);
      const block = { type: "tool_use" as const, id: call.id, name: call.function?.name ?? "", input: {} };
      this.out += event({ type: "content_block_start", index: this.index, content_block: block });
    }
    const args = call.function?.arguments;
    const index = this.toolBlocks.get(call.index);
    if (index === undefined || typeof args !== "string" || args === "") return;
    this.out += event({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: args } });
  }

  /** Makes the open block one of `kind`, closing another and opening it when needed. */
  private into(kind: "text" | "thinking"): void {
    if (this.open === kind) return;
    this.close();
    this.index++;
    this.open = kind;
    const block = kind === "text" ? { type: "text" as const, text: "" } : { type: "thinking" as const, thinking: "", signature: "" };
    this.out += event({ type: "content_block_start", index: this.index, content_block: block });
  }

  private close(): void {
    if (this.open === undefined) return;
    this.out += event({ type: "content_block_stop", index: this.index });
    this.open = undefined;
  }

  private stop(): void {
    if (!this.started) this.start({});
    this.close();
    this.ended = true;
    const usage = anthropicUsage(this.usage);
    // As toMessage does: an answer that is a refusal and no content stops as `refusal`, whatever its finish reason.
    const finish = this.refused && !this.said ? "content_filter" : this.finish;
    this.out += event({ type: "message_delta", delta: { stop_reason: stopReason(finish), stop_sequence: null }, usage });
    this.out += event({ type: "message_stop" });
  }

  private error(error: { message?: string; type?: string; code?: string }): void {
    this.ended = true;
    const type = errorTypeOfEvent(error);
    this.out += event({ type: "error", error: { type, message: error.message ?? "The upstream provider failed." } });
  }
}
