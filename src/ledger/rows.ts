import type { CompletionUsage } from "openai/resources/completions";
import { costOf, roundCost, tokenCounts, type TokenCounts } from "../cost/cost.ts";
import type { Price } from "../cost/prices.ts";
import type { Attempt, FinishRecord, Outcome } from "../gateway/finish.ts";
import { clipClientText } from "../client-text.ts";

/** One upstream call of a request, as the ledger keeps it. */
export interface AttemptRow {
  provider: string;
  /** The upstream model. */
  model: string;
  status: number;
  reason: string;
  durationMs: number;
  /** Null: this attempt's usage is unknown. */
  promptTokens: number | null;
  completionTokens: number | null;
  cachedPromptTokens: number | null;
  /** Null: unknown (no price for the model, or no usage from a call that may have been billed). */
  costUsd: number | null;
}

/** One request, as the ledger keeps it: what the finish record says, priced. */
export interface LedgerRow {
  /** When the request finished, ms since the Unix epoch. */
  ts: number;
  requestId: string | null;
  keyId: string | null;
  route: string;
  /** The public model the client asked for. */
  model: string | null;
  provider: string | null;
  upstreamModel: string | null;
  status: number;
  outcome: Outcome;
  stream: boolean;
  resumed: boolean;
  /** Answered from the response cache: no upstream call, cost 0. */
  cached: boolean;
  /** The token counts are a tokenizer's estimate, not the upstream's report. */
  usageEstimated: boolean;
  promptTokens: number | null;
  completionTokens: number | null;
  cachedPromptTokens: number | null;
  costUsd: number | null;
  /**
   * What the request counted against its key's budget (USD): the finish record's `budgetUsd` (the
   * kept reservation when a call reported no usage, where `costUsd` is null); for a key without a
   * budget, `costUsd`. What a restart reads back as the key's spend (src/ledger/spend.ts).
   */
  budgetUsd: number | null;
  ttfbMs: number | null;
  durationMs: number;
  errorCode: string | null;
  attempts: AttemptRow[];
}

/**
 * The price of a call to `model` on the target `provider`, null when unknown. The caller builds it
 * from the config so a target's `price:` override applies: `(p, m) => priceFor(m, overrideOf(p, m))`.
 */
export type PriceLookup = (provider: string | null, model: string) => Price | null;

/** What the finish record does not (yet) carry. */
export interface RowExtras {
  /** The clock's reading when the request finished. */
  now: number;
  /** Each attempt's usage, index for index with `record.attempts`; undefined where unknown. */
  attemptUsage?: readonly (CompletionUsage | undefined)[];
  /** `record.usage` is an estimate (no usage came from the upstream). Default false. */
  usageEstimated?: boolean;
  /** The answer came from the response cache. Default false. */
  cached?: boolean;
}

/**
 * The ledger row of a finished request, however it ended.
 *
 * Tokens are what the record says the request used. Cost is what the upstreams billed:
 * - a cache hit costs 0;
 * - with per-attempt usage, the sum of the attempts' costs, each at its own target's price (a
 *   resumed stream may span targets; a failed attempt that produced tokens was billed too);
 * - else the record's usage at the answering target's price;
 * - with no usage at all, 0 when every attempt was refused by its upstream (or none was made), as
 *   providers do not bill a refusal; otherwise null, since a call that ran may have been billed.
 * Any part priced at an unknown model makes the whole cost null: a partial sum would pass for a total.
 */
export function rowsFor(record: FinishRecord, prices: PriceLookup, extras: RowExtras): LedgerRow {
  const cached = extras.cached ?? false;
  const tokens = record.usage ? tokenCounts(record.usage) : undefined;
  const attempts = attemptRows(record, prices, extras.attemptUsage);
  const costUsd = cached ? 0 : requestCost(record, tokens, attempts, prices, extras.attemptUsage);
  return {
    ts: extras.now,
    requestId: record.requestId,
    keyId: record.keyId,
    // Client text, bounded as in the request log: rows of refused requests must not fill the disk.
    route: clipClientText(record.route),
    model: clipClientText(record.model),
    provider: record.provider,
    upstreamModel: clipClientText(record.upstreamModel),
    status: record.status,
    outcome: record.outcome,
    stream: record.stream,
    resumed: record.resumed,
    cached,
    usageEstimated: extras.usageEstimated ?? false,
    promptTokens: tokens?.prompt ?? null,
    completionTokens: tokens?.completion ?? null,
    cachedPromptTokens: tokens?.cached ?? null,
    costUsd,
    budgetUsd: record.budgetUsd ?? costUsd,
    ttfbMs: record.ttfbMs ?? null,
    durationMs: record.durationMs,
    errorCode: record.errorCode,
    attempts,
  };
}

function requestCost(
  record: FinishRecord,
  tokens: TokenCounts | undefined,
  attempts: readonly AttemptRow[],
  prices: PriceLookup,
  attemptUsage: RowExtras["attemptUsage"],
): number | null {
  if (attemptUsage?.some((usage) => usage !== undefined)) return sumOrNull(attempts.map((a) => a.costUsd));
  const model = record.upstreamModel ?? record.model;
  if (tokens) return costOf(tokens, model === null ? null : prices(record.provider, model));
  return record.attempts.every(refusedUpstream) ? 0 : null;
}

/**
 * Without per-attempt usage, a request that was not resumed got its answer — and its usage — from
 * its last attempt, when that one succeeded, streamed until its upstream broke it (a truncated
 * stream: what it delivered was generated, and billed) or was under way when the client left. A resumed request's parts each had usage
 * of their own: an attempt's row has what its upstream reported for its part (`Attempt.usage`),
 * else none; the request's own row has the parts summed.
 */
function attemptRows(record: FinishRecord, prices: PriceLookup, attemptUsage: RowExtras["attemptUsage"]): AttemptRow[] {
  const last = record.attempts.length - 1;
  return record.attempts.map((attempt, i) => {
    // The last attempt produced the request's usage when it answered, when its stream broke, or
    // when the client left while it was under way (its estimate: the upstream ran on the prompt).
    const answered = i === last && (attempt.status === 200 || record.outcome === "truncated" || (record.outcome === "client_abort" && attempt.status === 499));
    // A resumed request's parts: each attempt's own reported usage, where it reported one.
    const usage = attemptUsage ? attemptUsage[i] : record.resumed ? attempt.usage : answered ? record.usage : undefined;
    const tokens = usage ? tokenCounts(usage) : undefined;
    return {
      provider: attempt.provider,
      model: clipClientText(attempt.model),
      status: attempt.status,
      reason: attempt.reason,
      durationMs: attempt.durationMs,
      promptTokens: tokens?.prompt ?? null,
      completionTokens: tokens?.completion ?? null,
      cachedPromptTokens: tokens?.cached ?? null,
      costUsd: tokens ? costOf(tokens, prices(attempt.provider, attempt.model)) : refusedUpstream(attempt) ? 0 : null,
    };
  });
}

/**
 * An upstream's 4xx is a refusal before any generation (bad request, auth, rate limit): not billed.
 * Not 408 (a timeout) or 499 (our client left mid-call): the upstream may have run and billed.
 */
function refusedUpstream(attempt: Attempt): boolean {
  return attempt.status >= 400 && attempt.status < 500 && attempt.status !== 408 && attempt.status !== 499;
}

function sumOrNull(costs: readonly (number | null)[]): number | null {
  let total = 0;
  for (const cost of costs) {
    if (cost === null) return null;
    total += cost;
  }
  return roundCost(total);
}
