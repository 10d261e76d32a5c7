import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import type { GatewayError } from "../errors.ts";
import { readEvents, wellFormed } from "./openai-observer.ts";
import type { StreamSeen } from "./provider.ts";
import { concatAll } from "./sse-frames.ts";

const LF = 10;
const CR = 13;

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
    let start = 0;
    while (start < run.length) {
      const end = nextEventEnd(run, start);
      const event = run.subarray(start, end === -1 ? run.length : end);
      const [data] = readEvents(event);
      if (data !== undefined && this.commitsOn(data, seen)) return this.commit(run.subarray(start), seen);
      if (data === undefined || wellFormed(data)) this.hold(event, data !== undefined);
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
    if (chunk.error !== undefined) throw this.failedEarly(data);
    return bearsContent(chunk);
  }

  private hold(event: Uint8Array, isData: boolean): void {
    this.heldBytes += event.length;
    if (this.heldBytes > this.maxHeldBytes) throw this.tooLarge("comments and events before its first content", this.maxHeldBytes);
    this.held.push(event);
    if (isData) this.heldEvents++;
  }

  private commit(rest: Uint8Array, seen: StreamSeen): Committed {
    seen.events += this.heldEvents;
    const held = this.held.length === 0 ? undefined : concatAll(this.held.slice(0, -1), this.held[this.held.length - 1]!);
    this.held = [];
    return { held, rest };
  }
}
