import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DEFAULT_RETENTION_MS, pruneOlderThan } from "./prune.ts";
import type { LedgerRow } from "./rows.ts";
import { migrate } from "./schema.ts";
import { RowWriter } from "./write-rows.ts";

/** Runs `run` every `ms` until the returned function is called. */
export type Every = (ms: number, run: () => void) => () => void;

/** Timers that never keep the process alive on their own: the shutdown path flushes. */
export const unrefInterval: Every = (ms, run) => {
  const timer = setInterval(run, ms);
  timer.unref();
  return () => clearInterval(timer);
};

export interface LedgerOptions {
  /** The SQLite file. Its directory is created (owner-only) when missing. */
  path: string;
  /** The clock pruning reads. Default Date.now. */
  now?: () => number;
  /** How often pending rows are written. Default 1000 ms: a crash loses at most this much. */
  flushEveryMs?: number;
  /** Rows older than this are deleted. Default 90 days; Infinity keeps every row. */
  retentionMs?: number;
  /** How often old rows are pruned (also once at open). Default daily. */
  pruneEveryMs?: number;
  /** The timers. Default: unref'd setInterval. Tests pass their own and tick by hand. */
  every?: Every;
  /** Most rows held in memory while writes fail; later ones are dropped and counted. Default 100,000. */
  maxPending?: number;
  /** Where a failed write, a dropped row or a recovery is reported. Default console.error. */
  warn?: (message: string) => void;
}

/**
 * The usage ledger: rows are queued in memory by `record` (no I/O on the request path) and written
 * in one transaction per flush — every `flushEveryMs` and on `close`, which the shutdown path
 * awaits, so a SIGTERM loses nothing. WAL with synchronous=NORMAL: a committed flush survives the
 * process crashing (a power cut may lose the last one), and `chatgate usage` reads while the
 * gateway writes.
 *
 * Flushing runs on the event loop: a batch of 10,000 rows takes tens of milliseconds, once a
 * second at most. A worker thread would move that off the loop at the price of copying every row
 * across and a second place for writes to fail; not worth it at that size.
 */
export class Ledger {
  /** The gateway's own connection, which the usage report may also read through. */
  readonly db: Database;
  private readonly writer: RowWriter;
  private readonly now: () => number;
  private readonly retentionMs: number;
  private readonly maxPending: number;
  private readonly warn: (message: string) => void;
  private readonly stopTimers: (() => void)[] = [];
  private pending: LedgerRow[] = [];
  private failing = false;
  private closed = false;
  private droppedRows = 0;

  static open(options: LedgerOptions): Ledger {
    mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 });
    const db = new Database(options.path, { create: true, strict: true });
    try {
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = NORMAL");
      // Another writer (a second gateway on the same data dir) holds the lock only for its own
      // flush; waiting that long is cheaper than failing and retrying a second later.
      db.exec("PRAGMA busy_timeout = 1000");
      // The gateway mostly appends: SQLite's default 2 MB page cache would mostly hold pages written
      // once, and stay in the process's memory after a burst of load (measured: RSS 30 s after the
      // bench's load ~2.5 MB lower with this). /v1/usage's reads go through the OS's file cache.
      db.exec("PRAGMA cache_size = -256");
      migrate(db);
      return new Ledger(db, options);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private constructor(db: Database, options: LedgerOptions) {
    this.db = db;
    this.writer = new RowWriter(db);
    this.now = options.now ?? Date.now;
    this.retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
    this.maxPending = options.maxPending ?? 100_000;
    this.warn = options.warn ?? ((message) => console.error(`chatgate: ${message}`));
    const every = options.every ?? unrefInterval;
    this.stopTimers.push(every(options.flushEveryMs ?? 1000, () => this.flush()));
    if (Number.isFinite(this.retentionMs)) {
      this.prune();
      this.stopTimers.push(every(options.pruneEveryMs ?? 24 * 60 * 60 * 1000, () => this.prune()));
    }
  }

  /** Queues a row for the next flush. Never touches the disk. */
  record(row: LedgerRow): void {
    if (this.closed || this.pending.length >= this.maxPending) {
      this.droppedRows++;
      return;
    }
    this.pending.push(row);
  }

  /** Rows recorded and not yet written. */
  get pendingRows(): number {
    return this.pending.length;
  }

  /** Rows lost: recorded after close, past `maxPending`, or refused by the database. */
  get droppedCount(): number {
    return this.droppedRows;
  }

  /**
   * Writes every pending row in one transaction and returns how many were written. When the
   * database is busy, full or failing, the rows stay pending for the next flush. When a row itself
   * is refused (a constraint), the batch is written row by row so one bad row loses only itself.
   */
  flush(): number {
    if (this.pending.length === 0 || this.closed) return 0;
    const batch = this.pending;
    this.pending = [];
    try {
      this.writer.write(batch);
    } catch (err) {
      if (rowSpecific(err)) return this.writeEach(batch);
      this.pending = batch;
      if (!this.failing) this.warn(`the usage ledger could not be written (${describe(err)}); ${rows(batch.length)} kept for the next try`);
      this.failing = true;
      return 0;
    }
    if (this.failing) this.warn(`the usage ledger is being written again (${rows(batch.length)} caught up)`);
    this.failing = false;
    return batch.length;
  }

  /** Deletes rows older than the retention; returns how many requests went. */
  prune(): number {
    if (this.closed || !Number.isFinite(this.retentionMs)) return 0;
    try {
      return pruneOlderThan(this.db, this.now() - this.retentionMs);
    } catch (err) {
      this.warn(`pruning the usage ledger failed (${describe(err)}); it is tried again tomorrow`);
      return 0;
    }
  }

  /** Stops the timers, writes what is pending and closes the file. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    for (const stop of this.stopTimers) stop();
    this.flush();
    if (this.pending.length > 0) {
      this.warn(`${rows(this.pending.length)} of usage could not be written to the ledger before closing`);
      this.droppedRows += this.pending.length;
      this.pending = [];
    }
    this.closed = true;
    this.db.close();
  }

  private writeEach(batch: readonly LedgerRow[]): number {
    let written = 0;
    for (const row of batch) {
      try {
        this.writer.write([row]);
        written++;
      } catch (err) {
        this.droppedRows++;
        this.warn(`a usage ledger row was refused and dropped (${describe(err)}): request ${row.requestId ?? "without an id"}`);
      }
    }
    return written;
  }
}

/** Errors that are about the row, not the database: writing the row again would fail again. */
function rowSpecific(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== "string") return true;
  return code.startsWith("SQLITE_CONSTRAINT") || code === "SQLITE_MISMATCH" || code === "SQLITE_TOOBIG" || code === "SQLITE_RANGE";
}

function rows(n: number): string {
  return `${n} row${n === 1 ? "" : "s"}`;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
