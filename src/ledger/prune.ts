import type { Database } from "bun:sqlite";

/** How long rows are kept unless the config says otherwise: 90 days. */
export const DEFAULT_RETENTION_MS = 90 * 24 * 60 * 60 * 1000;

/**
 * Deletes the requests that finished before `cutoff` (ms since the epoch) and their attempts, in
 * one transaction so no attempt outlives its request. Returns how many requests went. The
 * attempts go first, found through `requests_ts`, since they carry no time of their own.
 */
export function pruneOlderThan(db: Database, cutoff: number): number {
  return db.transaction(() => {
    db.prepare("DELETE FROM attempts WHERE request IN (SELECT id FROM requests WHERE ts < ?)").run(cutoff);
    return db.prepare("DELETE FROM requests WHERE ts < ?").run(cutoff).changes;
  })();
}
