import type { Database } from "bun:sqlite";

/**
 * What a client key has spent since `from` (epoch ms), in USD, by the ledger's rows: how budgets
 * survive a restart. Rows without a cost (an unpriced model) are left out, as the budget never
 * counted them either.
 */
export function spendSince(db: Database, keyId: string, from: number): number {
  const row = db.query<{ usd: number | null }, [string, number]>("SELECT SUM(cost_usd) AS usd FROM requests WHERE key_id = ? AND ts >= ? AND cost_usd IS NOT NULL").get(keyId, from);
  return row?.usd ?? 0;
}
