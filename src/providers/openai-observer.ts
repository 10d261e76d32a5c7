import { createParser } from "eventsource-parser";
import type { StreamSeen } from "./provider.ts";
import { dataEventText, encodeEvents } from "../sse-encode.ts";
import { completeEventsEnd, concatAll, find } from "./sse-frames.ts";
import { errorEventJson } from "./upstream-error.ts";
import { withoutUsageMember } from "../usage/unasked-usage.ts";

const LF = 10;
const CR = 13;
const SPACE = 32;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const DATA_FIELD = Buffer.from("data:");

const USAGE_OBJECT = /"usage":\s*\{/;
/**
 * An in-band error: OpenAI's `{"error": {…}}` (not `"error": null`), Anthropic's shape
 * `{"type": "error", "error": {…}}` (from a proxy in between), or vLLM's `{"object": "error", …}`.
 */
const ERROR_EVENT = /^\s*\{\s*(?:"error"\s*:\s*(?!null\s*[,}])|"type"\s*:\s*"error")|"object"\s*:\s*"error"/;
const FINISHED = /"finish_reason":\s*"/;
const DONE_MARK = Buffer.from("[DONE]");
const ERROR_MARK = Buffer.from('"error"');
const COMPACT_MARKS = [DONE_MARK, ERROR_MARK, Buffer.from('"usage":{'), Buffer.from('"finish_reason":"')];
const SPACED_MARKS = [DONE_MARK, ERROR_MARK, Buffer.from('"usage": {'), Buffer.from('"finish_reason": "')];
const ALL_MARKS = [...COMPACT_MARKS, ...SPACED_MARKS.slice(2)];
const COMPACT_START = Buffer.from('data: {"id":"');
const SPACED_START = Buffer.from('data: {"id": "');

/**
 * The marks to search a stream's runs for: a stream whose first chunk is written compactly (as
 * OpenAI writes it) or with spaces (as Python servers do) keeps that style, so only its own forms
 * are searched; a stream framed any other way gets both.
 */
export function marksFor(firstRun: Uint8Array): readonly Uint8Array[] {
  if (find(firstRun, COMPACT_START) === 0) return COMPACT_MARKS;
  if (find(firstRun, SPACED_START) === 0) return SPACED_MARKS;
  return ALL_MARKS;
}

/**
 * What the gateway must know of a passing event, read without turning every chunk into an object:
 * `[DONE]`, an in-band error, the usage chunk (kept as text, parsed only if asked for), and how
 * many choices got their finish reason (finish chunks are few: those are parsed).
 */
function observe(seen: StreamSeen, data: string): void {
  if (data === "[DONE]") {
    seen.done = true;
  } else if (ERROR_EVENT.test(data)) {
    seen.errorEvent = true;
    seen.errorData = data;
  } else {
    if (USAGE_OBJECT.test(data)) seen.usageData = data;
    if (FINISHED.test(data)) seen.finished += finishedChoices(data);
  }
}

/**
 * Choices that got a finish reason in this chunk: each carries one `"finish_reason":"…"`. Counted
 * in the text, not parsed: inside a JSON string a quote is escaped, so the pattern cannot occur there.
 */
function finishedChoices(data: string): number {
  let count = 0;
  for (let at = data.indexOf('"finish_reason":'); at !== -1; at = data.indexOf('"finish_reason":', at + 16)) {
    let v = at + 16;
    while (data.charCodeAt(v) === 32) v++;
    if (data.charCodeAt(v) === 34) count++;
  }
  return count;
}

/**
 * Where, in a run of whole events, the first thing the gateway must see may be: `[DONE]`, an
 * error, a usage object (not the `"usage":null` every chunk carries when usage was asked for) or
 * a finish reason; -1 when there is none. A native byte search, so content chunks are never
 * decoded or parsed; what it finds goes to the parser, which decides what it really is.
 */
export function firstMark(run: Uint8Array, marks: readonly Uint8Array[] = ALL_MARKS): number {
  let first = -1;
  for (const mark of marks) {
    const at = find(run, mark);
    if (at !== -1 && (first === -1 || at < first)) first = at;
  }
  return first;
}

/** Whether a `data:` field starts at `at` (a byte comparison: no view, no search). */
function dataAt(run: Uint8Array, at: number): boolean {
  return run[at] === 100 && run[at + 1] === 97 && run[at + 2] === 116 && run[at + 3] === 97 && run[at + 4] === 58;
}

/** The index past the line that starts at `from` (past its LF), or the run's length. */
function lineEnd(run: Uint8Array, from: number): number {
  const at = run.indexOf(LF, from);
  return at === -1 ? run.length : at + 1;
}

/** The last byte of the line ending before `end` (its LF, and a CR before it, not counted). */
function lastByte(run: Uint8Array, end: number): number | undefined {
  let i = end - 1;
  if (run[i] === LF) i--;
  if (run[i] === CR) i--;
  return run[i];
}

/**
 * Counts the data events of a run into `seen.events` and says whether every one is a JSON object
 * (or `[DONE]`), by a cheap look at its data: the first byte after `data:` and the last byte of its
 * last data line. A native search finds each `data:` at a line start; the bytes between are not read.
 */
export function dataShapesOk(run: Uint8Array, seen: StreamSeen): boolean {
  const simple = simpleShapes(run);
  if (simple >= 0) {
    seen.events += simple;
    return true;
  }
  return eachDataLine(run, seen);
}

const BLANK_LINE = Buffer.from("\n\n");

/**
 * The common framing, checked with one native search per event: every event one `data: {…}`
 * (or `[DONE]`) ending in `\n\n`. Returns how many events, or -1 when the run is framed any other
 * way or an event's data does not look like a JSON object (then each data line is read).
 */
function simpleShapes(run: Uint8Array): number {
  let events = 0;
  for (let start = 0; start < run.length; events++) {
    const blank = find(run, BLANK_LINE, start);
    if (blank === -1 || !dataAt(run, start)) return -1;
    let v = start + 5;
    if (run[v] === SPACE) v++;
    const first = run[v];
    const last = run[blank - 1];
    if (!((first === OPEN_BRACE && last === CLOSE_BRACE) || (blank === v + 6 && doneAt(run, v)))) return -1;
    start = blank + 2;
  }
  return events;
}

/** Whether `[DONE]` starts at `at` (a byte comparison): the one data that is not a JSON object. */
function doneAt(run: Uint8Array, at: number): boolean {
  return run[at] === OPEN_BRACKET && run[at + 1] === 68 && run[at + 2] === 79 && run[at + 3] === 78 && run[at + 4] === 69 && run[at + 5] === CLOSE_BRACKET;
}

/** dataShapesOk for any framing: each `data:` line at a line start, and its event's last data line. */
function eachDataLine(run: Uint8Array, seen: StreamSeen): boolean {
  let ok = true;
  let at = find(run, DATA_FIELD);
  while (at !== -1) {
    if (at > 0 && run[at - 1] !== LF) {
      at = find(run, DATA_FIELD, at + 5);
      continue;
    }
    let v = at + 5;
    if (run[v] === SPACE) v++;
    const first = run[v];
    // Continuation lines of the same event's data: its value ends on the last of them.
    let end = lineEnd(run, v);
    while (dataAt(run, end)) end = lineEnd(run, end + 5);
    const last = lastByte(run, end);
    if (!((first === OPEN_BRACE && last === CLOSE_BRACE) || (doneAt(run, v) && (run[v + 6] === LF || run[v + 6] === CR)))) ok = false;
    seen.events++;
    at = find(run, DATA_FIELD, end);
  }
  return ok;
}

/**
 * One parser and decoder for every stream, built once: only whole events are fed, so a feed
 * always ends in the parser's clean state, and feeding is synchronous, so streams never
 * interleave inside it. `batch` holds the data of the events just read, for the rare rebuild.
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

/** Parses a run of whole events (for `seen`, when given); returns the data of each event in it. */
export function readEvents(run: Uint8Array, seen?: StreamSeen): readonly string[] {
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

/** Whether trimmed data is a JSON object, or `[DONE]`: anything else is a proxy's garble. */
export const wellFormed = (data: string): boolean => {
  const text = data.trim();
  return text === "[DONE]" || (text.startsWith("{") && text.endsWith("}"));
};

/** An event's data as it goes out again: an error redacted field by field, lines kept as lines. */
function reframe(data: string, redact: (text: string) => string): string {
  return dataEventText(ERROR_EVENT.test(data) ? (errorEventJson(data, redact) ?? redact(data)) : redact(data));
}

const NO_CHOICES = /"choices":\s*\[\s*\]/;

/**
 * Whether an event's data is a usage-only chunk (`choices: []` with usage). An empty `choices`
 * seen in the text is enough (its quotes cannot come from inside a string, and a chunk has no
 * other `choices`): the one every stream now ends with is not parsed for it.
 */
function isUsageOnly(data: string): boolean {
  if (!USAGE_OBJECT.test(data)) return false;
  if (NO_CHOICES.test(data)) return true;
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
  /** The marks this stream's style calls for (marksFor); default: every form. */
  marks?: readonly Uint8Array[];
  /** An error event is kept from the client (the stream may be resumed): it ends the run, and lands in `heldError`. */
  holdErrors?: boolean;
  /** The data of the error event held back, when `holdErrors`. */
  heldError?: string;
}

/**
 * Reads what `seen` must know from a run of whole events and returns what goes to the client: the
 * run itself (the common case, no copy), or — rarely — the run rebuilt without events that are not
 * JSON objects, with an error event redacted, or without the usage the client did not ask for (the
 * usage-only chunk dropped, a `usage` member on a chunk with choices cut out); undefined when
 * nothing is left to send.
 */
export function observeRun(run: Uint8Array, seen: StreamSeen, options: ObserveOptions): Uint8Array | undefined {
  const shapesOk = dataShapesOk(run, seen);
  const mark = firstMark(run, options.marks);
  if (shapesOk && mark === -1) return run;
  // Parse from the start of the event that holds the mark: runs start at an event boundary, so
  // the events before it are skipped whole and the parser stays in step. A garbled event anywhere
  // means the whole run is read.
  const from = shapesOk ? completeEventsEnd(run.subarray(0, mark)) : 0;
  const usageBefore = seen.usageData;
  const events = readEvents(run.subarray(from), seen);
  const dropUsage = options.dropUsageChunks && seen.usageData !== usageBefore;
  if (shapesOk && !seen.errorEvent && !dropUsage) return run;
  let text = "";
  for (const data of events) {
    if (options.holdErrors === true && seen.errorEvent && ERROR_EVENT.test(data)) {
      options.heldError = data;
      seen.errorEvent = false;
      break;
    }
    if (!wellFormed(data)) {
      seen.dropped++;
      seen.events--;
    } else if (!dropUsage) text += reframe(data, options.redact);
    else if (!isUsageOnly(data)) text += reframe(withoutUsageMember(data), options.redact);
  }
  const rebuilt = encodeEvents(text);
  if (from > 0) return concatAll([run.subarray(0, from)], rebuilt);
  return rebuilt.length > 0 ? rebuilt : undefined;
}
