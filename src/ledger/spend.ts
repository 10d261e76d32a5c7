import type { Database } from "bun:sqlite";

/**
 * What a client key has spent since `from` (epoch ms), in USD, by the ledger's rows: how budgets
 * survive a restart. It sums what each request counted against the budget (`budget_usd`), not its
 * cost: a call that ran and reported no usage has cost null but kept its whole reservation, and
 * unknown must not become free by restarting. Rows that counted nothing (null) are left out.
 */
export function spendSince(db: Database, keyId: string, from: number): number {
  const row = db.query<{ usd: number | null }, [string, number]>("SELECT SUM(budget_usd) AS usd FROM requests WHERE key_id = ? AND ts >= ? AND budget_usd IS NOT NULL").get(keyId, from);
  return row?.usd ?? 0;
}
