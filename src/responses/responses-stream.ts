import type { OpenStream } from "../gateway/gateway.ts";
import { translatedStream } from "../gateway/translated-stream.ts";
import { OPENAI_WIRE, StreamBody, type OnEnd, type Pacing, type SseWire } from "../http/sse.ts";
import { ResponsesTranslator } from "./event-translator.ts";
import type { ResponseOutputItem } from "openai/resources/responses/responses";
import type { ResponseItems } from "./item-store.ts";
import type { ResponsesRequest } from "./schema.ts";

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
    return new StreamBody(translatedStream(open, translator), onEnd, pacing, wire);
  };
}
