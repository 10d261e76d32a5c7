// Schema migrations on real files: every earlier version is brought to the latest with its rows,
// a failed step leaves the file as it was, and a newer file is refused untouched.
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ledger } from "../src/ledger/ledger.ts";
import { LATEST_VERSION, LedgerSchemaError, migrate, schemaVersion } from "../src/ledger/schema.ts";
import { spendSince } from "../src/ledger/spend.ts";
import { usageReport } from "../src/ledger/usage-report.ts";

const root = mkdtempSync(join(tmpdir(), "chatgate-migrations-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let files = 0;
const T0 = Date.UTC(2026, 11, 7, 12, 0, 0);
const noTimers = () => () => {};

/** A file at `version`, as that chatgate would have left it. */
function fileAt(version: number): string {
  const dir = join(root, `case-${++files}`);
  mkdirSync(dir);
  const path = join(dir, "ledger.sqlite");
  const db = new Database(path, { create: true });
  db.exec("PRAGMA journal_mode = WAL");
  migrate(db, version);
  db.close();
  return path;
}

/** Two requests as chatgate 1 (schema v1) wrote them: one priced, one on an unpriced model. */
function writeV1Rows(path: string): void {
  const db = new Database(path);
  const insert = db.prepare(
    `INSERT INTO requests (ts, request_id, key_id, route, model, provider, upstream_model, status, outcome, stream, resumed,
       prompt_tokens, completion_tokens, cost_usd, ttfb_ms, duration_ms, error_code)
     VALUES (?, ?, 'k_abc', '/v1/chat/completions', ?, 'openai', ?, 200, 'ok', 1, 0, 100, 20, ?, 50, 300, NULL)`,
  );
  insert.run(T0, "req-a", "fast", "gpt-4o-mini", 0.000027);
  insert.run(T0 + 1, "req-b", "local", "llama", null);
  db.close();
}

describe("migrations", () => {
  test("a v1 file with rows migrates to the latest version and keeps its rows", () => {
    const path = fileAt(1);
    writeV1Rows(path);
    const ledger = Ledger.open({ path, every: noTimers, retentionMs: Number.POSITIVE_INFINITY });
    expect(schemaVersion(ledger.db)).toBe(LATEST_VERSION);
    expect(ledger.db.query("SELECT request_id, prompt_tokens, cost_usd, cached_prompt_tokens, usage_estimated, cached FROM requests ORDER BY id").all()).toEqual([
      { request_id: "req-a", prompt_tokens: 100, cost_usd: 0.000027, cached_prompt_tokens: null, usage_estimated: 0, cached: 0 },
      { request_id: "req-b", prompt_tokens: 100, cost_usd: null, cached_prompt_tokens: null, usage_estimated: 0, cached: 0 },
    ]);
    // The old rows report like new ones: their unknown cost counted, not summed as 0.
    expect(usageReport(ledger.db, { groupBy: "key" })).toEqual([
      { group: "k_abc", requests: 2, errors: 0, aborted: 0, cache_hits: 0, usage_estimated: 0, prompt_tokens: 200, completion_tokens: 40, cached_prompt_tokens: 0, cost_usd: 0.000027, cost_unknown: 1 },
    ]);
    // And the new table takes rows beside them.
    ledger.record({
      ts: T0 + 2, requestId: "req-c", keyId: "k_abc", route: "/v1/chat/completions", model: "fast", provider: "openai", upstreamModel: "gpt-4o-mini",
      status: 200, outcome: "ok", stream: false, resumed: false, cached: false, usageEstimated: false, promptTokens: 1, completionTokens: 1,
      cachedPromptTokens: 0, costUsd: 0.00000075, budgetUsd: 0.00000075, ttfbMs: 10, durationMs: 20, errorCode: null,
      attempts: [{ provider: "openai", model: "gpt-4o-mini", status: 200, reason: "ok", durationMs: 19, promptTokens: 1, completionTokens: 1, cachedPromptTokens: 0, costUsd: 0.00000075 }],
    });
    ledger.close();
    const db = new Database(path, { readonly: true });
    expect(db.query("SELECT count(*) AS n FROM requests").get()).toEqual({ n: 3 });
    expect(db.query("SELECT request, seq FROM attempts").all()).toEqual([{ request: 3, seq: 0 }]);
    db.close();
  });

  test("a v2 file's rows count their cost against budgets after migrating, as before: what they charged was not recorded", () => {
    const path = fileAt(1);
    writeV1Rows(path);
    const v2 = new Database(path);
    migrate(v2, 2);
    v2.close();
    const ledger = Ledger.open({ path, every: noTimers, retentionMs: Number.POSITIVE_INFINITY });
    expect(ledger.db.query("SELECT cost_usd, budget_usd FROM requests ORDER BY id").all()).toEqual([
      { cost_usd: 0.000027, budget_usd: 0.000027 },
      { cost_usd: null, budget_usd: null },
    ]);
    expect(spendSince(ledger.db, "k_abc", T0)).toBe(0.000027);
    ledger.close();
  });

  test("every earlier version, an empty file included, migrates to the latest", () => {
    for (let version = 0; version < LATEST_VERSION; version++) {
      const ledger = Ledger.open({ path: fileAt(version), every: noTimers });
      expect(schemaVersion(ledger.db), `from v${version}`).toBe(LATEST_VERSION);
      ledger.close();
    }
  });

  test("a step that fails leaves the file at its old version, none of the step applied", () => {
    const path = fileAt(1);
    writeV1Rows(path);
    // A table in the way of v2's CREATE TABLE attempts: v2's ALTERs ran before it, and must be undone.
    const db = new Database(path);
    db.exec("CREATE TABLE attempts (x INTEGER)");
    db.close();
    expect(() => Ledger.open({ path, every: noTimers })).toThrow();
    const after = new Database(path, { readonly: true });
    expect(schemaVersion(after)).toBe(1);
    const columns = (after.query("PRAGMA table_info(requests)").all() as { name: string }[]).map((c) => c.name);
    expect(columns).not.toContain("cached_prompt_tokens");
    expect(after.query("SELECT count(*) AS n FROM requests").get()).toEqual({ n: 2 });
    after.close();
  });

  test("a file from a newer chatgate is refused and left untouched", () => {
    const path = fileAt(LATEST_VERSION);
    const db = new Database(path);
    db.exec(`PRAGMA user_version = ${LATEST_VERSION + 1}`);
    db.close();
    expect(() => Ledger.open({ path, every: noTimers })).toThrow(LedgerSchemaError);
    const after = new Database(path, { readonly: true });
    expect(schemaVersion(after)).toBe(LATEST_VERSION + 1);
    after.close();
  });
});
