import { createParser, type EventSourceParser } from "eventsource-parser";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import type { CompletionUsage } from "openai/resources/completions";
import type { ResponseOutputItem } from "openai/resources/responses/responses";
import { encodeEvents } from "../sse-encode.ts";
import type { ResponsesRequest } from "./schema.ts";
import { callId, functionCallItem, itemId, messageItem, responseShell, responseId, responseUsage, statusOf, type ResponseBody } from "./to-response.ts";
import { UsageHoldingTranslator, firstChoice } from "../gateway/translated-stream.ts";

/** A delta with its reasoning as DeepSeek and vLLM send it (`reasoning_content`), or as OpenRouter does (`reasoning`). */
type Delta = ChatCompletionChunk.Choice.Delta & { reasoning_content?: string | null; reasoning?: string | null };
type Failure = { message?: string; type?: string; code?: string | number | null };

/** An output item being streamed: a message's text or refusal, a reasoning summary, or a function call. */
interface Item {
  kind: "text" | "refusal" | "reasoning" | "call";
  /** Its output_index; -1 while a call waits for its name. */
  index: number;
  id: string;
  text: string;
  /** A call's id and name (either may come after its first fragment). */
  call?: string;
  name?: string;
}

const utf8 = new TextDecoder();

/**
 * Turns an OpenAI chunk stream (whole SSE events, as a provider yields them) into the Responses
 * API's events, each with its `sequence_number`: response.created and response.in_progress with
 * the first chunk; an output item per run of reasoning, text or refusal (a message) and per tool
 * call, added, fed by deltas and done; then, at `[DONE]`, response.completed (or
 * response.incomplete) with the whole response and the usage OpenAI sends last. A message or
 * reasoning item is done when another item begins; calls are done at the finish, so calls a
 * provider interleaves still stream (each event names its item). An upstream error event, or a
 * failure after the first event (`failure`), becomes an `error` event and response.failed.
 */
export class ResponsesTranslator extends UsageHoldingTranslator {
  private out = "";
  private sequence = 0;
  private response: ResponseBody | undefined;
  private readonly parser: EventSourceParser;
  /** The output items by output_index, as they stand. */
  private readonly output: ResponseOutputItem[] = [];
  /** The message or reasoning item still open, if any. */
  private current: Item | undefined;
  /** Each tool call's item, by the call's chat index. */
  private readonly calls = new Map<number, Item>();
  private readonly pending: Item[] = [];
  private finish: string | null = null;

  /** `keep`: told the output items of a stream that ends completed or incomplete (not failed), to store them. */
  constructor(
    private readonly body: ResponsesRequest,
    private readonly fallbackModel: string,
    private readonly now: () => number = Date.now,
    private readonly keep?: (output: readonly ResponseOutputItem[]) => void,
    estimated = false,
  ) {
    super(estimated);
    this.parser = createParser({ onEvent: ({ data }) => this.data(data) });
  }

  /** The Responses events for a run of whole OpenAI events; undefined when it made none. */
  push(bytes: Uint8Array): Uint8Array | undefined {
    this.parser.feed(utf8.decode(bytes));
    return this.take();
  }

  /** The events that end a stream broken after its first event: an `error` event, then response.failed. */
  failure(error: Failure): Uint8Array {
    this.fail(error);
    return this.drain();
  }

  protected drain(): Uint8Array {
    return this.take() ?? new Uint8Array(0);
  }

  private take(): Uint8Array | undefined {
    if (this.out === "") return undefined;
    const out = encodeEvents(this.out);
    this.out = "";
    return out;
  }

  private emit(type: string, fields: Record<string, unknown>): void {
    this.out += `event: ${type}\ndata: ${JSON.stringify({ type, ...fields, sequence_number: this.sequence++ })}\n\n`;
  }

  private data(data: string): void {
    if (this.ended) return;
    if (data === "[DONE]") return this.complete();
    let chunk: Partial<ChatCompletionChunk> & { error?: Failure };
    try {
      chunk = JSON.parse(data) as typeof chunk;
    } catch {
      return;
    }
    if (chunk === null || typeof chunk !== "object") return;
    if (chunk.error !== undefined && chunk.error !== null) return this.fail(typeof chunk.error === "object" ? chunk.error : { message: String(chunk.error) });
    if (this.response === undefined) this.start(chunk);
    if (chunk.usage) this.usage = chunk.usage;
    const choice = firstChoice(chunk);
    if (choice === undefined) return;
    if (choice.delta) this.delta(choice.delta as Delta);
    if (choice.finish_reason) {
      this.finish = choice.finish_reason;
      this.closeAll();
    }
  }

  private start(chunk: Partial<ChatCompletionChunk>): void {
    const created = typeof chunk.created === "number" ? chunk.created : Math.floor(this.now() / 1000);
    this.response = responseShell(this.body, responseId(chunk.id), chunk.model ?? this.fallbackModel, created);
    this.emit("response.created", { response: this.response });
    this.emit("response.in_progress", { response: this.response });
  }

  private delta(delta: Delta): void {
    const thinking = delta.reasoning_content || delta.reasoning;
    if (typeof thinking === "string" && thinking !== "") this.run("reasoning", thinking);
    if (typeof delta.content === "string" && delta.content !== "") this.run("text", delta.content);
    if (typeof delta.refusal === "string" && delta.refusal !== "") this.run("refusal", delta.refusal);
    for (const call of delta.tool_calls ?? []) this.toolCall(call);
  }

  /** Text, refusal or reasoning goes on in the open item of its kind, else in a new one. */
  private run(kind: "text" | "refusal" | "reasoning", piece: string): void {
    let item = this.current;
    if (item?.kind !== kind) {
      this.closeCurrent();
      item = this.current = this.add({ kind, index: -1, id: itemId(kind === "reasoning" ? "rs" : "msg"), text: "" });
    }
    item.text += piece;
    const at = { item_id: item.id, output_index: item.index };
    if (kind === "reasoning") this.emit("response.reasoning_summary_text.delta", { ...at, summary_index: 0, delta: piece });
    else if (kind === "refusal") this.emit("response.refusal.delta", { ...at, content_index: 0, delta: piece });
    else this.emit("response.output_text.delta", { ...at, content_index: 0, delta: piece, logprobs: [] });
  }

  /**
   * OpenAI only promises each fragment its call's `index`: some providers send no `id` (one is
   * made) or the name after the first fragment (the item is added once it is known), and some
   * number every call 0 (another id at an index is another call).
   */
  private toolCall(fragment: ChatCompletionChunk.Choice.Delta.ToolCall): void {
    const id = fragment.id || undefined;
    const name = fragment.function?.name || undefined;
    let item = this.calls.get(fragment.index);
    if (item === undefined || (id !== undefined && item.call !== undefined && id !== item.call)) {
      item = { kind: "call", index: -1, id: itemId("fc"), text: "", call: id, name };
      this.calls.set(fragment.index, item);
      this.pending.push(item);
    } else {
      item.call ??= id;
      item.name ??= name;
    }
    const args = fragment.function?.arguments;
    if (item.index === -1 && item.name !== undefined) this.addCall(item);
    if (typeof args === "string" && args !== "") {
      item.text += args;
      if (item.index !== -1) this.emit("response.function_call_arguments.delta", { item_id: item.id, output_index: item.index, delta: args });
    }
  }

  /** Adds a call's item (arguments empty) and streams what it held. */
  private addCall(item: Item): void {
    this.closeCurrent();
    item.call = callId(item.call);
    this.add(item);
    if (item.text !== "") this.emit("response.function_call_arguments.delta", { item_id: item.id, output_index: item.index, delta: item.text });
  }

  /** Gives the item its output_index and sends response.output_item.added (and its first content part). */
  private add(item: Item): Item {
    item.index = this.output.length;
    const added = this.itemOf(item, "in_progress");
    this.output.push(added);
    const at = { item_id: item.id, output_index: item.index };
    this.emit("response.output_item.added", { output_index: item.index, item: added });
    if (item.kind === "reasoning") this.emit("response.reasoning_summary_part.added", { ...at, summary_index: 0, part: { type: "summary_text", text: "" } });
    else if (item.kind !== "call") this.emit("response.content_part.added", { ...at, content_index: 0, part: this.partOf(item.kind, "") });
    return item;
  }

  private partOf(kind: "text" | "refusal", text: string) {
    return kind === "text" ? { type: "output_text" as const, text, annotations: [], logprobs: [] } : { type: "refusal" as const, refusal: text };
  }

  /** An item as the output lists it: empty while in progress; whole once completed, or incomplete (cut by a limit or a failure). */
  private itemOf(item: Item, status: "in_progress" | "completed" | "incomplete"): ResponseOutputItem {
    const whole = status !== "in_progress";
    switch (item.kind) {
      case "call":
        return functionCallItem(item.id, item.call ?? "", item.name ?? "", whole ? item.text : "", status);
      case "reasoning":
        return { type: "reasoning", id: item.id, summary: whole ? [{ type: "summary_text", text: item.text }] : [] };
      default:
        return messageItem(item.id, status, whole ? [this.partOf(item.kind, item.text)] : []);
    }
  }

  /** Sends the done events of an item: its text's or arguments', its part's, and response.output_item.done. */
  private done(item: Item): void {
    const at = { item_id: item.id, output_index: item.index };
    if (item.kind === "reasoning") {
      this.emit("response.reasoning_summary_text.done", { ...at, summary_index: 0, text: item.text });
      this.emit("response.reasoning_summary_part.done", { ...at, summary_index: 0, part: { type: "summary_text", text: item.text } });
    } else if (item.kind === "call") {
      // A call with no arguments is `{}`, as the JSON answer gives it (to-response.ts).
      if (item.text === "") item.text = "{}";
      this.emit("response.function_call_arguments.done", { ...at, name: item.name ?? "", arguments: item.text });
    } else {
      if (item.kind === "text") this.emit("response.output_text.done", { ...at, content_index: 0, text: item.text, logprobs: [] });
      else this.emit("response.refusal.done", { ...at, content_index: 0, refusal: item.text });
      this.emit("response.content_part.done", { ...at, content_index: 0, part: this.partOf(item.kind, item.text) });
    }
    // A message cut by max_output_tokens or a content filter is incomplete, as its response is.
    const cut = (item.kind === "text" || item.kind === "refusal") && statusOf(this.finish).status === "incomplete";
    const whole = this.itemOf(item, cut ? "incomplete" : "completed");
    this.output[item.index] = whole;
    this.emit("response.output_item.done", { output_index: item.index, item: whole });
  }

  private closeCurrent(): void {
    if (this.current === undefined) return;
    this.done(this.current);
    this.current = undefined;
  }

  /** The finish: every item done, in order; a call whose name never came is added without one. */
  private closeAll(): void {
    this.closeCurrent();
    for (const item of this.pending.splice(0)) {
      if (item.index === -1) this.addCall(item);
      this.done(item);
    }
  }

  private complete(): void {
    if (this.response === undefined) this.start({});
    this.closeAll();
    this.finishOrHold();
  }

  /** response.completed (or .incomplete) with the whole response and its usage; its items kept. */
  protected writeEnd(): void {
    const status = statusOf(this.finish);
    const response: ResponseBody = { ...this.response!, ...status, completed_at: Math.floor(this.now() / 1000), output: this.output, usage: responseUsage(this.usage) };
    this.emit(status.status === "completed" ? "response.completed" : "response.incomplete", { response });
    this.keep?.(this.output);
  }

  /** OpenAI's way of ending a failed stream: an `error` event (which its SDK raises), then response.failed. */
  private fail(error: Failure): void {
    if (this.ended) return;
    this.ended = true;
    if (this.response === undefined) this.start({});
    const message = typeof error.message === "string" ? error.message : "The upstream provider failed.";
    // A string, as the spec and the SDKs' parsers take it: some providers send a number (an HTTP status).
    const code = error.code === undefined || error.code === null ? "server_error" : String(error.code);
    this.emit("error", { code, message, param: null, error: { type: error.type ?? "server_error", code, message, param: null } });
    // What was sent of the items still open stays in the output, marked incomplete.
    for (const item of [this.current, ...this.pending]) if (item !== undefined && item.index !== -1) this.output[item.index] = this.itemOf(item, "incomplete");
    const response: ResponseBody = { ...this.response!, status: "failed", error: { code: code as NonNullable<ResponseBody["error"]>["code"], message }, output: this.output, usage: responseUsage(this.usage) };
    this.emit("response.failed", { response });
  }
}
