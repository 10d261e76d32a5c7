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
