import type { OpenStream } from "../gateway/gateway.ts";
import type { Served } from "../gateway/run.ts";
import type { ConnectionTimeouts } from "./connection.ts";
import { SSE_HEADERS, type OnEnd, type Pacing } from "./sse.ts";

type Headers = Record<string, unknown>;

/**
 * Says who served a response: the provider, the upstream model and how many attempts it took (and
 * what `drop_params` dropped), and what the response cache did (`x-chatgate-cache`; a hit names
 * who produced the stored answer, with 0 attempts). On every answer — JSON, stream or error — once
 * the gateway has taken the request.
 */
export function servedHeaders(headers: Headers, served: Served | undefined, dropped?: readonly string[]): void {
  if (served === undefined) return;
  if (served.provider !== "") {
    headers["x-chatgate-provider"] = served.provider;
    headers["x-chatgate-model"] = headerValue(served.model);
  }
  headers["x-chatgate-attempts"] = String(served.attempts);
  if (served.cache !== undefined) headers["x-chatgate-cache"] = served.cache;
  if (dropped !== undefined && dropped.length > 0) headers["x-chatgate-dropped-params"] = dropped.join(", ");
}

/** What Bun's `Headers` takes as a value: Latin-1 without NUL, CR or LF (anything else throws). */
const HEADER_SAFE = /^[^\0\r\n\u0100-\uffff]*$/;

/**
 * The longest upstream model name sent whole in a header. A client may name a model as long as the
 * body limit, and a provider that takes any name echoes it: a 20 KB header is past what Node's
 * HTTP client reads (16 KB), so the official SDK saw a connection error instead of the answer.
 */
const HEADER_TEXT_MAX = 256;

/**
 * The upstream model is the client's own text when a provider takes any name (the mock,
 * `provider/<any model>`): a newline or a character beyond Latin-1 in it made `Headers` throw, so
 * the answer became a 500 without `x-request-id`, logged twice (ok, then error) with a stack trace.
 * Such a name goes out percent-encoded, and a longer one cut to its head; a normal name is one
 * regex test and goes out as it is.
 */
function headerValue(text: string): string {
  const head = text.length > HEADER_TEXT_MAX ? text.slice(0, HEADER_TEXT_MAX) : text;
  return HEADER_SAFE.test(head) ? head : encodeURIComponent(head);
}

/**
 * How chat answers go out: while a request waits on its provider Bun's idle timeout is lifted (the
 * gateway's own timeouts bound the wait), and a committed stream is paced (heartbeats, stalled
 * clients ended) — see ConnectionTimeouts and StreamBody.
 */
export class Answering {
  constructor(
    private readonly connection: ConnectionTimeouts,
    private readonly heartbeatMs: number,
    private readonly stallMs: number,
  ) {}

  /** Runs a non-streamed answer with the connection held open for it. */
  async json<T>(request: Request, run: () => Promise<T>): Promise<T> {
    this.connection.hold(request);
    try {
      return await run();
    } finally {
      this.connection.release(request);
    }
  }

  /**
   * Opens a stream and answers it as Server-Sent Events: `body` shapes the committed stream into
   * the response body, and its end writes the request's finish record (the gateway counts it in
   * flight until then). The SSE headers are set only once the stream has committed, so an error
   * before it keeps its JSON type.
   */
  async stream<T>(
    set: { headers: Headers },
    request: Request,
    open: () => Promise<OpenStream>,
    body: (open: OpenStream, onEnd: OnEnd, pacing: Pacing) => T,
  ): Promise<T> {
    this.connection.hold(request);
    let opened: OpenStream;
    try {
      opened = await open();
    } catch (err) {
      this.connection.release(request);
      throw err;
    }
    Object.assign(set.headers, SSE_HEADERS);
    servedHeaders(set.headers, opened.served, opened.dropped);
    const onEnd: OnEnd = (outcome, error) => {
      this.connection.release(request);
      opened.end(outcome, error);
    };
    const pacing: Pacing = { heartbeatMs: this.heartbeatMs, stallMs: this.stallMs, onStall: () => this.connection.closeSoon(request) };
    return body(opened, onEnd, pacing);
  }
}
