import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import type { GatewayError } from "../errors.ts";
import { readEvents, wellFormed } from "./openai-observer.ts";
import type { StreamSeen } from "./provider.ts";
import { concatAll, find } from "./sse-frames.ts";

const LF = 10;
const CR = 13;

const decoder = new TextDecoder();

/**
 * The data of an event that is one `data:` line (how every OpenAI-compatible server frames its
 * chunks), decoded straight from its bytes; undefined for anything else, which the parser reads.
 */
function singleLineData(event: Uint8Array): string | undefined {
  const n = event.length;
  if (n < 8 || event[0] !== 100 || event[1] !== 97 || event[2] !== 116 || event[3] !== 97 || event[4] !== 58) return undefined;
  if (event[n - 1] !== LF || event[n - 2] !== LF || event.indexOf(LF) !== n - 2 || event.indexOf(CR) !== -1) return undefined;
  return decoder.decode(event.subarray(event[5] === 32 ? 6 : 5, n - 2));
}

/** The index just past the blank line that ends the event starting at `from`, or -1. */
function nextEventEnd(run: Uint8Array, from: number): number {
  for (let at = run.indexOf(LF, from); at !== -1; at = run.indexOf(LF, at + 1)) {
    if (run[at + 1] === LF) return at + 2;
    if (run[at + 1] === CR && run[at + 2] === LF) return at + 3;
  }
  return -1;
}

type Delta = ChatCompletionChunk.Choice.Delta & { reasoning_content?: unknown; reasoning?: unknown };

/** Whether a chunk carries part of the answer: text, a tool call, reasoning, a refusal or a finish. */
function bearsContent(chunk: Partial<ChatCompletionChunk>): boolean {
  for (const choice of chunk.choices ?? []) {
    if (choice.finish_reason) return true;
    const d = (choice.delta ?? {}) as Delta;
    if ((typeof d.content === "string" && d.content !== "") || (Array.isArray(d.tool_calls) && d.tool_calls.length > 0)) return true;
    if (d.reasoning_content || d.reasoning || d.refusal || d.function_call) return true;
  }
  return false;
}

const ONE_DELTA = Buffer.from('"delta":{');
const TEXT_DELTA = Buffer.from('"delta":{"content":"');
const ROLE_ONLY = [Buffer.from('"delta":{"role":"assistant","content":""}'), Buffer.from('"delta":{"role":"assistant","content":"","refusal":null}')];
const NO_FINISH = Buffer.from('"finish_reason":null');

/**
 * The verdict on the chunks every OpenAI-compatible stream begins with, read off their compact
 * bytes without decoding or parsing: one `data: {…}` line with one choice whose delta starts with
 * non-empty text (content: commit), or the bare role chunk with no finish (hold). Quotes inside
 * JSON strings are escaped, so these patterns cannot come from the text of an answer. Anything
 * else: undefined, and the event is decoded and parsed.
 */
function quickVerdict(event: Uint8Array): boolean | undefined {
  const n = event.length;
  if (n < 8 || event[0] !== 100 || event[5] !== 32 || event[6] !== 123 || event[n - 1] !== LF || event[n - 2] !== LF || event[n - 3] !== 125) return undefined;
  const delta = find(event, ONE_DELTA);
  if (delta === -1 || find(event, ONE_DELTA, delta + ONE_DELTA.length) !== -1 || event.indexOf(LF) !== n - 2) return undefined;
  if (find(event, TEXT_DELTA, delta) === delta && event[delta + TEXT_DELTA.length] !== 34) return true;
  for (const role of ROLE_ONLY) if (find(event, role, delta) === delta) return find(event, NO_FINISH) === -1 ? undefined : false;
  return undefined;
}

export interface Committed {
  /** What was held back before the committing event (comments, the role chunk), or undefined. */
  held: Uint8Array | undefined;
  /** The run from the committing event on, as it came. */
  rest: Uint8Array;
}

/**
 * Holds a stream back until its first content-bearing chunk (text, tool call, reasoning, refusal,
 * a finish, or `[DONE]`): the role-only chunk and comments wait with it, so an upstream that fails
 * after its preamble fails before the client saw a byte, and can still be retried or replaced.
 * An error event first is such a failure. Only these first events are parsed; later ones pass by.
 */
export class CommitGate {
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  private heldEvents = 0;

  constructor(
    private readonly maxHeldBytes: number,
    private readonly tooLarge: (what: string, limit: number) => GatewayError,
    /** The error for an upstream error event that came before any content. */
    private readonly failedEarly: (data: string) => GatewayError,
  ) {}

  /** Commits on `run` when it holds the first content-bearing event; undefined while still holding. */
  push(run: Uint8Array, seen: StreamSeen): Committed | undefined {
    // Held from earlier runs, or an event of this run dropped: the held bytes must be joined.
    let joined = this.held.length > 0;
    let start = 0;
    while (start < run.length) {
      const end = nextEventEnd(run, start);
      const event = run.subarray(start, end === -1 ? run.length : end);
      const quick = quickVerdict(event);
      const data = quick === undefined ? (singleLineData(event) ?? readEvents(event)[0]) : "";
      if (quick === true || (quick === undefined && data !== undefined && this.commitsOn(data, seen))) {
        // Everything before the committing event was held as it came: the run goes out whole.
        if (!joined) return this.commitWhole(run);
        return this.commit(run.subarray(start), seen);
      }
      if (quick === false || data === undefined || wellFormed(data)) this.hold(event, data !== undefined);
      else joined = true;
      if (end === -1) break;
      start = end;
    }
    return undefined;
  }

  private commitsOn(data: string, seen: StreamSeen): boolean {
    if (!wellFormed(data)) {
      seen.dropped++;
      return false;
    }
    if (data.trim() === "[DONE]") return true;
    let chunk: Partial<ChatCompletionChunk> & { error?: unknown };
    try {
      chunk = JSON.parse(data);
    } catch {
      seen.dropped++;
      return false;
    }
    // An error: OpenAI's `error` member (null is none), or vLLM's `"object": "error"`.
    if ((chunk.error !== undefined && chunk.error !== null) || (chunk.object as string | undefined) === "error") throw this.failedEarly(data);
    return bearsContent(chunk);
  }

  private hold(event: Uint8Array, isData: boolean): void {
    this.heldBytes += event.length;
    if (this.heldBytes > this.maxHeldBytes) throw this.tooLarge("comments and events before its first content", this.maxHeldBytes);
    this.held.push(event);
    if (isData) this.heldEvents++;
  }

  /** The held events are this run's own first bytes: nothing to join, and the observer counts them. */
  private commitWhole(run: Uint8Array): Committed {
    this.held = [];
    return { held: undefined, rest: run };
  }

  private commit(rest: Uint8Array, seen: StreamSeen): Committed {
    seen.events += this.heldEvents;
    const held = this.held.length === 0 ? undefined : concatAll(this.held.slice(0, -1), this.held[this.held.length - 1]!);
    this.held = [];
    return { held, rest };
  }
}
