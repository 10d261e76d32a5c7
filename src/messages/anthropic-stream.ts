import type { OpenStream } from "../gateway/gateway.ts";
import { translatedStream } from "../gateway/translated-stream.ts";
import { EventTranslator } from "./event-translator.ts";

/**
 * A committed stream as Anthropic events: as it is when its provider answered natively (the
 * upstream's own bytes), else its OpenAI chunks translated as they are pulled.
 */
export function anthropicStream(open: OpenStream): OpenStream {
  if (open.format === "anthropic") return open;
  return translatedStream(open, new EventTranslator(open.served.model, open.usage !== undefined));
}
