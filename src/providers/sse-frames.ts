import type { GatewayError } from "../errors.ts";

const LF = 10;
const CR = 13;

/** One event that has not ended (no blank line yet) may hold this much; more is an error. */
export const MAX_EVENT_BYTES = 1024 * 1024;

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

export function isBlank(buf: Uint8Array): boolean {
  for (const b of buf) if (b !== LF && b !== CR && b !== 32) return false;
  return true;
}

export function concatAll(pieces: readonly Uint8Array[], last: Uint8Array): Uint8Array {
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

/** The index just past the first blank line in `buf`, or 0 when none ends in it. */
export function firstEventEnd(buf: Uint8Array): number {
  for (let at = buf.indexOf(LF); at !== -1; at = buf.indexOf(LF, at + 1)) {
    if (buf[at + 1] === LF) return at + 2;
    if (buf[at + 1] === CR && buf[at + 2] === LF) return at + 3;
  }
  return 0;
}

/** How many bytes of `after` complete a blank line begun in the pending pieces (1 to 3). */
function seamEnd(pending: readonly Uint8Array[], after: Uint8Array): number {
  for (let k = 1; k <= Math.min(3, after.length); k++) if (endsAcrossSeam(pending, after.subarray(0, k))) return k;
  return 0;
}

/**
 * Cuts a byte stream into runs of whole events: what a read brings up to its last event boundary
 * goes out; an incomplete tail is held, as the pieces that came (a long event in many small reads
 * is joined once, when it ends, not once per read), up to `maxEventBytes`.
 */
export class EventFramer {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly maxEventBytes: number,
    private readonly tooLarge: (what: string, limit: number) => GatewayError,
  ) {}

  /** Whole events after the first run of a read that completed a held event; see `push`. */
  private extra: Uint8Array | undefined;

  /**
   * The whole events completed by `buf`, or undefined for none yet. When `buf` completes an event
   * held from earlier reads, only that event is joined (a copy of it alone) and returned; the
   * whole events after it stay a view of `buf`, handed out by the next `more()`, so a read is
   * never copied whole because a tail came before it.
   */
  push(buf: Uint8Array): Uint8Array | undefined {
    if (this.pending.length === 0) return this.split(buf);
    const first = endsAcrossSeam(this.pending, buf) ? seamEnd(this.pending, buf) : firstEventEnd(buf);
    if (first === 0) {
      this.pendingBytes += buf.length;
      if (this.pendingBytes > this.maxEventBytes) throw this.tooLarge("a stream event", this.maxEventBytes);
      this.pending.push(buf);
      return undefined;
    }
    const head = concatAll(this.pending, buf.subarray(0, first));
    this.pending = [];
    this.pendingBytes = 0;
    this.extra = first < buf.length ? this.split(buf.subarray(first)) : undefined;
    return head;
  }

  /** The rest of the last read's whole events, when `push` handed out only its first run. */
  more(): Uint8Array | undefined {
    const extra = this.extra;
    this.extra = undefined;
    return extra;
  }

  /** Holds `buf`'s incomplete tail and returns its whole events, as a view. */
  private split(buf: Uint8Array): Uint8Array | undefined {
    const end = completeEventsEnd(buf);
    if (end < buf.length) {
      this.pendingBytes = buf.length - end;
      if (this.pendingBytes > this.maxEventBytes) throw this.tooLarge("a stream event", this.maxEventBytes);
      // A copy, not a view: a view of a read's tail keeps the whole read's buffer alive while the
      // event waits for its end, which for a stream held up by a slow client can be a long time.
      this.pending.push(buf.slice(end));
    }
    if (end === 0) return undefined;
    return end === buf.length ? buf : buf.subarray(0, end);
  }

  /** Whether the stream stopped inside an event (bytes held that are more than white space). */
  get midEvent(): boolean {
    return this.pending.some((piece) => !isBlank(piece));
  }
}

/**
 * Buffer's native byte search, called on the Uint8Array itself. A Buffer view made with
 * `Buffer.from(run.buffer, …)` reads `.buffer`, which makes the engine give a small typed array
 * a separate backing store: on token-paced streams that measured ~5 % of the gateway's CPU.
 */
const byteSearch = Buffer.prototype.indexOf as (this: Uint8Array, value: Uint8Array, from?: number) => number;
export const find = (run: Uint8Array, needle: Uint8Array, from?: number): number => byteSearch.call(run, needle, from);

const DATA_FIELD = Buffer.from("data:");

/** Whether a run of whole events has a data line (rather than only comments or fields). */
export function hasData(run: Uint8Array): boolean {
  return find(run, DATA_FIELD) !== -1;
}
