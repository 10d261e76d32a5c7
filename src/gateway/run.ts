import type { CompletionUsage } from "openai/resources/completions";
import type { CacheStatus, Producer } from "../cache/response-cache.ts";
import { ClientClosedError, type GatewayError } from "../errors.ts";
import { anthropicStatus, speaksAnthropic } from "../messages/errors.ts";
import type { Stats } from "../obs/stats.ts";
import type { CallTracker, Stoppable } from "../providers/provider.ts";
import type { RequestTrace } from "../obs/trace-context.ts";
import { Estimate } from "../usage/estimate.ts";
import type { Attempt, FinishRecord, Finishes, Outcome } from "./finish.ts";

/** Who served a request: the target that answered (or the last one tried) and how many attempts it took. */
export interface Served {
  provider: string;
  model: string;
  attempts: number;
  /** What the response cache did (`x-chatgate-cache`); a hit was served by no attempt (0). */
  cache?: CacheStatus;
}

/** Errors whose request already has its finish record, so the HTTP edge does not write a second. */
const recorded = new WeakSet<object>();
export const isRecorded = (err: unknown): boolean => typeof err === "object" && err !== null && recorded.has(err);

/** `err` changed (`GatewayError.with`) and still recorded when `from` was: the edge writes no second record. */
export function sameRecord(from: unknown, err: GatewayError): GatewayError {
  if (isRecorded(from)) recorded.add(err);
  return err;
}

/**
 * One request from the moment the gateway takes it to its one finish record: the attempts, the
 * time to its first byte, and the in-flight count /status shows and a graceful shutdown waits on.
 * `finish` runs once; later calls are no-ops, so every way a request can end may call it.
 */
export class Run implements CallTracker {
  readonly attempts: Attempt[] = [];
  /** Epoch ms by which the whole chain of attempts and waits must be over. */
  deadlineAt = Number.POSITIVE_INFINITY;
  /** A break in the stream was continued on a target (stream resume). */
  resumed = false;
  /**
   * Settles what the client key's limits reserved for this request, with its finish record
   * (src/keys/); returns what its budget was charged (USD), undefined without a budget.
   */
  settle: ((record: FinishRecord) => number | undefined) | undefined;
  /** What the response cache did for this request: `skip` until the gateway looks it up. */
  cache: CacheStatus = "skip";
  /** Who produced the stored answer of a cache hit. */
  private cachedFrom: Producer | undefined;
  private readonly startedAt: number;
  private ttfbMs: number | undefined;
  private ended = false;
  /** The upstream call in flight, registered by the provider so a shutdown can stop it. */
  private call: Stoppable | undefined;


  constructor(
    private readonly finishes: Finishes,
    private readonly stats: Stats,
    private readonly now: () => number,
    readonly route: string,
    readonly stream: boolean,
    readonly model: string | null,
    private readonly onEnd?: (run: Run) => void,
    readonly requestId: string | null = null,
    readonly keyId: string | null = null,
    /** Its trace ids while tracing is on; undefined otherwise. */
    readonly trace: RequestTrace | undefined = undefined,
  ) {
    this.startedAt = now();
    if (stream) {
      stats.streams++;
      stats.beginStream();
    } else {
      stats.completions++;
      stats.beginJson();
    }
  }

  /** The provider's call in flight for this request (CallOptions.calls). */
  track(call: Stoppable): void {
    this.call = call;
  }

  /** Ends the upstream call in flight with `reason` (a shutdown out of time). */
  stop(reason: GatewayError): void {
    this.call?.stop(reason);
  }

  /** The first byte of the answer is ready to go out. */
  firstByte(): void {
    this.ttfbMs ??= this.now() - this.startedAt;
  }

  /** Answered from the response cache: no attempt; who produced the stored answer stands for who served it. */
  hit(by: Producer): void {
    this.cache = "hit";
    this.cachedFrom = { provider: by.provider, model: by.model };
  }

  /** Who served it, from the last attempt (or the cache hit); undefined before any. */
  served(): Served | undefined {
    if (this.cachedFrom !== undefined) return { ...this.cachedFrom, attempts: 0, cache: this.cache };
    const last = this.attempts.at(-1);
    return last && { provider: last.provider, model: last.model, attempts: this.attempts.length, cache: this.cache };
  }

  /**
   * `usage` is read only when someone listens for records: with none, a record costs nothing. An
   * Estimate (the upstream reported no usage) is published at once when it is counted already;
   * else the record waits for the counting process (~0.5–1 s when it must start and load the
   * encoding). The request is no longer in flight then, but its record is pending, and a graceful
   * shutdown (`stats.idle()`) waits for it too.
   */
  finish(status: number, outcome: Outcome, usage?: () => CompletionUsage | Estimate | undefined, errorCode: string | null = null): void {
    if (this.ended) return;
    this.ended = true;
    this.call = undefined;
    this.onEnd?.(this);
    if (!this.finishes.active && this.settle === undefined) return this.leave();
    const by = this.attempts.at(-1) ?? this.cachedFrom;
    const found = usage?.();
    const record: FinishRecord = {
      requestId: this.requestId, keyId: this.keyId, route: this.route, stream: this.stream, model: this.model,
      provider: by?.provider ?? null, upstreamModel: by?.model ?? null, cached: this.cache === "hit", cache: this.cache,
      status, outcome, attempts: this.attempts, resumed: this.resumed, usage: found instanceof Estimate ? undefined : found,
      ttfbMs: this.ttfbMs, durationMs: this.now() - this.startedAt, startedAt: this.startedAt, errorCode,
    };
    if (this.trace !== undefined) record.trace = this.trace;
    if (!(found instanceof Estimate)) return this.publish(record);
    record.usageEstimated = true;
    const now = found.now();
    if (now !== undefined) return this.publish(Object.assign(record, { usage: now }));
    // The answer is over (/status stops counting it), but a graceful shutdown waits for its record.
    this.stats.beginRecord();
    this.leave();
    void found.count().then((usage) => {
      this.emit(Object.assign(record, { usage }));
      this.stats.endRecord();
    });
  }

  /** The request is no longer in flight. */
  private leave(): void {
    if (this.stream) this.stats.endStream();
    else this.stats.endJson();
  }

  private publish(record: FinishRecord): void {
    this.leave();
    this.emit(record);
  }

  private emit(record: FinishRecord): void {
    // Settled first, so the listeners (the ledger) see what the key's budget was charged.
    const charged = this.settle?.(record);
    if (charged !== undefined) record.budgetUsd = charged;
    this.finishes.emit(record);
  }

  /**
   * Ends the run with `err` and marks it recorded; returns it with who served it attached.
   * `sentPrompt` estimates a prompt the upstream was sent: counted when the client left after any
   * upstream call was made — while one was in flight, or in the wait before a retry (an attempt
   * that failed was sent the prompt all the same) — as a stream cut later counts what it had.
   * An error answer (a 502 after every attempt failed, a shutdown's 503) keeps its usage unknown:
   * a failed call that reported nothing may have been billed, so its cost stays null and its
   * key's reservation stays counted.
   */
  fail(err: GatewayError, sentPrompt?: () => Estimate): GatewayError {
    const outcome: Outcome = err instanceof ClientClosedError ? "client_abort" : "error";
    const calledUpstream = outcome === "client_abort" && this.attempts.length > 0;
    // The status the client gets: on Anthropic's routes, the one Anthropic sends the error's type with.
    const status = speaksAnthropic(this.route) ? anthropicStatus(err) : err.status;
    this.finish(status, outcome, calledUpstream ? sentPrompt : undefined, err.code ?? err.type);
    const none: Served = { provider: "", model: "", attempts: 0, cache: this.cache };
    const out = err.with({ served: this.served() ?? none });
    recorded.add(out);
    return out;
  }
}

/**
 * The finish record of a request refused before it reached the gateway (a bad key, a limit, a bad
 * body, an unknown route): no model, no attempts, the status it got.
 */
export function refusedRecord(route: string, status: number, errorCode: string | null, requestId: string | null, keyId: string | null = null, asked?: UpstreamAsked): FinishRecord {
  // A client that left before its request was whole (499) was answered nothing: an abort, not an error.
  return { ...answeredRecord(route, status, requestId, keyId, 0, asked), outcome: status === 499 ? "client_abort" : "error", errorCode };
}

/**
 * The one upstream call of a request that writes no record of its own (count_tokens to an
 * Anthropic target): its public model, who was asked, and how that call ended.
 */
export interface UpstreamAsked {
  /** The public model asked for; null where the request's body is not at hand (an error's record). */
  model: string | null;
  provider: string;
  upstreamModel: string;
  status: number;
  reason: string;
}

/**
 * The finish record of a request answered without the gateway (/health, /v1/models, /metrics, the
 * docs, …): no model, no attempts; its status, and how long it took.
 */
export function answeredRecord(route: string, status: number, requestId: string | null, keyId: string | null, durationMs: number, asked?: UpstreamAsked): FinishRecord {
  return {
    requestId, keyId, route, stream: false, model: asked?.model ?? null, provider: asked?.provider ?? null, upstreamModel: asked?.upstreamModel ?? null,
    status, outcome: status >= 400 ? "error" : "ok",
    attempts: asked === undefined ? [] : [{ provider: asked.provider, model: asked.upstreamModel, status: asked.status, reason: asked.reason, durationMs }],
    resumed: false, usage: undefined, ttfbMs: undefined, durationMs, errorCode: null,
  };
}
