import type { OpenStream } from "../gateway/gateway.ts";
import type { Stats } from "../obs/stats.ts";
import { SSE_HEADERS } from "./sse.ts";

/**
 * Opens a stream and answers it as Server-Sent Events: `body` shapes the committed stream into the
 * response body. The stream counts as in flight from the moment it is asked for until its body
 * ends (`onEnd`), which is what /status shows and what a graceful shutdown waits for. The SSE
 * headers are set only once the stream has committed, so an error before it keeps its JSON type.
 */
export async function streamAnswer<T>(
  stats: Stats,
  set: { headers: Record<string, unknown> },
  open: () => Promise<OpenStream>,
  body: (open: OpenStream, onEnd: () => void) => T,
): Promise<T> {
  stats.streams++;
  stats.beginStream();
  let opened: OpenStream;
  try {
    opened = await open();
  } catch (err) {
    stats.endStream();
    throw err;
  }
  Object.assign(set.headers, SSE_HEADERS);
  return body(opened, () => stats.endStream());
}

/** Counts a non-streamed completion in flight while `run` is pending. */
export async function trackJson<T>(stats: Stats, run: () => Promise<T>): Promise<T> {
  stats.completions++;
  stats.beginJson();
  try {
    return await run();
  } finally {
    stats.endJson();
  }
}
