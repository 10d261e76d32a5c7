import type { OpenStream } from "../gateway/gateway.ts";
import type { Stats } from "../obs/stats.ts";

/**
 * Counts a stream in flight from the moment it is asked for until its body ends (`onEnd`), which
 * is what /status shows and what a graceful shutdown waits for.
 */
export async function trackStream<T>(stats: Stats, open: () => Promise<OpenStream>, body: (open: OpenStream, onEnd: () => void) => T): Promise<T> {
  stats.streams++;
  stats.beginStream();
  let opened: OpenStream;
  try {
    opened = await open();
  } catch (err) {
    stats.endStream();
    throw err;
  }
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
