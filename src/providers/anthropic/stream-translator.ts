import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import type { CompletionUsage } from "openai/resources/completions";
import { badGateway } from "../../errors.ts";
import type { GatewayError } from "../../errors.ts";
import { finishReason, refusalText, toUsage, type FinishReason } from "./response.ts";
import type { Message, MessageDeltaUsage, StreamEvent, Usage } from "./wire.ts";
import { DONE_TEXT, dataEventText } from "../../sse-encode.ts";

/** A chunk's delta with the thinking text as `reasoning_content`, as DeepSeek and others stream it. */
export type Delta = ChatCompletionChunk.Choice.Delta & { reasoning_content?: string };


/**
 * Turns Anthropic stream events, one parsed event at a time, into OpenAI chunk events appended to
 * `out` (wire-ready `data: …\n\n` text, taken by the reader as it yields). Every chunk shares the
 * message's id, `created` and the upstream's model; the constant head and tail of a chunk are
 * serialised once per stream, so a chunk costs one `JSON.stringify` of its delta.
 *
 * `committed` turns true at the first content-bearing chunk (text, tool call, reasoning, refusal,
 * or a finish): until then `out` holds only the role chunk, which the reader keeps back.
 * Nothing Anthropic-shaped is ever written to `out`.
 */
export class StreamTranslator {
  out = "";
  committed = false;
  /** `message_stop` arrived: `out` ends with `[DONE]`. */
  finished = false;
  /** An `error` event arrived: the error to throw once `out` is delivered. */
  failure: GatewayError | undefined;
  /** The failure is Anthropic's own `error` event (not a stream we could not read). */
  errorEvent = false;
  /** Whole events read, for "cut after N events". */
  events = 0;
  /** Events whose data was not a JSON object: dropped, and the stream went on. */
  malformed = 0;
  usage: CompletionUsage | undefined;
  /** `usage` has message_delta's final output count, not only message_start's prompt. */
  usageFinal = false;
  /** The chunk's constant fields as JSON without its closing brace: `{"id":…,"model":…`. */
  private base = "";
  /** `base` plus the start of the one choice, up to its delta. */
  private head = "";
  private tail = "";
  private finishSent = false;
  private started = false;
  private inputUsage: Usage | undefined;
  /** Content block index → the tool call's own running index among tool calls. */
  private readonly toolIndex = new Map<number, number>();
  /** Content blocks of tool calls that have streamed no argument text yet. */
  private readonly argless = new Set<number>();

  constructor(
    private readonly provider: string,
    private readonly includeUsage: boolean,
    private readonly onError: (error: { type?: string; message?: string }) => GatewayError,
  ) {}

  /** One SSE event's data. */
  event(data: string): void {
    this.events++;
    if (this.failure !== undefined || this.finished) return;
    if (this.started && this.textDelta(data)) return;
    let event: StreamEvent;
    try {
      event = JSON.parse(data) as StreamEvent;
    } catch {
      this.malformed++;
      return;
    }
    if (event === null || typeof event !== "object" || Array.isArray(event)) {
      this.malformed++;
      return;
    }
    try {
      this.dispatch(event);
    } catch {
      // A known event type without the fields it always has (say a content_block_start with no
      // content_block): the stream cannot be translated faithfully from here on.
      this.fail(`a '${String(event.type)}' event lacked its fields`);
    }
  }

  private dispatch(event: StreamEvent): void {
    switch (event.type) {
      case "message_start":
        return this.start(event.message);
      case "content_block_start":
        return this.blockStart(event);
      case "content_block_delta":
        return this.blockDelta(event);
      case "content_block_stop":
        return this.blockStop(event.index);
      case "message_delta":
        return this.messageDelta(event);
      case "message_stop":
        return this.stop();
      case "error":
        this.errorEvent = true;
        this.failure = this.onError(event.error ?? {});
        return;
      // ping, and event types added later: nothing to send.
    }
  }

  private start(message: Message): void {
    if (this.started) return; // a repeated message_start changes nothing already sent
    const { id, model, usage } = message;
    if (typeof id !== "string" || typeof model !== "string") return this.fail("message_start lacked the message id or model");
    this.started = true;
    this.inputUsage = usage;
    // Known from the start: a stream that breaks still says what its prompt cost (resume sums it).
    if (usage !== undefined) this.usage = toUsage(mergeUsage(usage, undefined));
    const skeleton = { id, object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model };
    this.base = JSON.stringify(skeleton).slice(0, -1);
    this.head = `${this.base},"choices":[{"index":0,"delta":`;
    this.tail = this.includeUsage ? `}],"usage":null}` : "}]}";
    this.chunk({ role: "assistant", content: "" }, null, false);
  }

  private blockStart(event: Extract<StreamEvent, { type: "content_block_start" }>): void {
    const block = event.content_block;
    if (block.type === "tool_use" && "id" in block) {
      const index = this.toolIndex.size;
      this.toolIndex.set(event.index, index);
      this.argless.add(event.index);
      this.chunk({ tool_calls: [{ index, id: block.id, type: "function", function: { name: block.name, arguments: "" } }] }, null);
    } else if (block.type === "text" && "text" in block && block.text !== "") {
      this.chunk({ content: block.text }, null);
    } else if (block.type === "thinking" && "thinking" in block && block.thinking !== "") {
      this.chunk({ reasoning_content: block.thinking }, null);
    }
  }

  private blockDelta(event: Extract<StreamEvent, { type: "content_block_delta" }>): void {
    const delta = event.delta;
    switch (delta.type) {
      case "text_delta":
        if (delta.text !== "") this.chunk({ content: delta.text }, null);
        return;
      case "thinking_delta":
        if (delta.thinking !== "") this.chunk({ reasoning_content: delta.thinking }, null);
        return;
      case "input_json_delta": {
        const index = this.toolIndex.get(event.index);
        if (index === undefined || delta.partial_json === "") return;
        this.argless.delete(event.index);
        this.chunk({ tool_calls: [{ index, function: { arguments: delta.partial_json } }] }, null);
        return;
      }
      // signature_delta (thinking's opaque signature) and citations: no OpenAI form.
    }
  }

  /**
   * A call without arguments streams none (no input_json_delta, or one of ""): its arguments are
   * then "{}", as OpenAI sends them and as the non-streamed answer has them, not an empty string
   * no client can JSON.parse.
   */
  private blockStop(block: number): void {
    if (!this.argless.delete(block)) return;
    this.chunk({ tool_calls: [{ index: this.toolIndex.get(block)!, function: { arguments: "{}" } }] }, null);
  }

  private messageDelta(event: Extract<StreamEvent, { type: "message_delta" }>): void {
    // A call whose block never stopped still ends with its arguments whole.
    for (const block of this.argless) this.blockStop(block);
    this.usage = toUsage(mergeUsage(this.inputUsage, event.usage));
    this.usageFinal = true;
    const reason = event.delta?.stop_reason;
    if (reason === null || reason === undefined) return;
    const refusal = refusalText(reason, event.delta.stop_details);
    this.chunk(refusal === null ? {} : { refusal }, finishReason(reason));
  }

  private stop(): void {
    this.finished = true;
    if (!this.started) return this.fail("the stream ended without a message");
    // Anthropic always sends a stop reason first; should it not, the answer still ends as a stop.
    if (!this.finishSent) this.chunk({}, "stop");
    if (this.includeUsage && this.usage !== undefined) this.out += dataEventText(`${this.base},"choices":[],"usage":${JSON.stringify(this.usage)}}`);
    this.out += DONE_TEXT;
    this.committed = true;
  }

  private chunk(delta: Delta, finish: FinishReason | null, content = true): void {
    if (!this.started) return this.fail("content arrived before message_start");
    let end = `,"logprobs":null,"finish_reason":null${this.tail}`;
    if (finish !== null) {
      end = `,"logprobs":null,"finish_reason":"${finish}"${this.tail}`;
      this.finishSent = true;
    }
    this.out += dataEventText(`${this.head}${JSON.stringify(delta)}${end}`);
    if (content) this.committed = true;
  }

  /**
   * The common event, a text delta, without parsing it: its `text` is already a JSON string
   * literal, spliced into the chunk as it is (checked to be one whole literal first). Saves a
   * parse and a serialisation per token; any other shape goes the parsed way.
   */
  private textDelta(data: string): boolean {
    if (!data.startsWith(DELTA_HEAD)) return false;
    let at = DELTA_HEAD.length;
    while (at < data.length && data.charCodeAt(at) >= 48 && data.charCodeAt(at) <= 57) at++;
    if (at === DELTA_HEAD.length || !data.startsWith(TEXT_HEAD, at) || !data.endsWith("}}")) return false;
    const literal = data.slice(at + TEXT_HEAD.length, -2);
    if (!isStringLiteral(literal)) return false;
    if (literal.length > 2) {
      this.out += `data: ${this.head}{"content":${literal}},"logprobs":null,"finish_reason":null${this.tail}\n\n`;
      this.committed = true;
    }
    return true;
  }

  private fail(detail: string): void {
    this.failure ??= badGateway(`Provider '${this.provider}' sent a malformed stream: ${detail}.`, "upstream_invalid_stream");
  }
}

const DELTA_HEAD = '{"type":"content_block_delta","index":';
const TEXT_HEAD = ',"delta":{"type":"text_delta","text":';

/** Whether `text` is exactly one JSON string literal: quoted, no bare quote or control character inside. */
function isStringLiteral(text: string): boolean {
  const last = text.length - 1;
  if (last < 1 || text.charCodeAt(0) !== 34 || text.charCodeAt(last) !== 34) return false;
  for (let i = 1; i < last; i++) {
    const c = text.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 34 || c < 32) return false;
  }
  // A final backslash would have escaped the closing quote.
  let slashes = 0;
  for (let i = last - 1; i > 0 && text.charCodeAt(i) === 92; i--) slashes++;
  return slashes % 2 === 0;
}

/** message_delta's counts are cumulative; its input fields, when present, supersede message_start's. */
function mergeUsage(start: Usage | undefined, delta: MessageDeltaUsage | undefined): Usage {
  return {
    input_tokens: delta?.input_tokens ?? start?.input_tokens ?? 0,
    output_tokens: delta?.output_tokens ?? start?.output_tokens ?? 0,
    cache_read_input_tokens: delta?.cache_read_input_tokens ?? start?.cache_read_input_tokens ?? 0,
    cache_creation_input_tokens: delta?.cache_creation_input_tokens ?? start?.cache_creation_input_tokens ?? 0,
    output_tokens_details: delta?.output_tokens_details ?? start?.output_tokens_details ?? null,
  };
}
