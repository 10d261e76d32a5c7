import type { GatewayError } from "../errors.ts";
import { CommitGate } from "./openai-commit.ts";
import { marksFor, observeRun, type ObserveOptions } from "./openai-observer.ts";
import type { StreamSeen } from "./provider.ts";
import { DONE_EVENT, encodeEvents } from "../sse-encode.ts";
import { EventFramer, MAX_EVENT_BYTES, completeEventsEnd, concatAll, find, firstEventEnd } from "./sse-frames.ts";
import { nullUsageMarks, withoutNullUsage } from "../usage/unasked-usage.ts";

/** Restarts on every whole event: bounds the wait for the first event and the gaps between events. */
export interface IdleWatch {
  touch(): void;
  /** The reader waits on its client until `resume()`: that time is not the upstream's. */
  suspend(): void;
  resume(): void;
  clear(): void;
}

/** Most bytes handed to the client in one piece (CHATGATE_STREAM_BUFFER_BYTES). */
export const MAX_RUN_BYTES = 1024 * 1024;

/** What is held back before the first content (comments, the role chunk) may add up to this much. */
export const MAX_PREAMBLE_BYTES = 1024 * 1024;

/**
 * Passes an OpenAI-compatible SSE body through as the bytes that came in, whole events only:
 * an incomplete tail is held back until its end arrives, so a cut upstream never leaves half an
 * event on the wire before the gateway's error event. Nothing goes out before the first
 * content-bearing event (see CommitGate); after it an observer reads what the gateway must know on
 * the side. Ends after `[DONE]`, an error event, or a clean end after every choice's finish reason
 * (then chatgate sends `[DONE]` itself); any other ending throws.
 */
export interface PassThroughOptions {
  idle: IdleWatch;
  /** Turns a failed read into the error the client gets. */
  classify: (err: unknown) => GatewayError;
  /** The error for a stream that ended without `[DONE]`. */
  cut: (detail: string) => GatewayError;
  /** The error for an upstream that sends more than a cap allows (`what`, `limit` in bytes). */
  tooLarge: (what: string, limit: number) => GatewayError;
  /**
   * Strips our provider key from every string of an upstream error event (parsed, redacted and
   * serialised again, so an escaped key is caught too) before it is passed on.
   */
  redact?: (text: string) => string;
  /**
   * Our provider key's bytes: a run holding them anywhere (an error event of another shape, a
   * comment) goes out through `redact`, found by one native search a run.
   */
  secret?: Uint8Array;
  /** Most bytes handed to the client in one piece; larger runs go in pieces of whole events. Default MAX_RUN_BYTES. */
  maxRunBytes?: number;
  /** Largest event held while its end has not arrived. Default MAX_EVENT_BYTES. */
  maxEventBytes?: number;
  /** Most held back before the first content-bearing event. Default MAX_PREAMBLE_BYTES. */
  maxPreambleBytes?: number;
  /**
   * The client did not ask for usage (`stream_options.include_usage`; chatgate asked for it):
   * the usage-only chunk, the `"usage":null` every chunk then carries and a `usage` member on a
   * chunk with choices are taken out, since OpenAI sends none of them to such a client. Usage is
   * still recorded.
   */
  dropUsageChunks?: boolean;
  /** The error for an upstream error event that came before any content (a failure before commit). */
  failedEarly: (data: string) => GatewayError;
  /** Choices asked for (`n`): a stream that ends cleanly after this many finish reasons is complete. */
  choices: number;
  /** Told once, when the stream ends, how many events were dropped as not JSON objects. */
  onDropped?: (count: number) => void;
  /**
   * Set when the stream may be resumed: an error event after the first content is thrown as this
   * error instead of passed on, so the client never sees it when the answer is continued.
   */
  failedMidStream?: (data: string) => GatewayError;
  /** An in-band error passed on after commit, classified for the request's record (StreamSeen.failure). */
  failedInBand?: (data: string) => GatewayError;
}

const keep = (text: string) => text;
const utf8 = new TextDecoder();

export async function* passThroughEvents(
  body: ReadableStream<Uint8Array>,
  seen: StreamSeen,
  options: PassThroughOptions,
): AsyncGenerator<Uint8Array, void, undefined> {
  const { idle, classify, cut, tooLarge } = options;
  const observing: ObserveOptions = { redact: options.redact ?? keep, dropUsageChunks: options.dropUsageChunks ?? false, holdErrors: options.failedMidStream !== undefined };
  const framer = new EventFramer(options.maxEventBytes ?? MAX_EVENT_BYTES, tooLarge);
  const maxRun = options.maxRunBytes ?? MAX_RUN_BYTES;
  // Which forms of `"usage":null` to cut (set from the first run); undefined: the client asked for usage.
  let nullUsage: readonly Uint8Array[] | undefined | false = options.dropUsageChunks ? false : undefined;
  let gate: CommitGate | undefined = new CommitGate(options.maxPreambleBytes ?? MAX_PREAMBLE_BYTES, tooLarge, options.failedEarly);
  const reader = body.getReader();
  try {
    for (;;) {
      let result: Awaited<ReturnType<typeof reader.read>>;
      try {
        result = await reader.read();
      } catch (err) {
        // After the first event, a failed read is a stream cut short, not a failed connection.
        const error = classify(err);
        throw gate === undefined && error.code === "upstream_connection_error" ? cut(`the connection broke after ${seen.events} events`) : error;
      }
      if (result.done) break;
      for (let whole = framer.push(result.value); whole !== undefined; whole = framer.more()) {
        // The idle timer runs between whole events, not bytes: an upstream that trickles an event
        // that never ends times out. Comment-only events (keep-alives) restart it too: a provider
        // that sends them while a model thinks is alive, and the wait is what they are for. One
        // that sends nothing else is bounded before commit by the gate's cap, and after commit
        // its comments pass straight through to a client that is free to leave.
        idle.touch();
        const run = nullUsage === undefined ? whole : withoutNullUsage(whole, (nullUsage ||= nullUsageMarks(whole)));
        let out: Uint8Array | undefined;
        if (gate !== undefined) {
          const committed = gate.push(run, seen);
          if (committed === undefined) continue;
          gate = undefined;
          observing.marks = marksFor(run);
          const sent = observeRun(committed.rest, seen, observing);
          out = committed.held === undefined ? sent : sent === undefined ? committed.held : concatAll([committed.held], sent);
        } else {
          out = observeRun(run, seen, observing);
        }
        if (out !== undefined) {
          if (options.secret !== undefined && find(out, options.secret) !== -1) out = encodeEvents(observing.redact(utf8.decode(out)));
          seen.delivered.add(out);
          idle.suspend();
          // A run larger than the per-stream buffer goes out in pieces of whole events, each pulled
          // by the client in turn, so no more than that waits on a slow client at once.
          while (out.length > maxRun) {
            const end = completeEventsEnd(out.subarray(0, maxRun)) || firstEventEnd(out);
            if (end === 0 || end === out.length) break;
            yield out.subarray(0, end);
            out = out.subarray(end);
          }
          yield out;
          idle.resume();
        }
        if (observing.heldError !== undefined) throw options.failedMidStream!(observing.heldError);
        if (seen.errorEvent) seen.failure = options.failedInBand?.(seen.errorData ?? "");
        if (seen.done || seen.errorEvent) return;
      }
    }
    if (framer.midEvent) throw cut(`the stream was cut in the middle of an event after ${seen.events} events`);
    // Some providers never send [DONE]: a clean end after every choice's finish reason is complete.
    if (gate === undefined && seen.finished >= options.choices) {
      seen.done = true;
      yield DONE_EVENT;
      return;
    }
    throw cut(`the stream ended after ${seen.events} events, before ${seen.finished > 0 ? "every choice's finish_reason" : "its finish_reason"}`);
  } finally {
    idle.clear();
    if (seen.dropped > 0) options.onDropped?.(seen.dropped);
    // Whether we stop early (client gone, error, [DONE] seen) or not, release the upstream now.
    reader.cancel().catch(() => {});
  }
}
