import { ClientClosedError, GatewayError, clientClosed, errorBody, toGatewayError } from "../errors.ts";
import type { Outcome } from "../gateway/finish.ts";
import type { OpenStream } from "../gateway/gateway.ts";
import { encodeEvents, sseData, sseJson } from "../sse-encode.ts";
import { timerDelay } from "../timer-delay.ts";


export const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" } as const;

const END: IteratorReturnResult<undefined> = { done: true, value: undefined };

/** Told once how a stream's response ended (and with what error, when one ended it). */
export type OnEnd = (outcome: Outcome, error?: GatewayError) => void;

/** How a stream that ran to its end ended: complete with [DONE], or stopped by the upstream's error event. */
const endedAs = (open: OpenStream): Outcome => (open.seen.done ? "ok" : "truncated");

const HEARTBEAT: Uint8Array = encodeEvents(": keep-alive\n\n");

/** What a stream's own events look like, besides the upstream's: a heartbeat, and the error event that ends it. */
export interface SseWire {
  heartbeat: Uint8Array;
  error(err: GatewayError): Uint8Array;
}

/** OpenAI's: a comment, and `data: {"error": …}` (or the upstream's own error event, redacted). */
export const OPENAI_WIRE: SseWire = {
  heartbeat: HEARTBEAT,
  error: (err) => (err.event !== undefined ? sseData(err.event) : sseJson(errorBody(err))),
};

/** How a committed stream is paced towards its client. */
export interface Pacing {
  /** Upstream silence, while the client waits, before a `: keep-alive` comment goes out; 0: never. */
  heartbeatMs: number;
  /** How long a client may take nothing before its stream is ended (`client_stalled`). */
  stallMs: number;
  /** The client stopped reading: close its connection soon. */
  onStall: () => void;
  /** Most time a client still taking a large piece is allowed (default 5 min); a test sets it short. */
  longestTakeMs?: number;
}

/**
 * The response body of a committed stream, pulled by Elysia's generator streaming: Bun pulls the
 * next chunk only when the client has taken the last, and only then is the upstream read, so a
 * slow client slows the upstream read. The provider's async generator yields wire-ready events;
 * the first is already in hand. After it nothing is retried: a failure becomes one
 * `data: {"error": …}` event and the stream ends without `[DONE]`, so a truncated answer is never
 * taken for a complete one. `onEnd` runs once, however the stream ends.
 *
 * One timer per stream, refreshed when a chunk goes out, does two jobs: when the client waits on
 * a silent upstream it sends a heartbeat comment (so proxies in between keep the connection);
 * when the client has not pulled for `stallMs` the stream is ended as `client_stalled` and the
 * upstream let go. An iterator object rather than a second async generator: each generator layer
 * measured ~5 µs a stream on this stack.
 */
export class StreamBody implements AsyncIterableIterator<Uint8Array> {
  private first: Uint8Array | undefined;
  private ended = false;
  /** An upstream read is in progress (one at a time; a heartbeat may answer the pull waiting on it). */
  private reading = false;
  /** Resolves the pull waiting for the next chunk; undefined while the client is not pulling. */
  private waiter: ((result: IteratorResult<Uint8Array, undefined>) => void) | undefined;
  /** A chunk that arrived while the client was not pulling (a heartbeat answered its last pull). */
  private ready: IteratorResult<Uint8Array, undefined> | undefined;
  /** Chunks handed over: the pacing timer compares it between ticks instead of being reset per chunk. */
  private delivered = 0;
  private seenAtTick = 0;
  /** How long the client has waited on a silent upstream, and how long it has taken nothing. */
  private quietMs = 0;
  private idleMs = 0;
  /** Bytes of the last chunk handed over: a large one takes a slow client a while to take. */
  private lastBytes = 0;
  private readonly timer: Timer | undefined;
  private readonly periodMs: number;

  constructor(
    private readonly open: OpenStream,
    private readonly onEnd: OnEnd,
    private readonly pacing?: Pacing,
    private readonly wire: SseWire = OPENAI_WIRE,
  ) {
    this.first = open.first;
    // Ticks at half the shortest wait: a heartbeat goes out within one interval of silence, and a
    // stall is declared within half a stall time of it.
    const every = pacing === undefined ? 0 : pacing.heartbeatMs > 0 ? Math.min(pacing.heartbeatMs, pacing.stallMs) : pacing.stallMs;
    this.periodMs = timerDelay(Math.max(1, Math.floor(every / 2)));
    if (every > 0) this.timer = setInterval(this.tick, this.periodMs);
  }

  next(): Promise<IteratorResult<Uint8Array, undefined>> {
    if (this.first !== undefined) {
      const value = this.first;
      this.first = undefined;
      this.lastBytes = value.length;
      return Promise.resolve({ done: false, value });
    }
    if (this.ready !== undefined) {
      const ready = this.ready;
      this.ready = undefined;
      return Promise.resolve(ready);
    }
    if (this.ended) return Promise.resolve(END);
    if (this.timer === undefined) return this.open.rest.next().then(this.onNext, this.onFailure);
    if (!this.reading) {
      this.reading = true;
      this.open.rest.next().then(this.onRead, this.onReadFailure);
    }
    const { promise, resolve } = Promise.withResolvers<IteratorResult<Uint8Array, undefined>>();
    this.waiter = resolve;
    return promise;
  }

  // Bound once per stream, not per chunk.
  private readonly onNext = (next: IteratorResult<Uint8Array, void>): IteratorResult<Uint8Array, undefined> =>
    next.done ? this.end(endedAs(this.open), this.open.seen.failure) : next;

  private readonly onFailure = (err: unknown): IteratorResult<Uint8Array, undefined> => {
    const error = toGatewayError(err);
    // A client that went away gets nothing more; anyone else learns why the stream stopped.
    if (error instanceof ClientClosedError) return this.end("client_abort", error);
    this.end("truncated", error);
    return { done: false, value: this.wire.error(error) };
  };

  private readonly onRead = (next: IteratorResult<Uint8Array, void>): void => this.deliver(this.onNext(next));
  private readonly onReadFailure = (err: unknown): void => this.deliver(this.onFailure(err));

  /** The upstream read settled: hand it to the waiting pull, or keep it for the next. */
  private deliver(result: IteratorResult<Uint8Array, undefined>): void {
    this.reading = false;
    this.delivered++;
    if (result.done !== true) this.lastBytes = result.value.length;
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter !== undefined) waiter(result);
    else this.ready = result;
  }

  /** The pacing timer: a heartbeat for a client waiting on a silent upstream, or time a client took nothing. */
  private readonly tick = (): void => {
    if (this.ended) return;
    if (this.delivered !== this.seenAtTick) {
      this.seenAtTick = this.delivered;
      this.quietMs = 0;
      this.idleMs = 0;
      return;
    }
    const waiter = this.waiter;
    if (waiter === undefined) {
      // A client still taking a large chunk, slowly, is no stall: it gets a second per SLOWEST_TAKE bytes of it.
      if ((this.idleMs += this.periodMs) >= takeAllowanceMs(this.pacing!, this.lastBytes)) this.stall();
      return;
    }
    this.idleMs = 0;
    const heartbeatMs = this.pacing!.heartbeatMs;
    if (heartbeatMs > 0 && (this.quietMs += this.periodMs) >= heartbeatMs) {
      this.quietMs = 0;
      this.waiter = undefined;
      this.delivered++;
      this.seenAtTick = this.delivered;
      waiter({ done: false, value: this.wire.heartbeat });
    }
  };

  private stall(): void {
    console.warn(`chatgate: client_stalled: a stream's client took nothing for ${this.idleMs} ms; ended it and let its upstream go`);
    void this.open.rest.return?.();
    this.end("client_abort", clientStalled());
    this.pacing!.onStall();
  }

  /**
   * The client went away (Elysia cancels the body): release the upstream now. Its record says
   * `client_closed_request`, as a JSON request's abort and a stream whose upstream read saw the
   * abort first (/chat's) do: which of the two noticed must not change what the record says.
   */
  return(): Promise<IteratorResult<Uint8Array, undefined>> {
    if (this.ended) return Promise.resolve(END);
    void this.open.rest.return?.();
    return Promise.resolve(this.end("client_abort", clientClosed()));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private end(outcome: Outcome, error?: GatewayError): IteratorReturnResult<undefined> {
    if (!this.ended) {
      this.ended = true;
      if (this.timer !== undefined) clearInterval(this.timer);
      this.onEnd(outcome, error);
    }
    return END;
  }
}

/**
 * Bytes a second a client must take of a chunk to count as reading it. Bun pulls the next chunk only
 * once the last is taken, and a chunk may be as large as CHATGATE_STREAM_BUFFER_BYTES: a client
 * reading a 1 MiB one at 1 KB/s pulled nothing for minutes and was ended as stalled.
 */
const SLOWEST_TAKE = 512;
/** However large the chunk, a client that takes nothing for this long is let go with its upstream. */
const LONGEST_TAKE_MS = 5 * 60 * 1000;

/** How long a client that takes nothing may still be taking a piece of `bytes`: the stall time, or more for a large piece. */
export function takeAllowanceMs(pacing: Pacing, bytes: number): number {
  return Math.max(pacing.stallMs, Math.min((bytes * 1000) / SLOWEST_TAKE, pacing.longestTakeMs ?? LONGEST_TAKE_MS));
}

const clientStalled = () =>
  new GatewayError({ status: 408, type: "invalid_request_error", code: "client_stalled", message: "The client stopped reading the stream." });

export const streamBody = (open: OpenStream, onEnd: OnEnd, pacing?: Pacing): StreamBody => new StreamBody(open, onEnd, pacing);

/**
 * The body of `/v1/chat/completions` for a committed stream. When the upstream's whole stream came
 * with its first read (a fast or cached answer), there is nothing left to pull: its bytes go out at
 * once as one body, as a byte pipe would send them. Through the pull loop the same answer costs a
 * second write for the chunked terminator, which only comes on the next pull.
 */
export function sseResponseBody(open: OpenStream, onEnd: OnEnd, pacing?: Pacing): StreamBody | Uint8Array {
  if (!open.complete) return new StreamBody(open, onEnd, pacing);
  // Lets the provider's stream run its cleanup (timer, upstream body) now.
  void open.rest.return?.();
  onEnd(endedAs(open), open.seen.failure);
  return open.first;
}
