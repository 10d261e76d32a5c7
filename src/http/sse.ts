import { errorBody, toGatewayError } from "../errors.ts";
import type { OpenStream } from "../gateway/gateway.ts";

const encoder = new TextEncoder();
export const DONE_EVENT = encoder.encode("data: [DONE]\n\n");

export const sseEvent = (data: string): Uint8Array => encoder.encode(`data: ${data}\n\n`);

export const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" } as const;

/**
 * The response body of a committed stream, pulled lazily by Elysia (a slow client slows the
 * upstream read). After the first event nothing is retried: a failure becomes one
 * `data: {"error": …}` event and the stream ends without `[DONE]`, so a truncated answer is
 * never taken for a complete one. `onEnd` runs however the stream ends.
 */
export async function* streamBody(open: OpenStream, onEnd: () => void): AsyncGenerator<Uint8Array, void, undefined> {
  try {
    yield open.first;
    for (;;) {
      const next = await open.rest.next();
      if (next.done) return;
      yield next.value;
    }
  } catch (err) {
    const error = toGatewayError(err);
    if (error.code !== "client_closed_request") yield sseEvent(JSON.stringify(errorBody(error)));
  } finally {
    // The client may have gone while we were parked at a yield: close the provider's iterator so
    // it releases the upstream connection now. Not awaited: a pending read settles on its own.
    void open.rest.return?.();
    onEnd();
  }
}
