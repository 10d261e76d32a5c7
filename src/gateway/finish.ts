import type { CompletionUsage } from "openai/resources/completions";
import type { RequestTrace } from "../obs/trace-context.ts";

/** How a request ended, as a client would put it. */
export type Outcome = "ok" | "error" | "client_abort" | "truncated";

/** One call to one target: who, what came back (HTTP status, or ours), why, how long. */
export interface Attempt {
  provider: string;
  model: string;
  /** The status this attempt ended with: 200, the upstream's error status, or ours (502, 504). */
  status: number;
  /** `ok`, `resumed` (a continuation of a broken stream), or the error code (`upstream_timeout`, …). */
  reason: string;
  durationMs: number;
  /** When it started (epoch ms, the gateway's clock). */
  startedAt?: number;
  /** Its span id, sent upstream in `traceparent`: only while tracing is on (src/obs/trace-context.ts). */
  spanId?: string;
  /**
   * The usage this attempt's upstream reported for the part it streamed, on a resumed request
   * (whose parts each have their own); undefined when it reported none. The ledger's attempt rows.
   */
  usage?: CompletionUsage;
}

/**
 * The one record of a request, emitted exactly once when it ends however it ends. Logs, metrics
 * and the usage ledger subscribe to it; nothing else reaches into the HTTP layer for them.
 */
export interface FinishRecord {
  /** The request's `x-request-id`: the client's, or the one chatgate gave it. */
  requestId: string | null;
  /** The client key's id (a short prefix of its digest, never the key); null without client keys or before auth. */
  keyId: string | null;
  /** The API route: `/v1/chat/completions`, `/chat`, … */
  route: string;
  stream: boolean;
  /** The model name the client asked for; null when the request was refused before it was read. */
  model: string | null;
  /** The target that answered (or the last one tried). */
  provider: string | null;
  upstreamModel: string | null;
  status: number;
  outcome: Outcome;
  attempts: Attempt[];
  /** Whether a stream was resumed after a break (stream resume): its attempts list every part. */
  resumed: boolean;
  usage: CompletionUsage | undefined;
  /** `usage` is a tokenizer's estimate, not the upstream's report. Absent: false. */
  usageEstimated?: boolean;
  /** Answered from the response cache: no upstream call. Absent: false. */
  cached?: boolean;
  /** What the response cache did: `hit`, `miss` (answered upstream) or `skip` (took no part). Absent: skip. */
  cache?: "hit" | "miss" | "skip";
  /** Milliseconds from the start of the request to the first byte of its answer. */
  ttfbMs: number | undefined;
  durationMs: number;
  /** When the gateway took the request (epoch ms); absent for one refused before it got there. */
  startedAt?: number;
  /** The request's trace ids, when tracing is on (CHATGATE_OTLP_ENDPOINT) and the request reached the gateway. */
  trace?: RequestTrace;
  /** The error code of a failed request. */
  errorCode: string | null;
  /**
   * What this request counted against its client key's budget, in USD, once settled: its cost
   * when its usage is known, the whole reservation when a call ran and reported none, 0 when no
   * upstream call was made. Absent: the key has no budget. The ledger keeps it, so a restart
   * reads back the spend this process counted.
   */
  budgetUsd?: number;
}

export type FinishListener = (record: FinishRecord) => void;

/** Where finish records go: each listener gets every record, synchronously, in subscription order. */
export class Finishes {
  private listeners: FinishListener[] = [];

  /** Whether anyone listens: with no one, no record is built. */
  get active(): boolean {
    return this.listeners.length > 0;
  }

  subscribe(listener: FinishListener): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  emit(record: FinishRecord): void {
    for (const listener of this.listeners) {
      try {
        listener(record);
      } catch (err) {
        // A subscriber's bug must not turn a served request into a failed one.
        console.error("chatgate: a finish-record subscriber failed:", err);
      }
    }
  }
}
