/**
 * The one encoder of Server-Sent Events chatgate writes itself: the mock's chunks, its own error
 * events, translated chunks and rebuilt upstream events. Pass-through events never come here:
 * they go out as the bytes the upstream sent.
 */
const encoder = new TextEncoder();

/** The last event of a complete OpenAI stream, as text and as bytes. */
export const DONE_TEXT = "data: [DONE]\n\n";
export const DONE_EVENT: Uint8Array = encoder.encode(DONE_TEXT);

/** A `data:` field's text as an event's text: a multi-line value becomes one `data:` line per line. */
export const dataEventText = (data: string): string => `data: ${data.includes("\n") ? data.replaceAll("\n", "\ndata: ") : data}\n\n`;

/** One event carrying `data`, as bytes. */
export const sseData = (data: string): Uint8Array => encoder.encode(dataEventText(data));

/** One event carrying `value` serialised as JSON, as bytes. */
export const sseJson = (value: unknown): Uint8Array => sseData(JSON.stringify(value));

/** Events built as text, as bytes. */
export const encodeEvents = (text: string): Uint8Array => encoder.encode(text);
