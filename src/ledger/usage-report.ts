import type { Database } from "bun:sqlite";
import { roundCost } from "../cost/cost.ts";

export const GROUP_BYS = ["key", "model", "provider", "day"] as const;

/**
 * What a report's rows are per: the client key's id, the public model the client asked for, the
 * target that answered, or the UTC day the request finished.
 */
export type GroupBy = (typeof GROUP_BYS)[number];

export interface UsageQuery {
  /** Requests that finished at or after this (ms since the epoch); undefined: since the first row. */
  from?: number;
  /** Requests that finished before this (exclusive); undefined: up to now. */
  to?: number;
  groupBy: GroupBy;
}

/** One group's totals. Field names are the JSON the route and `chatgate usage --format json` print. */
export interface UsageRow {
  /** The key id, model, provider or `YYYY-MM-DD`; null for requests without one (no key, refused before routing). */
  group: string | null;
  requests: number;
  /** Requests that failed or were cut off (outcome `error` or `truncated`). */
  errors: number;
  /** Requests the client gave up on (outcome `client_abort`). */
  aborted: number;
  /** Requests answered from the response cache, at cost 0. */
  cache_hits: number;
  /** Requests whose token counts are an estimate. */
  usage_estimated: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_prompt_tokens: number;
  /** The sum of the known costs, USD. */
  cost_usd: number;
  /** Requests whose cost is unknown (unpriced model, or no usage from a call that ran): not in `cost_usd`. */
  cost_unknown: number;
}

const GROUP_COLUMN: Record<GroupBy, string> = {
  key: "key_id",
  model: "model",
  provider: "provider",
  day: "strftime('%Y-%m-%d', ts / 1000, 'unixepoch')",
};

/** Per-group totals of the requests that finished in [from, to), ordered by group. Pure: reads only. */
export function usageReport(db: Database, query: UsageQuery): UsageRow[] {
  const rows = db
    .query(
      `SELECT ${GROUP_COLUMN[query.groupBy]} AS grp,
         COUNT(*) AS requests,
         SUM(outcome IN ('error', 'truncated')) AS errors,
         SUM(outcome = 'client_abort') AS aborted,
         SUM(cached) AS cache_hits,
         SUM(usage_estimated) AS usage_estimated,
         COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens,
         COALESCE(SUM(completion_tokens), 0) AS completion_tokens,
         COALESCE(SUM(cached_prompt_tokens), 0) AS cached_prompt_tokens,
         TOTAL(cost_usd) AS cost_usd,
         SUM(cost_usd IS NULL) AS cost_unknown
       FROM requests
       WHERE ts >= ? AND ts < ?
       GROUP BY grp
       ORDER BY grp`,
    )
    .all(query.from ?? Number.MIN_SAFE_INTEGER, query.to ?? Number.MAX_SAFE_INTEGER) as (Omit<UsageRow, "group"> & { grp: string | null })[];
  return rows.map(({ grp, ...sums }) => ({ group: grp, ...sums, cost_usd: roundCost(sums.cost_usd) }));
}

const SUMMED = [
  "requests", "errors", "aborted", "cache_hits", "usage_estimated",
  "prompt_tokens", "completion_tokens", "cached_prompt_tokens", "cost_usd", "cost_unknown",
] as const satisfies readonly (keyof UsageRow)[];

/** The sum of a report's rows (its group null). */
export function usageTotal(rows: readonly UsageRow[]): UsageRow {
  const total: UsageRow = {
    group: null, requests: 0, errors: 0, aborted: 0, cache_hits: 0, usage_estimated: 0,
    prompt_tokens: 0, completion_tokens: 0, cached_prompt_tokens: 0, cost_usd: 0, cost_unknown: 0,
  };
  for (const row of rows) {
    for (const field of SUMMED) total[field] += row[field];
  }
  total.cost_usd = roundCost(total.cost_usd);
  return total;
}

/** The JSON body of `GET /v1/usage` and of `chatgate usage --format json`. */
export function usageJson(query: UsageQuery, rows: readonly UsageRow[]) {
  const { group: _, ...total } = usageTotal(rows);
  return {
    object: "usage_report",
    from: query.from === undefined ? null : new Date(query.from).toISOString(),
    to: query.to === undefined ? null : new Date(query.to).toISOString(),
    group_by: query.groupBy,
    rows,
    total,
  };
}
