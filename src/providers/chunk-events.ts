import { createParser } from "eventsource-parser";

/** A `chat.completion.chunk` as read back: its choices, and whatever else it carries, unchecked. */
export type LooseChunk = Record<string, unknown> & { choices: Record<string, unknown>[] };

/**
 * Reads chunks a client was sent (whole SSE events) back, calling `visit` with each
 * `chat.completion.chunk` in order. `[DONE]`, and data that is not JSON with a `choices` list (an
 * error event, a comment's neighbour), are skipped: the callers want what the answer said.
 * `other`, when given, gets every other JSON object (an Anthropic event passed on natively).
 */
export function forEachChunk(chunks: readonly Uint8Array[], visit: (chunk: LooseChunk) => void, other?: (data: Record<string, unknown>) => void): void {
  const parser = createParser({
    onEvent: ({ data }) => {
      if (data === "[DONE]") return;
      let chunk: unknown;
      try {
        chunk = JSON.parse(data);
      } catch {
        return;
      }
      if (chunk === null || typeof chunk !== "object") return;
      if (Array.isArray((chunk as LooseChunk).choices)) visit(chunk as LooseChunk);
      else other?.(chunk as Record<string, unknown>);
    },
  });
  const decoder = new TextDecoder();
  for (const chunk of chunks) parser.feed(decoder.decode(chunk, { stream: true }));
}
