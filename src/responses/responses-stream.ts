import type { OpenStream } from "../gateway/gateway.ts";
import { OPENAI_WIRE, StreamBody, type OnEnd, type Pacing, type SseWire } from "../http/sse.ts";
import { ResponsesTranslator } from "./event-translator.ts";
import type { ResponseOutputItem } from "openai/resources/responses/responses";
import type { ResponseItems } from "./item-store.ts";
import type { ResponsesRequest } from "./schema.ts";

const END: IteratorReturnResult<void> = { done: true, value: undefined };

/**
 * A committed stream as Responses API events: its OpenAI chunks translated as they are pulled. A
 * pull whose chunks make no event (a usage chunk) pulls again, so every value is whole events.
 */
function translated(open: OpenStream, translator: ResponsesTranslator): OpenStream {
  const usage = open.usage;
  const first = translator.push(open.first) ?? new Uint8Array(0);
  const inner = open.rest;
  const rest: AsyncIterator<Uint8Array, void, undefined> = {
    async next() {
      // The upstream's `[DONE]` came without usage: the last event carries the estimate.
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
  // Whole in its first read but for the estimate: `rest` still has the last event to give.
  return { ...open, first, rest, complete: open.complete && !translator.awaitingUsage };
}

/**
 * The response body of a `/v1/responses` stream. Its error event is the translator's, so its
 * `sequence_number` follows the events before it, and it is followed by response.failed. The
 * heartbeat is OpenAI's comment, which every SSE client skips.
 */
export function responsesBody(body: ResponsesRequest, items: ResponseItems) {
  const keep = body.store === false ? undefined : (output: readonly ResponseOutputItem[]) => items.keep(output);
  return (open: OpenStream, onEnd: OnEnd, pacing: Pacing): StreamBody => {
    const translator = new ResponsesTranslator(body, open.served.model, Date.now, keep, open.usage !== undefined);
    const wire: SseWire = {
      heartbeat: OPENAI_WIRE.heartbeat,
      error: (err) => translator.failure({ message: err.message, type: err.type, code: err.code ?? null }),
    };
    return new StreamBody(translated(open, translator), onEnd, pacing, wire);
  };
}
