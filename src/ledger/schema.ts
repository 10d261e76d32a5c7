import type { Database } from "bun:sqlite";

/**
 * The ledger's schema, one migration per version, never edited once released: a file written by
 * any earlier chatgate is brought up to date by running the steps it has not had, in order, each
 * in its own transaction with the `PRAGMA user_version` that records it. A new column or table is
 * a new step at the end.
 */
export const MIGRATIONS: readonly string[] = [
  // v1: one row per request.
  `CREATE TABLE requests (
     id                INTEGER PRIMARY KEY,
     ts                INTEGER NOT NULL,  -- when the request finished, ms since the Unix epoch
     request_id        TEXT,
     key_id            TEXT,
     route             TEXT NOT NULL,
     model             TEXT,              -- the public model the client asked for
     provider          TEXT,              -- the target that answered (or was tried last)
     upstream_model    TEXT,
     status            INTEGER NOT NULL,
     outcome           TEXT NOT NULL,     -- ok | error | client_abort | truncated
     stream            INTEGER NOT NULL,
     resumed           INTEGER NOT NULL,
     prompt_tokens     INTEGER,           -- null: usage unknown
     completion_tokens INTEGER,
     cost_usd          REAL,              -- null: unknown (no price, or no usage after a call)
     ttfb_ms           INTEGER,
     duration_ms       INTEGER NOT NULL,
     error_code        TEXT
   );
   CREATE INDEX requests_ts ON requests (ts);`,

  // v2: cached prompt tokens, estimated usage and cache hits on requests; one row per upstream attempt.
  `ALTER TABLE requests ADD COLUMN cached_prompt_tokens INTEGER;
   ALTER TABLE requests ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE requests ADD COLUMN cached INTEGER NOT NULL DEFAULT 0;
   CREATE TABLE attempts (
     request            INTEGER NOT NULL,  -- requests.id
     seq                INTEGER NOT NULL,  -- 0, 1, …: the order the attempts were made in
     provider           TEXT NOT NULL,
     model              TEXT NOT NULL,     -- the upstream model
     status             INTEGER NOT NULL,
     reason             TEXT NOT NULL,
     duration_ms        INTEGER NOT NULL,
     prompt_tokens      INTEGER,
     completion_tokens  INTEGER,
     cached_prompt_tokens INTEGER,
     cost_usd           REAL,
     PRIMARY KEY (request, seq)
   ) WITHOUT ROWID;`,

  // v3: what each request counted against its key's budget, which cost_usd cannot say when a call
  // reported no usage (cost null, the reservation kept). Earlier rows knew only their cost: that
  // is what a restart counted for them before, so it stays what it counts.
  `ALTER TABLE requests ADD COLUMN budget_usd REAL;  -- null: counted nothing (no budget, cost unknown)
   UPDATE requests SET budget_usd = cost_usd;`,
];

/** The version a file is at once every migration has run. */
export const LATEST_VERSION = MIGRATIONS.length;

/** A ledger file chatgate cannot use as it is. */
export class LedgerSchemaError extends Error {
  override name = "LedgerSchemaError";
}

export function schemaVersion(db: Database): number {
  return (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
}

/**
 * Runs the migrations `db` has not had, up to `target` (the latest unless a test stops earlier),
 * and returns the version it is now at. A file from a newer chatgate is refused, not touched: its
 * rows may mean what this version cannot know.
 */
export function migrate(db: Database, target = LATEST_VERSION): number {
  const current = schemaVersion(db);
  if (current > LATEST_VERSION) {
    throw new LedgerSchemaError(`the ledger is at schema version ${current}, newer than this chatgate knows (${LATEST_VERSION}); upgrade chatgate`);
  }
  for (let version = current; version < target; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.exec(`PRAGMA user_version = ${version + 1}`);
    })();
  }
  return Math.max(current, target);
}
