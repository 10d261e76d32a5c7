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
  /** The request URL's query, `?` included ("" when none). */
  query: string;
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
  const query = new URL(request.url).search;
  return { call: { method: request.method, path, query, headers, rawBody, body, aborted: aborted.promise, finished: finished.promise }, ex };
}

// A known answer, as both fakes give it: a fresh request gets all of it; a request that ends with
// the start of it as an assistant message (a prefill) gets the rest, the way real providers
// continue a partial answer. Usage is computable: prompt tokens are the words of the request's
// messages, completion tokens the pieces streamed.

/**
 * The answer in word-sized pieces, one per chunk: " word" (space before, OpenAI's habit) or, with
 * `spaceAfter`, "word " (Anthropic's), any leading whitespace staying on the first piece. Joined,
 * the pieces are the text exactly.
 */
export function answerPieces(text: string, spaceAfter = false): string[] {
  return (spaceAfter ? text.match(/^\s*\S+\s*|\S+\s*|\s+/g) : text.match(/\s*\S+|\s+$/g)) ?? [];
}

/** Words of a text: what the fakes count as tokens. */
export const wordCount = (text: string): number => text.split(/\s+/).filter(Boolean).length;

/** The text of a message's content: a string, or the text of its text parts/blocks (others ignored). */
export function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((part: { type?: unknown; text?: unknown }) => (part?.type === "text" && typeof part.text === "string" ? part.text : "")).join("");
}

/** What is left of `answer` after `prefill`, or undefined when `prefill` does not begin it. */
export function remainderOf(answer: string, prefill: string): string | undefined {
  return answer.startsWith(prefill) ? answer.slice(prefill.length) : undefined;
}

/** Where a known-answer stream breaks, after its first `n` pieces (counted from the fresh or continued answer). */
export interface AnswerBreaks {
  /** Send this many pieces, then half of the next event, then reset the connection. */
  cutAfterWords?: number;
  /** Send this many pieces, then nothing, holding the connection open. */
  stallAfterWords?: number;
  /** Send this many pieces, then a retryable error event (overloaded), then close. */
  errorAfterWords?: number;
  /** Send this many pieces, then close cleanly: no finish, no [DONE] / message_stop. */
  endAfterWords?: number;
}

/** The events up to the break: `head` events always go out (role chunk, message_start, …), then `n` pieces. */
export function breakEvents(events: string[], head: number, breaks: AnswerBreaks, errorEvent: string): { events: string[]; ending: Ending } {
  if (breaks.cutAfterWords !== undefined) {
    const at = head + breaks.cutAfterWords;
    const partial = events[at] ?? "";
    return { events: [...events.slice(0, at), partial.slice(0, Math.ceil(partial.length / 2))], ending: "cut" };
  }
  if (breaks.stallAfterWords !== undefined) return { events: events.slice(0, head + breaks.stallAfterWords), ending: "hang" };
  if (breaks.errorAfterWords !== undefined) return { events: [...events.slice(0, head + breaks.errorAfterWords), errorEvent], ending: "close" };
  if (breaks.endAfterWords !== undefined) return { events: events.slice(0, head + breaks.endAfterWords), ending: "close" };
  return { events, ending: "close" };
}
