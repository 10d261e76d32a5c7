// The usage ledger's writer on a real SQLite file in a temp dir: WAL, batching, flush on a timer
// the test ticks by hand, close on shutdown, what a crash loses, failures, and pruning.
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ledger, type Every } from "../src/ledger/ledger.ts";
import type { LedgerRow } from "../src/ledger/rows.ts";
import { LATEST_VERSION } from "../src/ledger/schema.ts";

const root = mkdtempSync(join(tmpdir(), "chatgate-ledger-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let files = 0;
const freshPath = () => join(root, `case-${++files}`, "ledger.sqlite");

const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.UTC(2026, 11, 7, 12, 0, 0);

function row(ts: number, patch: Partial<LedgerRow> = {}): LedgerRow {
  return {
    ts, requestId: `req-${ts}`, keyId: "k_abc", route: "/v1/chat/completions", model: "fast", provider: "openai",
    upstreamModel: "gpt-4o-mini", status: 200, outcome: "ok", stream: true, resumed: false, cached: false, usageEstimated: false,
    promptTokens: 10, completionTokens: 5, cachedPromptTokens: 0, costUsd: 0.0000045, budgetUsd: 0.0000045, ttfbMs: 100, durationMs: 300, errorCode: null,
    attempts: [{ provider: "openai", model: "gpt-4o-mini", status: 200, reason: "ok", durationMs: 290, promptTokens: 10, completionTokens: 5, cachedPromptTokens: 0, costUsd: 0.0000045 }],
    ...patch,
  };
}

/** Timers the test fires by hand: `tick(ms)` runs every callback registered at that interval. */
function manualTimers() {
  const timers: { ms: number; run: () => void; stopped: boolean }[] = [];
  const every: Every = (ms, run) => {
    const timer = { ms, run, stopped: false };
    timers.push(timer);
    return () => void (timer.stopped = true);
  };
  return {
    every,
    intervals: () => timers.filter((t) => !t.stopped).map((t) => t.ms),
    tick: (ms: number) => timers.filter((t) => t.ms === ms && !t.stopped).forEach((t) => t.run()),
  };
}

/** A second connection, as `chatgate usage` has: sees only what was committed. */
function count(path: string, table = "requests"): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

function open(path: string, patch: Partial<Parameters<typeof Ledger.open>[0]> = {}) {
  const timers = manualTimers();
  const warnings: string[] = [];
  let now = T0;
  const ledger = Ledger.open({ path, every: timers.every, now: () => now, warn: (m) => void warnings.push(m), ...patch });
  return { ledger, timers, warnings, advance: (ms: number) => void (now += ms) };
}

describe("opening", () => {
  test("the file is created in WAL mode at the latest schema, its directory owner-only", () => {
    const path = freshPath();
    const { ledger } = open(path);
    expect(ledger.db.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    expect(ledger.db.query("PRAGMA user_version").get()).toEqual({ user_version: LATEST_VERSION });
    expect(statSync(join(path, "..")).mode & 0o777).toBe(0o700);
    ledger.close();
  });

  test("a flush timer every second and a prune timer every day, unless told otherwise", () => {
    const { ledger, timers } = open(freshPath());
    expect(timers.intervals()).toEqual([1000, DAY]);
    ledger.close();
    expect(timers.intervals()).toEqual([]);
  });
});

describe("batched writes", () => {
  test("recording writes nothing; a flush writes every pending row and its attempts", () => {
    const path = freshPath();
    const { ledger } = open(path);
    for (let i = 0; i < 3; i++) ledger.record(row(T0 + i));
    expect(ledger.pendingRows).toBe(3);
    expect(count(path)).toBe(0);
    expect(ledger.flush()).toBe(3);
    expect(count(path)).toBe(3);
    expect(count(path, "attempts")).toBe(3);
    expect(ledger.pendingRows).toBe(0);
    expect(ledger.flush()).toBe(0);
    ledger.close();
  });

  test("the flush timer's tick writes what is pending", () => {
    const path = freshPath();
    const { ledger, timers } = open(path);
    ledger.record(row(T0));
    timers.tick(1000);
    expect(count(path)).toBe(1);
    ledger.close();
  });

  test("a batch of 10,000 rows is written in one transaction", () => {
    const path = freshPath();
    const { ledger } = open(path);
    // With the WAL emptied and checkpoints off, every commit appends at least one frame to it:
    // fewer frames than rows means the rows did not go one commit each.
    ledger.db.exec("PRAGMA wal_autocheckpoint = 0");
    ledger.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    for (let i = 0; i < 10_000; i++) ledger.record(row(T0 + i));
    expect(ledger.flush()).toBe(10_000);
    expect(count(path)).toBe(10_000);
    expect(count(path, "attempts")).toBe(10_000);
    const { log: frames } = ledger.db.query("PRAGMA wal_checkpoint(PASSIVE)").get() as { log: number };
    expect(frames).toBeGreaterThan(0);
    expect(frames).toBeLessThan(10_000);
    ledger.close();
  });

  test("every field survives the round trip, nulls and booleans included", () => {
    const path = freshPath();
    const { ledger } = open(path);
    ledger.record(row(T0, { requestId: null, keyId: null, outcome: "client_abort", status: 499, stream: true, resumed: true, cached: true, usageEstimated: true, promptTokens: null, completionTokens: null, cachedPromptTokens: null, costUsd: null, budgetUsd: 0.0006, ttfbMs: null, errorCode: "client_closed_request" }));
    ledger.close();
    const db = new Database(path, { readonly: true });
    expect(db.query("SELECT * FROM requests").get()).toEqual({
      id: 1, ts: T0, request_id: null, key_id: null, route: "/v1/chat/completions", model: "fast", provider: "openai", upstream_model: "gpt-4o-mini",
      status: 499, outcome: "client_abort", stream: 1, resumed: 1, prompt_tokens: null, completion_tokens: null, cost_usd: null, ttfb_ms: null,
      duration_ms: 300, error_code: "client_closed_request", cached_prompt_tokens: null, usage_estimated: 1, cached: 1, budget_usd: 0.0006,
    });
    expect(db.query("SELECT * FROM attempts").get()).toEqual({
      request: 1, seq: 0, provider: "openai", model: "gpt-4o-mini", status: 200, reason: "ok", duration_ms: 290,
      prompt_tokens: 10, completion_tokens: 5, cached_prompt_tokens: 0, cost_usd: 0.0000045,
    });
    db.close();
  });
});

describe("shutdown and crashes", () => {
  test("close writes everything pending (what SIGTERM's drain awaits), and a reopened ledger has it", () => {
    const path = freshPath();
    const first = open(path);
    for (let i = 0; i < 5; i++) first.ledger.record(row(T0 + i));
    first.ledger.close();
    first.ledger.close();
    expect(count(path)).toBe(5);
    const second = open(path);
    second.ledger.record(row(T0 + 10));
    second.ledger.close();
    expect(count(path)).toBe(6);
  });

  test("a row recorded after close is dropped and counted, not thrown", () => {
    const { ledger } = open(freshPath());
    ledger.close();
    ledger.record(row(T0));
    expect(ledger.droppedCount).toBe(1);
  });

  test("a process killed with SIGKILL keeps every flushed row and loses only what was pending", async () => {
    const path = freshPath();
    const script = `
      const { Ledger } = await import(${JSON.stringify(join(import.meta.dir, "../src/ledger/ledger.ts"))});
      const ledger = Ledger.open({ path: ${JSON.stringify(path)}, every: () => () => {} });
      const row = ${row.toString()};
      for (let i = 0; i < 100; i++) ledger.record(row(${T0} + i));
      ledger.flush();
      for (let i = 100; i < 150; i++) ledger.record(row(${T0} + i));
      process.kill(process.pid, "SIGKILL");
    `;
    const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    expect(await child.exited).not.toBe(0);
    expect(child.signalCode).toBe("SIGKILL");
    expect(count(path)).toBe(100);
  });
});

describe("failures", () => {
  test("a busy database keeps the rows pending, warns once, and a later flush writes them", () => {
    const path = freshPath();
    const { ledger, warnings } = open(path);
    ledger.db.exec("PRAGMA busy_timeout = 0");
    const other = new Database(path);
    other.exec("BEGIN IMMEDIATE");
    ledger.record(row(T0));
    expect(ledger.flush()).toBe(0);
    ledger.record(row(T0 + 1));
    expect(ledger.flush()).toBe(0);
    expect(ledger.pendingRows).toBe(2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("1 row kept for the next try");
    other.exec("ROLLBACK");
    other.close();
    expect(ledger.flush()).toBe(2);
    expect(warnings[1]).toContain("written again");
    ledger.close();
    expect(count(path)).toBe(2);
  });

  test("a row the database refuses loses only itself", () => {
    const path = freshPath();
    const { ledger, warnings } = open(path);
    const bad = row(T0 + 1, { route: null as unknown as string, requestId: "req-bad" });
    [row(T0), bad, row(T0 + 2)].forEach((r) => ledger.record(r));
    expect(ledger.flush()).toBe(2);
    expect(ledger.droppedCount).toBe(1);
    expect(warnings.join("\n")).toContain("req-bad");
    ledger.close();
    expect(count(path)).toBe(2);
  });

  test("rows beyond maxPending are dropped and counted while writes cannot keep up", () => {
    const { ledger } = open(freshPath(), { maxPending: 2 });
    [0, 1, 2].forEach((i) => ledger.record(row(T0 + i)));
    expect(ledger.pendingRows).toBe(2);
    expect(ledger.droppedCount).toBe(1);
    ledger.close();
  });
});

describe("pruning", () => {
  test("the daily tick removes requests older than the retention, with their attempts, and nothing newer", () => {
    const path = freshPath();
    const { ledger, timers, advance } = open(path, { retentionMs: 30 * DAY });
    ledger.record(row(T0 - 40 * DAY));
    ledger.record(row(T0 - 31 * DAY));
    ledger.record(row(T0 - 29 * DAY));
    ledger.record(row(T0));
    ledger.flush();
    advance(DAY);
    timers.tick(DAY);
    // Now T0 + 1 day: the cutoff is T0 − 29 days, so the row at exactly the cutoff stays.
    expect(ledger.db.query("SELECT ts FROM requests ORDER BY ts").all()).toEqual([{ ts: T0 - 29 * DAY }, { ts: T0 }]);
    expect(count(path, "attempts")).toBe(2);
    ledger.close();
  });

  test("a ledger opened after a long stop prunes at once, not a day later", () => {
    const path = freshPath();
    const first = open(path);
    first.ledger.record(row(T0 - 100 * DAY));
    first.ledger.record(row(T0 - 10 * DAY));
    first.ledger.close();
    const second = open(path);
    expect(count(path)).toBe(1);
    second.ledger.close();
  });

  test("an infinite retention keeps every row and sets no prune timer", () => {
    const path = freshPath();
    const { ledger, timers } = open(path, { retentionMs: Number.POSITIVE_INFINITY });
    ledger.record(row(0));
    ledger.flush();
    expect(ledger.prune()).toBe(0);
    expect(timers.intervals()).toEqual([1000]);
    ledger.close();
    expect(count(path)).toBe(1);
  });
});
