import { createParser, type EventSourceMessage, type EventSourceParser } from "eventsource-parser";
import type { GatewayError } from "../../errors.ts";
import { encodeEvents } from "../../sse-encode.ts";
import { StreamSeen, type EventStream } from "../provider.ts";
import { EventFramer, MAX_EVENT_BYTES, concatAll, find } from "../sse-frames.ts";
import { upstreamTooLarge, type Redact } from "../upstream-error.ts";
import { toUsage } from "./response.ts";
import { readFailure, truncated } from "./stream-failure.ts";
import type { CallTimer } from "./timer.ts";
import type { MessageDeltaUsage, Usage } from "./wire.ts";

/** What is held back before the first content (message_start, ping, a block's start) may add up to this much. */
const MAX_PREAMBLE_BYTES = 1024 * 1024;

export interface NativeStreamOptions {
  provider: string;
  /** The call's timer: touched per run of whole events; its signal is the fetch's. */
  timer: CallTimer;
  /** The client's signal: a read that fails after it aborted is the client's leaving. */
  client: AbortSignal;
  redact: Redact;
  /** Anthropic's in-stream error, as the one error type. */
  onError: (error: { type?: string; message?: string }) => GatewayError;
  /** Told once, when the stream ends, how many events were passed on whose data was not a JSON object. */
  onMalformed?: (count: number) => void;
}

/**
 * Anthropic's own stream, passed on as the bytes that came in (whole events only) to a client that
 * asked in Anthropic's format. A parser reads a copy on the side for what the gateway must know, and
 * parses the data of three events only: message_start and message_delta (usage) and error; after
 * the first content, runs of deltas are not even decoded (see passNative). Nothing goes out before the first content (a delta, a block's end, the
 * message's end), so a preamble followed by an error (overloaded) can still be retried or fall back.
 */
export class NativeEventStream implements EventStream {
  readonly seen = new StreamSeen();
  readonly format = "anthropic" as const;
  /** Nothing of a native request is dropped: it goes as the client sent it. */
  readonly dropped: readonly string[] = [];
  private iterated = false;
  private watcher: NativeWatcher | undefined;

  constructor(private readonly body: ReadableStream<Uint8Array>, private readonly options: NativeStreamOptions) {}

  /**
   * Events whose data was not a JSON object (passed on as they came). The data of message_start,
   * message_delta and error is parsed; any other event's is only checked to open with `{` and
   * close with `}`, as deltas are passed on without being parsed.
   */
  get malformedEvents(): number {
    return this.watcher?.malformed ?? 0;
  }

  [Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    if (this.iterated) throw new Error("An upstream stream can be read once.");
    this.iterated = true;
    this.watcher = new NativeWatcher(this.seen, this.options.onError);
    return passNative(this.body, this.seen, this.watcher, this.options);
  }
}

/** Reads the side copy: the events' names, and the data of the few events that carry what we keep. */
class NativeWatcher {
  committed = false;
  failure: GatewayError | undefined;
  malformed = 0;
  private start: Usage | undefined;
  private readonly parser: EventSourceParser;

  constructor(private readonly seen: StreamSeen, private readonly onError: NativeStreamOptions["onError"]) {
    this.parser = createParser({ onEvent: this.onEvent });
  }

  feed(text: string): void {
    this.parser.feed(text);
  }

  /**
   * A run passed on without being decoded: its events counted, one a data line as Anthropic sends
   * them, and those whose data is not shaped as a JSON object (an unparsed delta's only check).
   */
  passUndecoded(run: Uint8Array): void {
    for (let at = find(run, DATA); at !== -1; at = find(run, DATA, at + 5)) {
      this.seen.events++;
      let from = at + 5;
      if (run[from] === SPACE) from++;
      // A native search for the line's end: the bytes between are not read.
      let end = run.indexOf(LF, from);
      if (end === -1) end = run.length;
      if (run[end - 1] === CR) end--;
      if (run[from] !== OPEN || run[end - 1] !== CLOSE) this.malformed++;
    }
  }

  private parsed<T>(data: string): T | undefined {
    try {
      const value: unknown = JSON.parse(data);
      if (value !== null && typeof value === "object" && !Array.isArray(value)) return value as T;
    } catch {
      // counted below
    }
    this.malformed++;
    return undefined;
  }

  /** An event whose data is passed on unparsed: counted when it cannot be a JSON object. */
  private shaped(data: string): void {
    if (data.charCodeAt(0) !== OPEN || data.charCodeAt(data.length - 1) !== CLOSE) this.malformed++;
  }

  private readonly onEvent = (event: EventSourceMessage): void => {
    const seen = this.seen;
    seen.events++;
    switch (event.event) {
      case "ping":
      case "content_block_start":
        return this.shaped(event.data);
      case "message_start": {
        this.start = this.parsed<{ message?: { usage?: Usage } }>(event.data)?.message?.usage;
        if (this.start !== undefined) seen.usage = toUsage(this.start);
        seen.completionUnknown = true;
        return;
      }
      case "message_delta": {
        const usage = this.parsed<{ usage?: MessageDeltaUsage }>(event.data)?.usage;
        if (usage !== undefined) seen.usage = toUsage({ ...this.start, ...withoutNulls(usage) } as Usage);
        seen.completionUnknown = false;
        this.committed = true;
        return;
      }
      case "message_stop":
        seen.done = true;
        this.committed = true;
        return this.shaped(event.data);
      case "error": {
        const body = this.parsed<{ error?: { type?: string; message?: string } }>(event.data);
        this.failure = this.onError(body?.error ?? {});
        return;
      }
      default:
        this.committed = true;
        this.shaped(event.data);
    }
  };
}

/** message_delta's counts are cumulative; its null fields say nothing. */
function withoutNulls(usage: MessageDeltaUsage): Partial<Usage> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(usage)) if (value !== null && value !== undefined) out[key] = value;
  return out as Partial<Usage>;
}

const utf8 = new TextDecoder();
const MESSAGE_ = Buffer.from("message_");
const ERROR = Buffer.from("error");
const DATA = Buffer.from("data:");
const LF = 10;
const CR = 13;
const SPACE = 32;
const OPEN = 123; // {
const CLOSE = 125; // }

async function* passNative(body: ReadableStream<Uint8Array>, seen: StreamSeen, watcher: NativeWatcher, options: NativeStreamOptions): AsyncGenerator<Uint8Array, void, undefined> {
  const { provider, timer } = options;
  const tooLarge = (what: string, limit: number) => upstreamTooLarge(provider, what, limit);
  const framer = new EventFramer(MAX_EVENT_BYTES, tooLarge);
  let held: Uint8Array[] = [];
  let heldBytes = 0;
  const reader = body.getReader();
  try {
    for (;;) {
      let read: Awaited<ReturnType<typeof reader.read>>;
      try {
        read = await reader.read();
      } catch (err) {
        throw readFailure(err, seen.events, options);
      }
      if (read.done) break;
      for (let whole = framer.push(read.value); whole !== undefined; whole = framer.more()) {
        timer.touch();
        // After the first content only message_delta, message_stop and error matter: a run that
        // cannot hold one (no such bytes anywhere in it) is counted, not decoded or parsed.
        if (watcher.committed && find(whole, MESSAGE_) === -1 && find(whole, ERROR) === -1) {
          watcher.passUndecoded(whole);
          seen.delivered.add(whole);
          // The client's wait is not the upstream's (CallTimer.suspend).
          timer.suspend();
          yield whole;
          timer.resume();
          continue;
        }
        // A run holds whole events only, so it never splits a UTF-8 sequence.
        const text = utf8.decode(whole);
        watcher.feed(text);
        if (watcher.failure !== undefined && !watcher.committed) throw watcher.failure;
        if (!watcher.committed) {
          held.push(whole);
          if ((heldBytes += whole.length) > MAX_PREAMBLE_BYTES) throw tooLarge("a stream's preamble", MAX_PREAMBLE_BYTES);
          continue;
        }
        let out = held.length === 0 ? whole : concatAll(held, whole);
        held = [];
        if (watcher.failure !== undefined) {
          // Anthropic's own error event goes to the client as Anthropic sent it, bar our key.
          seen.errorEvent = true;
          seen.failure = watcher.failure;
          if (options.redact(text) !== text) out = encodeEvents(options.redact(utf8.decode(out)));
        }
        // Kept by reference for an estimate, should the stream end before message_delta's counts.
        seen.delivered.add(out);
        timer.suspend();
        yield out;
        timer.resume();
        if (seen.done || seen.errorEvent) return;
      }
    }
    throw truncated(provider, `ended${framer.midEvent ? " in the middle of an event" : ""} after ${seen.events} events without message_stop`);
  } finally {
    timer.clear();
    if (watcher.malformed > 0) options.onMalformed?.(watcher.malformed);
    // However the stream stops (done, client gone, error), release the upstream now.
    reader.cancel().catch(() => {});
  }
}

