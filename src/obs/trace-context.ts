// W3C Trace Context for one request: its trace and span ids, decided as the request starts so each
// upstream attempt can carry its own `traceparent`, and exported later with exactly these ids
// (src/obs/tracing.ts). No OpenTelemetry module is loaded here: this runs per request when
// tracing is on, and is never constructed when it is off.

/** `version-traceid-parentid-flags`, version 00 as W3C Trace Context level 1 writes it (lower-case hex). */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);
/** W3C caps `tracestate` at 32 list members; a header far longer than that is not passed on. */
const MAX_TRACESTATE = 512;

/** The caller's span a request continues: from a valid incoming `traceparent`. */
export interface RemoteParent {
  traceId: string;
  spanId: string;
  /** Whether the caller sampled it (flag bit 0): a request under an unsampled parent is not exported. */
  sampled: boolean;
}

/**
 * An incoming `traceparent` when it is exactly version 00 with non-zero ids; anything else is
 * ignored (a new trace starts), never an error for the client.
 */
export function parseTraceparent(header: string | null): RemoteParent | undefined {
  if (header === null) return undefined;
  const match = TRACEPARENT.exec(header.trim());
  if (match === null) return undefined;
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string];
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1 };
}

/** `bytes` random bytes as lower-case hex, never all zeros (an invalid id in W3C Trace Context). */
export function randomId(bytes: 8 | 16): string {
  const buffer = new Uint8Array(bytes);
  do crypto.getRandomValues(buffer);
  while (buffer.every((b) => b === 0));
  return Buffer.from(buffer).toString("hex");
}

/**
 * One request's place in a trace: the request span's ids, its remote parent if the caller sent
 * one, and the span id of the attempt being made. Attempts of one request run one after another,
 * so the current attempt is the one whose upstream call is being sent (`traceparent()`).
 */
export class RequestTrace {
  readonly traceId: string;
  /** The request span's id. */
  readonly spanId = randomId(8);
  /** The span id of the attempt in progress; undefined before the first. */
  private current: string | undefined;

  /** Exported, and sent upstream as sampled: the caller's decision when it sent one, else ours. */
  readonly sampled: boolean;

  constructor(
    readonly parent: RemoteParent | undefined,
    /** The caller's `tracestate`, passed upstream and onto the spans as it came. */
    readonly state: string | undefined,
    /** Whether a trace that starts here is sampled; a caller's own decision always wins. */
    sampleNew = true,
  ) {
    this.traceId = parent?.traceId ?? randomId(16);
    this.sampled = parent?.sampled ?? sampleNew;
  }

  /** Starts an attempt: returns its span id, which its upstream call sends as the parent id. */
  attempt(): string {
    this.current = randomId(8);
    return this.current;
  }

  /** The `traceparent` header for the upstream call of the current attempt. */
  traceparent(): string {
    return `00-${this.traceId}-${this.current ?? this.spanId}-${this.sampled ? "01" : "00"}`;
  }
}

/** Begins the trace of a request from its `traceparent` and `tracestate` headers. */
export type BeginTrace = (traceparent: string | null, tracestate: string | null) => RequestTrace;

/**
 * What begins each request's trace: continuing the caller's when its `traceparent` is valid, else a
 * new one, sampled with probability `ratio` (CHATGATE_OTLP_SAMPLE).
 */
export function traceStarter(ratio: number, random: () => number = Math.random): BeginTrace {
  return (traceparent, tracestate) => {
    const parent = parseTraceparent(traceparent);
    const state = parent !== undefined && tracestate !== null && tracestate.length <= MAX_TRACESTATE ? tracestate : undefined;
    return new RequestTrace(parent, state, parent === undefined && (ratio >= 1 || random() < ratio));
  };
}
