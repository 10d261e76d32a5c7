import { createParser } from "eventsource-parser";
import type { GatewayError } from "../../errors.ts";
import { StreamSeen, type EventStream } from "../provider.ts";
import { upstreamTooLarge } from "../upstream-error.ts";
import { StreamTranslator } from "./stream-translator.ts";
import { readFailure, truncated } from "./stream-failure.ts";
import type { CallTimer } from "./timer.ts";
import { encodeEvents } from "../../sse-encode.ts";

/** One event that has not ended (no blank line yet) may hold this much; more is an error. */
export const MAX_EVENT_BYTES = 1024 * 1024;

const LF = 10;
const CR = 13;
const STREAMING = { stream: true } as const;

export interface AnthropicStreamOptions {
  provider: string;
  /** The call's timer: touched per whole event; its signal is the fetch's. */
  timer: CallTimer;
  /** The client's signal: a read that fails after it aborted is the client's leaving. */
  client: AbortSignal;
  /** The client asked for `stream_options.include_usage`. */
  includeUsage: boolean;
  /** Parameters dropped under drop_params, for `x-chatgate-dropped-params`. */
  dropped: readonly string[];
  /** Anthropic's in-stream error, as the error the client gets. */
  onError: (error: { type?: string; message?: string }) => GatewayError;
  /** Told once, when the stream ends, how many events were dropped as not JSON objects. */
  onDropped?: (count: number) => void;
  maxEventBytes?: number;
}

/**
 * An accepted Anthropic stream as OpenAI SSE. Iterating yields wire-ready bytes, one yield per
 * upstream read that produced chunks; the first yield holds the first content-bearing chunk with
 * the role chunk before it, so a failure after Anthropic's preamble (message_start, ping) throws
 * before anything was yielded and the router can still retry or fall back. `[DONE]` goes out only
 * after `message_stop`; any other ending throws.
 */
export class AnthropicEventStream implements EventStream {
  readonly seen = new StreamSeen();
  readonly dropped: readonly string[];
  private readonly translator: StreamTranslator;
  private iterated = false;

  constructor(private readonly body: ReadableStream<Uint8Array>, private readonly options: AnthropicStreamOptions) {
    this.dropped = options.dropped;
    this.translator = new StreamTranslator(options.provider, options.includeUsage, options.onError);
  }

  /** Events whose data was not a JSON object: dropped, and the stream went on. */
  get malformedEvents(): number {
    return this.translator.malformed;
  }

  [Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    if (this.iterated) throw new Error("An upstream stream can be read once.");
    this.iterated = true;
    return translate(this.body, this.translator, this.seen, this.options);
  }
}

async function* translate(
  body: ReadableStream<Uint8Array>,
  t: StreamTranslator,
  seen: StreamSeen,
  options: AnthropicStreamOptions,
): AsyncGenerator<Uint8Array, void, undefined> {
  const { provider, timer } = options;
  const maxEvent = options.maxEventBytes ?? MAX_EVENT_BYTES;
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = createParser({ onEvent: (event) => t.event(event.data) });
  let pending = 0;
  try {
    for (;;) {
      let read: Awaited<ReturnType<typeof reader.read>>;
      try {
        read = await reader.read();
      } catch (err) {
        throw readFailure(err, t.events, options);
      }
      if (read.done) break;
      const before = t.events;
      parser.feed(decoder.decode(read.value, STREAMING));
      const ended = t.events > before;
      pending = pendingAfter(read.value, pending, ended);
      if (pending > maxEvent) {
        throw upstreamTooLarge(provider, "a stream event", maxEvent);
      }
      if (!ended) continue;
      timer.touch();
      if (t.usage !== undefined) {
        seen.usage = t.usage;
        // Until message_delta, only the prompt is counted: a cut before it has its answer estimated.
        seen.completionUnknown = !t.usageFinal;
      }
      if (t.finished) seen.done = true;
      if (t.committed && t.out !== "") {
        const out = encodeEvents(t.out);
        t.out = "";
        seen.delivered.add(out);
        timer.suspend();
        yield out;
        timer.resume();
      }
      if (t.failure !== undefined) {
        seen.errorEvent = t.errorEvent;
        throw t.failure;
      }
      if (t.finished) return;
    }
    const where = pending > 0 ? " in the middle of an event" : "";
    throw truncated(provider, `ended${where} after ${t.events} events without message_stop`);
  } finally {
    timer.clear();
    seen.dropped = t.malformed;
    if (seen.dropped > 0) options.onDropped?.(seen.dropped);
    // However the stream stops (done, client gone, error), release the upstream now.
    reader.cancel().catch(() => {});
  }
}

/**
 * Bytes of the event not yet ended after this read: what follows the read's last blank line, or,
 * with none in it, what was pending plus the whole read. `ended` says an event ended in the read
 * although no blank line lies wholly inside it (the `\n` | `\n` seam), so the count restarts.
 */
function pendingAfter(read: Uint8Array, pending: number, ended: boolean): number {
  for (let i = read.length - 1; i > 0; i--) {
    if (read[i] !== LF && read[i] !== CR) continue;
    const prev = read[i - 1];
    if (prev === read[i] || (prev === CR && i >= 2 && read[i - 2] === LF)) return read.length - i - 1;
  }
  return ended ? read.length : pending + read.length;
}
