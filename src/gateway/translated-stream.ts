import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import type { CompletionUsage } from "openai/resources/completions";
import type { OpenStream } from "./gateway.ts";

/** What turns a committed stream's OpenAI chunks into another API's events (Anthropic's Messages, OpenAI's Responses). */
export interface StreamTranslator {
  /** The events for a run of whole OpenAI events; undefined when it made none. */
  push(bytes: Uint8Array): Uint8Array | undefined;
  /** The stream is over (its last event or an error event was written). */
  readonly ended: boolean;
  /** `[DONE]` came with no usage: the last events wait for `finishWith` (the gateway's estimate). */
  readonly awaitingUsage: boolean;
  finishWith(usage: CompletionUsage | undefined): Uint8Array;
}

/**
 * The end both translators share: at `[DONE]` the last events (message_delta, response.completed)
 * go out at once when the upstream reported usage, else they wait for `finishWith` and the
 * gateway's estimate, so the client is never told 0. A translator says how to write its last
 * events (`writeEnd`) and hand over what it wrote (`drain`).
 */
export abstract class UsageHoldingTranslator implements StreamTranslator {
  ended = false;
  awaitingUsage = false;
  /** The upstream's usage, once a chunk carried it. */
  protected usage: CompletionUsage | undefined;

  /** `estimated`: whoever pushes can give the usage an upstream leaves out (`finishWith`). */
  constructor(private readonly estimated: boolean) {}

  abstract push(bytes: Uint8Array): Uint8Array | undefined;
  protected abstract writeEnd(): void;
  protected abstract drain(): Uint8Array;

  /** The answer is over: its last events now, or once the estimate comes when no usage came. */
  protected finishOrHold(): void {
    this.ended = true;
    if (this.usage === undefined && this.estimated) this.awaitingUsage = true;
    else this.writeEnd();
  }

  finishWith(usage: CompletionUsage | undefined): Uint8Array {
    this.awaitingUsage = false;
    this.usage = usage;
    this.writeEnd();
    return this.drain();
  }
}

/**
 * The choice of a chunk both translators follow, the first (`n` is 1 on their routes). A choice
 * without `index` is the first's: some OpenAI-compatible servers leave it out, and their chunks
 * were dropped whole.
 */
export function firstChoice(chunk: Partial<ChatCompletionChunk>): ChatCompletionChunk.Choice | undefined {
  return chunk.choices?.find((c) => (c.index ?? 0) === 0);
}

const END: IteratorReturnResult<void> = { done: true, value: undefined };

/**
 * A committed stream as `translator`'s events, translated as they are pulled. A pull whose chunks
 * make no event (the role chunk, a usage chunk) pulls again, so every value is whole events. An
 * upstream that reported no usage has the last events carry the estimate its record carries.
 */
export function translatedStream(open: OpenStream, translator: StreamTranslator): OpenStream {
  const usage = open.usage;
  const first = translator.push(open.first) ?? new Uint8Array(0);
  const inner = open.rest;
  const rest: AsyncIterator<Uint8Array, void, undefined> = {
    async next() {
      if (translator.awaitingUsage) return { done: false, value: translator.finishWith(await usage!()) };
      for (;;) {
        const read = await inner.next();
        if (read.done) return read;
        const out = translator.push(read.value);
        if (translator.awaitingUsage) {
          const tail = translator.finishWith(await usage!());
          return { done: false, value: out === undefined ? tail : Buffer.concat([out, tail]) };
        }
        if (out !== undefined) return { done: false, value: out };
        if (translator.ended) return END;
      }
    },
    return: async () => (await inner.return?.()) ?? END,
  };
  // Whole in its first read but for the estimate: `rest` still has the last events to give.
  return { ...open, first, rest, complete: open.complete && !translator.awaitingUsage };
}
