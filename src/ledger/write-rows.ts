import type { Database, Statement } from "bun:sqlite";
import type { AttemptRow, LedgerRow } from "./rows.ts";

type Params = Record<string, string | number | null>;

/**
 * Inserts ledger rows with statements prepared once. `db` must be opened with `strict: true`, so
 * parameters are bound by bare name.
 */
export class RowWriter {
  private readonly insertRequest: Statement;
  private readonly insertAttempt: Statement;
  /** Every row of a batch in one transaction: one commit, one WAL sync, however many rows. */
  readonly write: (rows: readonly LedgerRow[]) => void;

  constructor(db: Database) {
    this.insertRequest = db.prepare(
      `INSERT INTO requests (ts, request_id, key_id, route, model, provider, upstream_model, status, outcome, stream, resumed,
         cached, usage_estimated, prompt_tokens, completion_tokens, cached_prompt_tokens, cost_usd, budget_usd, ttfb_ms, duration_ms, error_code)
       VALUES ($ts, $request_id, $key_id, $route, $model, $provider, $upstream_model, $status, $outcome, $stream, $resumed,
         $cached, $usage_estimated, $prompt_tokens, $completion_tokens, $cached_prompt_tokens, $cost_usd, $budget_usd, $ttfb_ms, $duration_ms, $error_code)`,
    );
    this.insertAttempt = db.prepare(
      `INSERT INTO attempts (request, seq, provider, model, status, reason, duration_ms, prompt_tokens, completion_tokens, cached_prompt_tokens, cost_usd)
       VALUES ($request, $seq, $provider, $model, $status, $reason, $duration_ms, $prompt_tokens, $completion_tokens, $cached_prompt_tokens, $cost_usd)`,
    );
    this.write = db.transaction((rows: readonly LedgerRow[]) => {
      for (const row of rows) this.insertOne(row);
    });
  }

  private insertOne(row: LedgerRow): void {
    const { lastInsertRowid } = this.insertRequest.run(requestParams(row));
    row.attempts.forEach((attempt, seq) => this.insertAttempt.run(attemptParams(Number(lastInsertRowid), seq, attempt)));
  }
}

function requestParams(row: LedgerRow): Params {
  return {
    ts: row.ts,
    request_id: row.requestId,
    key_id: row.keyId,
    route: row.route,
    model: row.model,
    provider: row.provider,
    upstream_model: row.upstreamModel,
    status: row.status,
    outcome: row.outcome,
    stream: row.stream ? 1 : 0,
    resumed: row.resumed ? 1 : 0,
    cached: row.cached ? 1 : 0,
    usage_estimated: row.usageEstimated ? 1 : 0,
    prompt_tokens: row.promptTokens,
    completion_tokens: row.completionTokens,
    cached_prompt_tokens: row.cachedPromptTokens,
    cost_usd: row.costUsd,
    budget_usd: row.budgetUsd,
    ttfb_ms: row.ttfbMs,
    duration_ms: row.durationMs,
    error_code: row.errorCode,
  };
}

function attemptParams(request: number, seq: number, attempt: AttemptRow): Params {
  return {
    request,
    seq,
    provider: attempt.provider,
    model: attempt.model,
    status: attempt.status,
    reason: attempt.reason,
    duration_ms: attempt.durationMs,
    prompt_tokens: attempt.promptTokens,
    completion_tokens: attempt.completionTokens,
    cached_prompt_tokens: attempt.cachedPromptTokens,
    cost_usd: attempt.costUsd,
  };
}
