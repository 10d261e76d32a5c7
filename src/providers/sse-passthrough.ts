import type { GatewayError } from "../errors.ts";
import { observeRun } from "./openai-observer.ts";
import type { StreamSeen } from "./provider.ts";
import { EventFramer, MAX_EVENT_BYTES, concatAll, hasData } from "./sse-frames.ts";

/** Restarts on every whole event: bounds the wait for the first event and the gaps between events. */
export interface IdleWatch {
  touch(): void;
  clear(): void;
}

/** Comments before the first data event may add up to this much; more is an error. */
export const MAX_PREAMBLE_BYTES = 1024 * 1024;

/**
 * Passes an OpenAI-compatible SSE body through as the bytes that came in, whole events only:
 * an incomplete tail is held back until its end arrives, so a cut upstream never leaves half an
 * event on the wire before the gateway's error event. An observer reads what the gateway must know
 * on the side. Ends after `[DONE]` or an error event; any other ending throws.
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
  /** Largest event held while its end has not arrived. Default MAX_EVENT_BYTES. */
  maxEventBytes?: number;
  /** Largest run of comments held back before the first data event. Default MAX_PREAMBLE_BYTES. */
  maxPreambleBytes?: number;
  /**
   * The client did not ask for usage (`stream_options.include_usage`): a usage-only chunk the
   * upstream sends anyway is dropped, since OpenAI would not send it. Usage is still recorded.
   */
  dropUsageChunks?: boolean;
}

const keep = (text: string) => text;

export async function* passThroughEvents(
  body: ReadableStream<Uint8Array>,
  seen: StreamSeen,
  options: PassThroughOptions,
): AsyncGenerator<Uint8Array, void, undefined> {
  const { idle, classify, cut, tooLarge } = options;
  const observing = { redact: options.redact ?? keep, dropUsageChunks: options.dropUsageChunks ?? false };
  const maxPreamble = options.maxPreambleBytes ?? MAX_PREAMBLE_BYTES;
  const framer = new EventFramer(options.maxEventBytes ?? MAX_EVENT_BYTES, tooLarge);
  const reader = body.getReader();
  let preamble: Uint8Array[] | undefined = [];
  let preambleBytes = 0;
  try {
    for (;;) {
      let result: Awaited<ReturnType<typeof reader.read>>;
      try {
        result = await reader.read();
      } catch (err) {
        throw classify(err);
      }
      if (result.done) break;
      let out = framer.push(result.value);
      if (out === undefined) continue;
      // The idle timer runs between whole events, not bytes: an upstream that trickles an event
      // that never ends times out. Comment-only events (keep-alives) restart it too: a provider
      // that sends them while a model thinks is alive, and the wait is what they are for. One
      // that sends nothing else is bounded before commit by the preamble cap below, and after
      // commit its comments pass straight through to a client that is free to leave.
      idle.touch();
      if (preamble !== undefined) {
        // Until the first data event, comments (keep-alives some providers send while the model
        // starts) are held back with it, so the stream commits on a real event, not on a comment.
        // Pieces are joined once, when that event comes, never per read.
        if (!hasData(out)) {
          preambleBytes += out.length;
          if (preambleBytes > maxPreamble) throw tooLarge("comments before its first event", maxPreamble);
          preamble.push(out);
          continue;
        }
        if (preamble.length > 0) out = concatAll(preamble, out);
        preamble = undefined;
      }
      const sent = observeRun(out, seen, observing);
      if (sent !== undefined) yield sent;
      if (seen.done || seen.errorEvent) return;
    }
    if (framer.midEvent) throw cut("the stream was cut in the middle of an event");
    throw cut("the stream ended before [DONE]");
  } finally {
    idle.clear();
    // Whether we stop early (client gone, error, [DONE] seen) or not, release the upstream now.
    reader.cancel().catch(() => {});
  }
}
