import { createParser } from "eventsource-parser";
import type { StreamSeen } from "./provider.ts";
import { dataEventText, encodeEvents } from "./sse-encode.ts";
import { completeEventsEnd, concatAll, find } from "./sse-frames.ts";
import { redactJson } from "./upstream-error.ts";

/**
 * What the gateway must know of a passing OpenAI-compatible stream, read without turning every
 * chunk into an object: `[DONE]`, an in-band error, and the usage chunk (kept as text, parsed
 * only if asked for). Runs with none of these pass untouched.
 */
function observe(seen: StreamSeen, data: string): void {
  if (data === "[DONE]") {
    seen.done = true;
  } else if (ERROR_EVENT.test(data)) {
    seen.errorEvent = true;
  } else if (USAGE_OBJECT.test(data)) {
    seen.usageData = data;
  }
}

const MARKS = [Buffer.from("[DONE]"), Buffer.from('"error"'), Buffer.from('"usage":{'), Buffer.from('"usage": {')];
const USAGE_OBJECT = /"usage":\s*\{/;
const ERROR_EVENT = /^\s*\{\s*"error"\s*:/;

/**
 * Where, in a run of whole events, the first thing the gateway must see may be: `[DONE]`, an
 * error, or a usage object (not the `"usage":null` every chunk carries when usage was asked
 * for); -1 when there is none. A native byte search, so content chunks are never decoded or
 * parsed; what it finds goes to the parser, which decides what it really is.
 */
export function firstMark(run: Uint8Array): number {
  let first = -1;
  for (const mark of MARKS) {
    const at = find(run, mark);
    if (at !== -1 && (first === -1 || at < first)) first = at;
  }
  return first;
}

/**
 * One parser and decoder for every stream, built once: only whole events are fed, so a feed
 * always ends in the parser's clean state, and feeding is synchronous, so streams never
 * interleave inside it. `batch` holds the data of the events just read — kept to rebuild a run
 * that ends in an upstream error event, whose message may quote our provider key.
 */
const decoder = new TextDecoder();
const batch: string[] = [];
let target: StreamSeen | undefined;
const parser = createParser({
  onEvent: (event) => {
    batch.push(event.data);
    if (target !== undefined) observe(target, event.data);
  },
});

/** Parses a run of whole events for `seen`; returns the data of each event in it. */
function readEvents(run: Uint8Array, seen: StreamSeen): readonly string[] {
  batch.length = 0;
  target = seen;
  try {
    parser.feed(decoder.decode(run));
  } finally {
    target = undefined;
    parser.reset();
  }
  return batch;
}

/** An event's data as it goes out again: an error redacted field by field, lines kept as lines. */
function reframe(data: string, redact: (text: string) => string): string {
  return dataEventText(ERROR_EVENT.test(data) ? (redactJson(data, redact) ?? redact(data)) : redact(data));
}

/** Whether an event's data is a usage-only chunk (`choices: []` with usage). */
function isUsageOnly(data: string): boolean {
  if (!USAGE_OBJECT.test(data)) return false;
  try {
    const chunk = JSON.parse(data) as { choices?: unknown };
    return Array.isArray(chunk.choices) && chunk.choices.length === 0;
  } catch {
    return false;
  }
}

export interface ObserveOptions {
  /** Strips our provider key from every string of an upstream error event. */
  redact: (text: string) => string;
  /** Leave out a usage-only chunk the client did not ask for. */
  dropUsageChunks: boolean;
}

/**
 * Reads what `seen` must know from a run of whole events and returns what goes to the client: the
 * run itself (the common case, no copy), or — rarely — the run rebuilt with an error event redacted
 * or an unasked-for usage chunk left out; undefined when nothing is left to send.
 */
export function observeRun(run: Uint8Array, seen: StreamSeen, options: ObserveOptions): Uint8Array | undefined {
  const mark = firstMark(run);
  if (mark === -1) return run;
  // Parse from the start of the event that holds the mark: runs start at an event boundary,
  // so the events before it are skipped whole and the parser stays in step.
  const from = completeEventsEnd(run.subarray(0, mark));
  const usageBefore = seen.usageData;
  const events = readEvents(run.subarray(from), seen);
  const dropUsage = options.dropUsageChunks && seen.usageData !== usageBefore;
  if (!seen.errorEvent && !dropUsage) return run;
  let text = "";
  for (const data of events) if (!(dropUsage && isUsageOnly(data))) text += reframe(data, options.redact);
  const rebuilt = encodeEvents(text);
  if (from > 0) return concatAll([run.subarray(0, from)], rebuilt);
  return rebuilt.length > 0 ? rebuilt : undefined;
}
