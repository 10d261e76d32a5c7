import { createParser } from "eventsource-parser";
import type { GatewayError } from "../errors.ts";
import type { StreamSeen } from "./provider.ts";
import { redactJson } from "./upstream-error.ts";

const LF = 10;
const encoder = new TextEncoder();
const CR = 13;

/**
 * Length of the prefix of `buf` that holds whole SSE events: the index just past the last blank
 * line (`\n\n` or `\r\n\r\n`), or 0 when no event ends in `buf`. Scans from the end, where the
 * boundary almost always is, so a typical chunk costs a couple of comparisons.
 */
export function completeEventsEnd(buf: Uint8Array): number {
  for (let i = buf.length - 1; i > 0; i--) {
    if (buf[i] !== LF) continue;
    const prev = buf[i - 1];
    if (prev === LF) return i + 1;
    if (prev === CR && i >= 2 && buf[i - 2] === LF) return i + 1;
  }
  return 0;
}

function isBlank(buf: Uint8Array): boolean {
  for (const b of buf) if (b !== LF && b !== CR && b !== 32) return false;
  return true;
}

function concatAll(pieces: Uint8Array[], last: Uint8Array): Uint8Array {
  let length = last.length;
  for (const piece of pieces) length += piece.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  out.set(last, at);
  return out;
}

const seam = new Uint8Array(6);

/**
 * Whether an event boundary starts in the pending pieces and ends in `after` (e.g. `\n` | `\n`):
 * the last three pending bytes, wherever they lie (a trickle comes one byte a read), and the first
 * three of `after`, copied into one small buffer reused by every stream.
 */
function endsAcrossSeam(pending: readonly Uint8Array[], after: Uint8Array): boolean {
  let tail = 0;
  for (let i = pending.length - 1; i >= 0 && tail < 3; i--) {
    const piece = pending[i]!;
    for (let j = piece.length - 1; j >= 0 && tail < 3; j--) seam[2 - tail++] = piece[j]!;
  }
  seam.copyWithin(0, 3 - tail, 3);
  const head = Math.min(3, after.length);
  seam.set(after.subarray(0, head), tail);
  return completeEventsEnd(seam.subarray(0, tail + head)) > tail;
}

/**
 * What the gateway must know of a passing event, read without turning every chunk into an object:
 * `[DONE]`, an in-band error, and the usage chunk (kept as text, parsed only if asked for).
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

const DATA_FIELD = Buffer.from("data:");
const DONE_MARK = Buffer.from("[DONE]");
const ERROR_MARK = Buffer.from('"error"');
const USAGE_COMPACT = Buffer.from('"usage":{');
const USAGE_SPACED = Buffer.from('"usage": {');
const USAGE_OBJECT = /"usage":\s*\{/;
const ERROR_EVENT = /^\s*\{\s*"error"\s*:/;
const MARKS = [DONE_MARK, ERROR_MARK, USAGE_COMPACT, USAGE_SPACED];

/**
 * Buffer's native byte search, called on the Uint8Array itself. A Buffer view made with
 * `Buffer.from(run.buffer, …)` reads `.buffer`, which makes the engine give a small typed array
 * a separate backing store: on token-paced streams that measured ~5 % of the gateway's CPU.
 */
const byteSearch = Buffer.prototype.indexOf as (this: Uint8Array, value: Uint8Array) => number;
const find = (run: Uint8Array, needle: Uint8Array): number => byteSearch.call(run, needle);

/** Whether a run of whole events has a data line (rather than only comments or fields). */
function hasData(run: Uint8Array): boolean {
  return find(run, DATA_FIELD) !== -1;
}

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

/** Restarts on every whole event: bounds the wait for the first event and the gaps between events. */
export interface IdleWatch {
  touch(): void;
  clear(): void;
}

/**
 * Passes an OpenAI-compatible SSE body through as the bytes that came in, whole events only:
 * an incomplete tail is held back until its end arrives, so a cut upstream never leaves half an
 * event on the wire before the gateway's error event. A parser reads a decoded copy on the side.
 * Ends after `[DONE]` or an error event; any other ending throws.
 */
export interface PassThroughOptions {
  idle: IdleWatch;
  /** Turns a failed read into the error the client gets. */
  classify: (err: unknown) => GatewayError;
  /** The error for a stream that ended without `[DONE]`. */
  cut: (detail: string) => GatewayError;
  /** The error for an upstream that sends more than a cap allows (`what`, `limit` in bytes). */
  tooLarge: (what: string, limit: number) => GatewayError;
  /**
   * Strips our provider key from every string of an upstream error event (parsed, redacted and
   * serialised again, so an escaped key is caught too) before it is passed on.
   */
  redact?: (text: string) => string;
  /** Largest event held while its end has not arrived. Default MAX_EVENT_BYTES. */
  maxEventBytes?: number;
  /** Largest run of comments held back before the first data event. Default MAX_PREAMBLE_BYTES. */
  maxPreambleBytes?: number;
  /**
   * The client did not ask for usage (`stream_options.include_usage`): a usage-only chunk the
   * upstream sends anyway is dropped, since OpenAI would not send it. Usage is still recorded.
   */
  dropUsageChunks?: boolean;
}

const keep = (text: string) => text;

/** One event that has not ended (no blank line yet) may hold this much; more is an error. */
export const MAX_EVENT_BYTES = 1024 * 1024;
/** Comments before the first data event may add up to this much; more is an error. */
export const MAX_PREAMBLE_BYTES = 1024 * 1024;

/** An event's data as it goes out again: an error redacted field by field, lines kept as lines. */
function reframe(data: string, redact: (text: string) => string): string {
  const text = ERROR_EVENT.test(data) ? (redactJson(data, redact) ?? redact(data)) : redact(data);
  return `data: ${text.replaceAll("\n", "\ndata: ")}\n\n`;
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

export async function* passThroughEvents(
  body: ReadableStream<Uint8Array>,
  seen: StreamSeen,
  options: PassThroughOptions,
): AsyncGenerator<Uint8Array, void, undefined> {
  const { idle, classify, cut, tooLarge, redact = keep, dropUsageChunks = false } = options;
  const maxEvent = options.maxEventBytes ?? MAX_EVENT_BYTES;
  const maxPreamble = options.maxPreambleBytes ?? MAX_PREAMBLE_BYTES;
  const reader = body.getReader();
  // Bytes of an event not yet complete, kept as the pieces that came (a long event in many small
  // reads is joined once, when it ends, not once per read). Caps are counters, checked per read.
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let preamble: Uint8Array[] | undefined = [];
  let preambleBytes = 0;
  try {
    for (;;) {
      let result: Awaited<ReturnType<typeof reader.read>>;
      try {
        result = await reader.read();
      } catch (err) {
        throw classify(err);
      }
      if (result.done) break;
      let buf = result.value;
      let end = completeEventsEnd(buf);
      if (pending.length > 0) {
        if (end === 0 && !endsAcrossSeam(pending, buf)) {
          pendingBytes += buf.length;
          if (pendingBytes > maxEvent) throw tooLarge("a stream event", maxEvent);
          pending.push(buf);
          continue;
        }
        buf = concatAll(pending, buf);
        pending = [];
        end = completeEventsEnd(buf);
      }
      if (end < buf.length) {
        pendingBytes = buf.length - end;
        if (pendingBytes > maxEvent) throw tooLarge("a stream event", maxEvent);
        pending.push(buf.subarray(end));
      }
      if (end === 0) continue;
      // The idle timer runs between whole events, not bytes: an upstream that trickles an event
      // that never ends times out. Comment-only events (keep-alives) restart it too: a provider
      // that sends them while a model thinks is alive, and the wait is what they are for. One
      // that sends nothing else is bounded before commit by the preamble cap below, and after
      // commit its comments pass straight through to a client that is free to leave.
      idle.touch();
      let out = end === buf.length ? buf : buf.subarray(0, end);
      if (preamble !== undefined) {
        // Until the first data event, comments (keep-alives some providers send while the model
        // starts) are held back with it, so the stream commits on a real event, not on a comment.
        // Pieces are joined once, when that event comes, never per read.
        if (!hasData(out)) {
          preambleBytes += out.length;
          if (preambleBytes > maxPreamble) throw tooLarge("comments before its first event", maxPreamble);
          preamble.push(out);
          continue;
        }
        if (preamble.length > 0) out = concatAll(preamble, out);
        preamble = undefined;
      }
      const mark = firstMark(out);
      if (mark === -1) {
        yield out;
        continue;
      }
      // Parse from the start of the event that holds the mark: runs start at an event boundary,
      // so the events before it are skipped whole and the parser stays in step.
      const from = completeEventsEnd(out.subarray(0, mark));
      const usageBefore = seen.usageData;
      const batch = readEvents(out.subarray(from), seen);
      const dropUsage = dropUsageChunks && seen.usageData !== usageBefore;
      if (seen.errorEvent || dropUsage) {
        // Rare: rebuild the parsed events, the error redacted, an unasked-for usage chunk left out.
        let text = "";
        for (const data of batch) if (!(dropUsage && isUsageOnly(data))) text += reframe(data, redact);
        const rebuilt = encoder.encode(text);
        if (from > 0) yield concatAll([out.subarray(0, from)], rebuilt);
        else if (rebuilt.length > 0) yield rebuilt;
        if (seen.errorEvent || seen.done) return;
        continue;
      }
      yield out;
      if (seen.done) return;
    }
    if (pending.some((piece) => !isBlank(piece))) throw cut("the stream was cut in the middle of an event");
    throw cut("the stream ended before [DONE]");
  } finally {
    idle.clear();
    // Whether we stop early (client gone, error, [DONE] seen) or not, release the upstream now.
    reader.cancel().catch(() => {});
  }
}
