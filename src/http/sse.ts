import { ClientClosedError, errorBody, toGatewayError, type GatewayError } from "../errors.ts";
import type { Outcome } from "../gateway/finish.ts";
import type { OpenStream } from "../gateway/gateway.ts";
import { sseJson } from "../sse-encode.ts";


export const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" } as const;

const END: IteratorReturnResult<undefined> = { done: true, value: undefined };

/** Told once how a stream's response ended (and with what error, when one ended it). */
export type OnEnd = (outcome: Outcome, error?: GatewayError) => void;

/** How a stream that ran to its end ended: complete with [DONE], or stopped by the upstream's error event. */
const endedAs = (open: OpenStream): Outcome => (open.seen.done ? "ok" : "truncated");

/**
 * The response body of a committed stream, pulled lazily by Elysia's generator streaming (a slow
 * client slows the upstream read): the provider's async generator of wire-ready events, with the
 * first event already in hand. After it nothing is retried: a failure becomes one
 * `data: {"error": …}` event and the stream ends without `[DONE]`, so a truncated answer is never
 * taken for a complete one. `onEnd` runs once, however the stream ends.
 *
 * An iterator object rather than a second async generator around the provider's: each generator
 * layer measured ~5 µs a stream on this stack.
 */
export class StreamBody implements AsyncIterableIterator<Uint8Array> {
  private first: Uint8Array | undefined;
  private ended = false;

  constructor(
    private readonly open: OpenStream,
    private readonly onEnd: OnEnd,
  ) {
    this.first = open.first;
  }

  next(): Promise<IteratorResult<Uint8Array, undefined>> {
    if (this.first !== undefined) {
      const value = this.first;
      this.first = undefined;
      return Promise.resolve({ done: false, value });
    }
    if (this.ended) return Promise.resolve(END);
    return this.open.rest.next().then(this.onNext, this.onFailure);
  }

  // Bound once per stream, not per chunk.
  private readonly onNext = (next: IteratorResult<Uint8Array, void>): IteratorResult<Uint8Array, undefined> =>
    next.done ? this.end(endedAs(this.open)) : next;

  private readonly onFailure = (err: unknown): IteratorResult<Uint8Array, undefined> => {
    const error = toGatewayError(err);
    // A client that went away gets nothing more; anyone else learns why the stream stopped.
    if (error instanceof ClientClosedError) return this.end("client_abort", error);
    this.end("truncated", error);
    return { done: false, value: sseJson(errorBody(error)) };
  };

  /** The client went away (Elysia cancels the body): release the upstream now. */
  return(): Promise<IteratorResult<Uint8Array, undefined>> {
    if (!this.ended) void this.open.rest.return?.();
    return Promise.resolve(this.end("client_abort"));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private end(outcome: Outcome, error?: GatewayError): IteratorReturnResult<undefined> {
    if (!this.ended) {
      this.ended = true;
      this.onEnd(outcome, error);
    }
    return END;
  }
}

export const streamBody = (open: OpenStream, onEnd: OnEnd): StreamBody => new StreamBody(open, onEnd);

/**
 * The body of `/v1/chat/completions` for a committed stream. When the upstream's whole stream came
 * with its first read (a fast or cached answer), there is nothing left to pull: its bytes go out at
 * once as one body, as a byte pipe would send them. Through the pull loop the same answer costs a
 * second write for the chunked terminator, which only comes on the next pull.
 */
export function sseResponseBody(open: OpenStream, onEnd: OnEnd): StreamBody | Uint8Array {
  if (!open.complete) return new StreamBody(open, onEnd);
  // Lets the provider's stream run its cleanup (timer, upstream body) now.
  void open.rest.return?.();
  onEnd(endedAs(open));
  return open.first;
}
