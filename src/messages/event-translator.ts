import { createParser, type EventSourceParser } from "eventsource-parser";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import type { CompletionUsage } from "openai/resources/completions";
import { encodeEvents } from "../sse-encode.ts";
import type { Message } from "../providers/anthropic/wire.ts";
import { anthropicUsage, matchedStop, messageId, stopOf } from "./to-message.ts";
import { errorTypeOfEvent } from "./errors.ts";
import { closable, deltaEvent, emptyBlock, event, type Block } from "./stream-blocks.ts";
import { UsageHoldingTranslator, firstChoice } from "../gateway/translated-stream.ts";

/** A delta with its reasoning as DeepSeek and vLLM send it (`reasoning_content`), or as OpenRouter does (`reasoning`). */
type Delta = ChatCompletionChunk.Choice.Delta & { reasoning_content?: string | null; reasoning?: string | null };

const PING = event({ type: "ping" });
const utf8 = new TextDecoder();

/**
 * Turns an OpenAI chunk stream (whole SSE events, as a provider yields them) into the events of
 * Anthropic's Messages stream, in the order the API sends them: message_start with the first
 * chunk, and one ping right after the first content_block_start (where Anthropic sends it); a content block per run of reasoning (thinking), text, or one tool call, each
 * opened with content_block_start, fed by thinking_delta / text_delta / input_json_delta and
 * closed with content_block_stop, one block after another (what comes for a later block while
 * one is open is held until that one closes; see `advance`); then, at `[DONE]`, message_delta
 * (stop reason and usage, which OpenAI sends last) and message_stop. An upstream error event
 * becomes Anthropic's `error` event.
 */
export class EventTranslator extends UsageHoldingTranslator {
  private out = "";
  private started = false;
  /** Whether the one early ping went out: checked per block, never per chunk. */
  private pinged = false;
  private readonly parser: EventSourceParser;
  /** The Anthropic index of the last block started (-1: none yet). */
  private index = -1;
  /** The blocks not closed yet, in order: the first is open (started), the others held. */
  private readonly queue: Block[] = [];
  /** Each tool call's block, by the call's OpenAI index: kept once closed, so a stray late fragment opens no second block. */
  private readonly calls = new Map<number, Block>();
  private finish: string | null = null;
  /** The stop sequence the server said ended the answer (vLLM's `stop_reason`, the mock's). */
  private matched: string | undefined;
  /** Whether the answer had refusal text, and content text: a refusal alone stops as `refusal`. */
  private refused = false;
  private said = false;

  constructor(
    private readonly fallbackModel: string,
    estimated = false,
  ) {
    super(estimated);
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
    const choice = firstChoice(chunk);
    if (choice === undefined) return;
    if (choice.delta) this.delta(choice.delta as Delta);
    if (choice.finish_reason) {
      this.finish = choice.finish_reason;
      this.matched = matchedStop(choice as { stop_reason?: unknown });
      this.closeAll();
    }
  }

  private start(chunk: Partial<ChatCompletionChunk>): void {
    this.started = true;
    const message: Message = {
      id: messageId(chunk.id), type: "message", role: "assistant", model: chunk.model ?? this.fallbackModel,
      content: [], stop_reason: null, stop_sequence: null, usage: anthropicUsage(undefined),
    };
    this.out += event({ type: "message_start", message });
  }

  private delta(delta: Delta): void {
    const thinking = delta.reasoning_content || delta.reasoning;
    if (typeof thinking === "string" && thinking !== "") this.add(this.run("thinking"), thinking);
    if (typeof delta.content === "string" && delta.content !== "") this.said = true;
    else if (typeof delta.refusal === "string" && delta.refusal !== "") this.refused = true;
    const text = delta.content || delta.refusal;
    if (typeof text === "string" && text !== "") this.add(this.run("text"), text);
    for (const call of delta.tool_calls ?? []) this.toolCall(call);
  }

  /** The block a run of text or thinking goes on in: the last block when it is of that kind, else a new one. */
  private run(kind: "text" | "thinking"): Block {
    const last = this.queue.at(-1);
    return last?.kind === kind ? last : this.enqueue({ kind, held: [], args: "" });
  }

  /**
   * OpenAI only promises each fragment its call's `index`: calls may interleave, and some
   * providers send no `id` (one is made when the block starts) or the name after the first chunk.
   */
  private toolCall(call: ChatCompletionChunk.Choice.Delta.ToolCall): void {
    const id = call.id || undefined;
    const name = call.function?.name || undefined;
    let block = this.calls.get(call.index);
    // Another id at the same index (or with none) is another call: some providers number every call 0.
    if (block === undefined || (id !== undefined && block.id !== undefined && id !== block.id)) {
      block = { kind: "tool_use", held: [], id, name, args: "" };
      this.calls.set(call.index, block);
      this.enqueue(block);
    } else if (!block.open) {
      // Until it starts, a block takes an id or a name that comes late; the first in line starts
      // as soon as its name is known.
      block.id ??= id;
      block.name ??= name;
      if (block === this.queue[0]) this.begin(block);
    }
    const args = call.function?.arguments;
    if (typeof args === "string" && args !== "") this.add(block, args);
  }

  /** Queues a new block: started at once when nothing is open, else held until the blocks before it close. */
  private enqueue(block: Block): Block {
    this.queue.push(block);
    if (this.queue.length === 1) this.begin(block);
    else this.advance();
    return block;
  }

  /** Streams a piece of the block's content when it is open, else holds it; a closed block's is dropped. */
  private add(block: Block, piece: string): void {
    if (block.kind === "tool_use") {
      // A call's block closes once its arguments are a whole JSON value, which only whitespace
      // can follow in valid arguments, or at the finish, after which nothing more comes.
      if (!this.queue.includes(block)) return;
      block.args += piece;
    }
    if (block === this.queue[0] && block.open) {
      this.out += deltaEvent(this.index, block.kind, piece);
      this.advance();
    } else {
      block.held.push(piece);
    }
  }

  /**
   * Anthropic's blocks never interleave: each is started, fed and stopped before the next starts.
   * So the open block is closed for a held one only once nothing more can come to it: text and
   * thinking may go on in a new block, but a tool call's arguments must all be in its one block,
   * so it stays open until they are a whole JSON object (or the choice finishes). Calls sent one
   * after the other, as OpenAI sends them, so still stream live; interleaved ones wait their turn.
   */
  private advance(): void {
    while (this.queue.length > 1 && this.queue[0]!.open && closable(this.queue[0]!)) {
      this.close();
      this.begin(this.queue[0]!);
    }
  }

  /**
   * Starts the block, with what it held. A tool call whose name has not come yet waits (its start
   * carries the name, and the client runs the tool by it), unless `anyway`: nothing more will come.
   */
  private begin(block: Block, anyway = false): void {
    if (block.open || (block.kind === "tool_use" && block.name === undefined && !anyway)) return;
    block.open = true;
    this.index++;
    this.out += event({ type: "content_block_start", index: this.index, content_block: emptyBlock(block) });
    if (!this.pinged) this.ping();
    for (const piece of block.held) this.out += deltaEvent(this.index, block.kind, piece);
    block.held = [];
  }

  /** Stops the open block. */
  private close(): void {
    this.queue.shift();
    this.out += event({ type: "content_block_stop", index: this.index });
  }

  /** Closes the open block and starts and closes each held one, in order: nothing more will come to them. */
  private closeAll(): void {
    while (this.queue.length > 0) {
      this.begin(this.queue[0]!, true);
      this.close();
    }
  }

  private stop(): void {
    if (!this.started) this.start({});
    this.closeAll();
    // An answer without a block still gets its ping, before the end.
    if (!this.pinged) this.ping();
    this.finishOrHold();
  }

  private ping(): void {
    this.pinged = true;
    this.out += PING;
  }

  protected drain(): Uint8Array {
    const out = encodeEvents(this.out);
    this.out = "";
    return out;
  }

  /** message_delta (stop reason and usage), then message_stop. */
  protected writeEnd(): void {
    const usage = anthropicUsage(this.usage);
    // As toMessage does: an answer that is a refusal and no content stops as `refusal`, whatever its finish reason.
    const finish = this.refused && !this.said ? "content_filter" : this.finish;
    this.out += event({ type: "message_delta", delta: stopOf(finish, this.matched), usage });
    this.out += event({ type: "message_stop" });
  }

  private error(error: { message?: string; type?: string; code?: string }): void {
    this.ended = true;
    const type = errorTypeOfEvent(error);
    this.out += event({ type: "error", error: { type, message: error.message ?? "The upstream provider failed." } });
  }
}
