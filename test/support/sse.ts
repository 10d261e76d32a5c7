// Reading a whole SSE response the way a client does: the bytes as received, and each event's
// data parsed by eventsource-parser.
import { createParser } from "eventsource-parser";

export interface SseRead {
  status: number;
  contentType: string | null;
  /** The body exactly as received. */
  text: string;
  /** Each event's data, in order, `[DONE]` included. */
  data: string[];
}

export async function readSse(res: Response): Promise<SseRead> {
  const text = await res.text();
  const data: string[] = [];
  createParser({ onEvent: (event) => data.push(event.data) }).feed(text);
  return { status: res.status, contentType: res.headers.get("content-type"), text, data };
}

/**
 * Reads an SSE response to its end, resolving `first` when its first event arrives; a connection
 * that breaks ends the list with "(connection closed)".
 */
export function readEvents(res: Response): { first: Promise<void>; done: Promise<string[]> } {
  const first = Promise.withResolvers<void>();
  const events: string[] = [];
  const parser = createParser({ onEvent: ({ data }) => events.push(data) === 1 && first.resolve() });
  const decoder = new TextDecoder();
  const done = (async () => {
    try {
      for await (const chunk of res.body!) parser.feed(decoder.decode(chunk, { stream: true }));
    } catch {
      events.push("(connection closed)");
    }
    return events;
  })();
  return { first: first.promise, done };
}
