import type { OpenStream } from "../gateway/gateway.ts";
import { EventTranslator } from "./event-translator.ts";

const END: IteratorReturnResult<void> = { done: true, value: undefined };

/**
 * A committed stream as Anthropic events: as it is when its provider answered natively (the
 * upstream's own bytes), else its OpenAI chunks translated as they are pulled. A pull whose chunks
 * make no event (the role chunk, a usage chunk) pulls again, so every value is whole events.
 */
export function anthropicStream(open: OpenStream): OpenStream {
  if (open.format === "anthropic") return open;
  const usage = open.usage;
  const translator = new EventTranslator(open.served.model, usage !== undefined);
  const first = translator.push(open.first) ?? new Uint8Array(0);
  const inner = open.rest;
  const rest: AsyncIterator<Uint8Array, void, undefined> = {
    async next() {
      // The upstream's `[DONE]` came without usage: the last events carry the estimate.
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
