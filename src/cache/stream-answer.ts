// A streamed answer kept for the cache: the chunks that went to the client, referenced as they
// pass (no copy, no parse), and read back into one completion once, only if the stream completed.
import type { ChatCompletion } from "openai/resources/chat/completions";
import type { CompletionUsage } from "openai/resources/completions";
import { readEvents } from "../providers/openai-observer.ts";
import { storable } from "./stored-answer.ts";

/**
 * Wraps a committed stream's iterator and keeps a reference to each chunk it yields, up to
 * `maxBytes` in all (past that the answer is too large to store and nothing more is kept). The
 * chunks are whole SSE events, so together they are a run the parser reads in one go.
 */
export class StreamRecorder implements AsyncIterator<Uint8Array, void, undefined> {
  private chunks: Uint8Array[] | undefined;
  private bytes: number;

  constructor(
    first: Uint8Array,
    private readonly inner: AsyncIterator<Uint8Array, void, undefined>,
    private readonly maxBytes: number,
  ) {
    this.chunks = first.length <= maxBytes ? [first] : undefined;
    this.bytes = first.length;
  }

  next(): Promise<IteratorResult<Uint8Array, void>> {
    return this.inner.next().then(this.keep);
  }

  return(): Promise<IteratorResult<Uint8Array, void>> {
    return this.inner.return?.() ?? Promise.resolve({ done: true, value: undefined });
  }

  /** Bound once per stream, not per chunk. */
  private readonly keep = (result: IteratorResult<Uint8Array, void>): IteratorResult<Uint8Array, void> => {
    if (!result.done && this.chunks !== undefined) {
      this.bytes += result.value.length;
      if (this.bytes > this.maxBytes) this.chunks = undefined;
      else this.chunks.push(result.value);
    }
    return result;
  };

  /**
   * The answer the client got, as one completion; undefined when it is not whole (no `[DONE]`, a
   * choice without its finish reason, an error event), too large, or holds what a replay would lose.
   */
  answer(choices: number, usage: CompletionUsage | undefined): ChatCompletion | undefined {
    if (this.chunks === undefined) return undefined;
    const data = readEvents(this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks));
    this.chunks = undefined;
    return completionOf(data, choices, usage);
  }
}

type Message = ChatCompletion.Choice["message"] & { reasoning_content?: string | null };
type Call = { id: string; type: "function"; function: { name: string; arguments: string } };
interface Building {
  message: Message;
  calls: Call[];
  finish: ChatCompletion.Choice["finish_reason"] | null;
}

/**
 * The events' data (`chat.completion.chunk`s, then `[DONE]`) as one `chat.completion`, the way the
 * OpenAI SDK assembles a stream: text deltas joined, tool-call deltas joined by index. `usage` is
 * the stream's as the gateway saw it (the usage chunk may not have gone to the client).
 */
export function completionOf(data: readonly string[], choices: number, usage: CompletionUsage | undefined): ChatCompletion | undefined {
  if (data.at(-1) !== "[DONE]") return undefined;
  let head: Record<string, unknown> | undefined;
  const built: Building[] = [];
  for (let i = 0; i < data.length - 1; i++) {
    let chunk: Record<string, unknown>;
    try {
      chunk = JSON.parse(data[i]!) as Record<string, unknown>;
    } catch {
      return undefined;
    }
    if (chunk.error !== undefined || !Array.isArray(chunk.choices)) return undefined;
    head ??= chunk;
    for (const choice of chunk.choices as ChatCompletionChunkChoice[]) if (!addChoice(built, choice)) return undefined;
  }
  if (head === undefined || built.length !== choices || !whole(built)) return undefined;
  const completion = {
    id: head.id, object: "chat.completion", created: head.created, model: head.model,
    ...(head.service_tier != null ? { service_tier: head.service_tier } : {}),
    ...(head.system_fingerprint != null ? { system_fingerprint: head.system_fingerprint } : {}),
    choices: built.map((b, index) => ({
      index, message: b.calls.length > 0 ? { ...b.message, tool_calls: b.calls } : b.message, logprobs: null, finish_reason: b.finish,
    })),
    ...(usage !== undefined ? { usage } : {}),
  } as ChatCompletion;
  return storable(completion) ? completion : undefined;
}

/** Every choice (no gap in the indexes) has its finish reason, and every tool call its id and name. */
function whole(built: readonly Building[]): boolean {
  for (let i = 0; i < built.length; i++) {
    const b = built[i];
    if (b === undefined || b.finish == null) return false;
    for (let c = 0; c < b.calls.length; c++) if (b.calls[c] === undefined || b.calls[c]!.id === "" || b.calls[c]!.function.name === "") return false;
  }
  return true;
}

interface ChatCompletionChunkChoice {
  index?: unknown;
  delta?: Record<string, unknown> | null;
  logprobs?: unknown;
  finish_reason?: ChatCompletion.Choice["finish_reason"] | null;
}

/** Adds one chunk's choice to what is being built; false when it holds what cannot be stored. */
function addChoice(built: Building[], choice: ChatCompletionChunkChoice): boolean {
  const index = choice.index;
  if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index > 127 || choice.logprobs != null) return false;
  const b = (built[index] ??= { message: { role: "assistant", content: null, refusal: null }, calls: [], finish: null });
  const delta = choice.delta;
  // for-in and plain comparisons: this runs for every chunk of a stored stream.
  if (delta != null) {
    for (const field in delta) {
      const value = delta[field];
      if (value === null || value === undefined || field === "role") continue;
      if (field === "content" || field === "refusal" || field === "reasoning_content") {
        if (typeof value !== "string") return false;
        b.message[field] = (b.message[field] ?? "") + value;
      } else if (field !== "tool_calls" || !Array.isArray(value) || !value.every((call) => addCall(b.calls, call))) {
        return false;
      }
    }
  }
  if (choice.finish_reason != null) b.finish = choice.finish_reason;
  return true;
}

function addCall(calls: Call[], delta: unknown): boolean {
  const d = delta as { index?: unknown; id?: unknown; type?: unknown; function?: { name?: unknown; arguments?: unknown } };
  if (typeof d?.index !== "number" || d.index < 0 || d.index > 1024) return false;
  const call = (calls[d.index] ??= { id: "", type: "function", function: { name: "", arguments: "" } });
  if (typeof d.id === "string") call.id = d.id;
  if (d.type !== undefined && d.type !== "function") return false;
  // As the OpenAI SDK assembles it: the name comes whole, the arguments in pieces.
  if (typeof d.function?.name === "string" && d.function.name !== "") call.function.name = d.function.name;
  if (typeof d.function?.arguments === "string") call.function.arguments += d.function.arguments;
  return true;
}
