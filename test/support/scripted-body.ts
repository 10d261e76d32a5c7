// Scripted response bodies shared by the fake upstreams: slices written and flushed one by one,
// then a clean end, a cut, or a hang until the client goes away.

/** How a scripted body ends once its bytes are out: cleanly, by tearing the connection, or never. */
export type Ending = "close" | "cut" | "hang";
export interface Exchange {
  signal: AbortSignal;
  /** Marks the answer as over so Bun's own abort on a deliberate teardown is not reported as a client abort. */
  settle(how: "finished" | "torn"): void;
}

/** Resolves when the client goes away, with no timer, so a forgotten stall cannot keep the process alive. */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })));
}

/** Cut short by an abort, so scripted delays never outlive the call. */
export function wait(ms: number, signal: AbortSignal): Promise<void> {
  let timer: Timer | undefined;
  return Promise.race([new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))), untilAborted(signal)]).finally(() => clearTimeout(timer));
}

/**
 * A direct stream flushed after every slice, with at least a macrotask between slices: slices reach
 * the client as separate writes, and a cut cannot swallow bytes that were meant to precede it
 * (with a pull-based stream Bun occasionally reset before writing the already-queued events).
 */
export function scriptedBody(slices: Uint8Array[], gapMs: number, ending: Ending, ex: Exchange): ReadableStream<Uint8Array> {
  return new ReadableStream({
    type: "direct",
    async pull(controller) {
      for (const [index, slice] of slices.entries()) {
        if (index > 0) await wait(gapMs, ex.signal);
        if (ex.signal.aborted) return;
        controller.write(slice);
        await controller.flush(true);
      }
      if (ending === "hang") return untilAborted(ex.signal);
      if (ending === "cut") {
        ex.settle("torn");
        // A reset discards what the receiver has not read yet: give the last slice time to be read,
        // so a test sees exactly the events sent before the cut.
        await wait(25, ex.signal);
        // A failing body makes Bun reset the socket without the terminating zero-length chunk.
        // Rejecting with undefined (not an Error) keeps bun:test from reporting it as unhandled.
        throw undefined;
      }
      ex.settle("finished");
      controller.close();
    },
  });
}
