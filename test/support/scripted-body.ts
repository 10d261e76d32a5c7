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

/** One call a fake upstream received, as a test reads it back. */
export interface RecordedCall {
  method: string;
  path: string;
  headers: Record<string, string>;
  rawBody: string;
  body: unknown;
  /** Client went away before the fake finished answering. Never rejects; stays pending otherwise. */
  aborted: Promise<void>;
  /** The fake wrote its whole answer normally (never for cut, reset, stall or hang scripts). */
  finished: Promise<void>;
}

/** Reads and records a call, and the exchange its scripted answer settles. */
export async function recordCall(request: Request, path: string): Promise<{ call: RecordedCall; ex: Exchange }> {
  const aborted = Promise.withResolvers<void>();
  const finished = Promise.withResolvers<void>();
  let settled = false;
  const ex: Exchange = {
    signal: request.signal,
    settle(how) {
      if (settled) return;
      settled = true;
      if (how === "finished") finished.resolve();
    },
  };
  // Registered before the body is read so a client that gives up mid-upload still counts.
  request.signal.addEventListener("abort", () => settled || aborted.resolve(), { once: true });
  const rawBody = await request.text().catch(() => "");
  let body: unknown;
  try {
    body = JSON.parse(rawBody);
  } catch {
    body = undefined;
  }
  const headers = Object.fromEntries(request.headers);
  return { call: { method: request.method, path, headers, rawBody, body, aborted: aborted.promise, finished: finished.promise }, ex };
}
