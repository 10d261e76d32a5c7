// The usage report over a real ledger file (groups, sums, unknown costs counted apart, the period)
// and `chatgate usage` printing it as a table, CSV and JSON from the data directory.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ledgerPath } from "../src/ledger/data-dir.ts";
import { Ledger } from "../src/ledger/ledger.ts";
import type { LedgerRow } from "../src/ledger/rows.ts";
import { migrate, schemaVersion } from "../src/ledger/schema.ts";
import { usageCommand } from "../src/ledger/usage-command.ts";
import { formatUsage } from "../src/ledger/usage-format.ts";
import { usageJson, usageReport, type UsageRow } from "../src/ledger/usage-report.ts";

const root = mkdtempSync(join(tmpdir(), "chatgate-usage-"));
const dataDir = join(root, "data");
afterAll(() => rmSync(root, { recursive: true, force: true }));

const DAY1 = Date.UTC(2026, 11, 5, 10, 0, 0);
const DAY2 = Date.UTC(2026, 11, 6, 10, 0, 0);

function row(ts: number, patch: Partial<LedgerRow>): LedgerRow {
  return {
    ts, requestId: null, keyId: "k_a", route: "/v1/chat/completions", model: "fast", provider: "openai", upstreamModel: "gpt-4o-mini",
    status: 200, outcome: "ok", stream: false, resumed: false, cached: false, usageEstimated: false,
    promptTokens: null, completionTokens: null, cachedPromptTokens: null, costUsd: null, budgetUsd: null, ttfbMs: 50, durationMs: 200, errorCode: null, attempts: [],
    ...patch,
  };
}

const tokens = (prompt: number, completion: number, cached = 0) => ({ promptTokens: prompt, completionTokens: completion, cachedPromptTokens: cached });
const sonnet = { model: "smart", provider: "anthropic", upstreamModel: "claude-sonnet-4-5", keyId: "k_b" };

/** Eight requests over two days: answers, failures, a cache hit, a refusal, an unpriced model, estimates. */
const ROWS: LedgerRow[] = [
  row(DAY1, { ...tokens(1_000, 100, 400), costUsd: 0.00018 }),
  row(DAY1 + 1, { status: 502, outcome: "error", errorCode: "upstream_error" }),
  row(DAY1 + 2, { ...sonnet, ...tokens(2_000, 500), costUsd: 0.0135 }),
  row(DAY2, { keyId: "k_b", cached: true, ...tokens(1_000, 100), costUsd: 0 }),
  row(DAY2 + 1, { keyId: null, model: null, provider: null, upstreamModel: null, status: 401, outcome: "error", costUsd: 0, errorCode: "invalid_api_key" }),
  row(DAY2 + 2, { model: "local", provider: "local", upstreamModel: "llama-3.1-8b", usageEstimated: true, ...tokens(50, 10) }),
  row(DAY2 + 3, { status: 499, outcome: "client_abort", stream: true, usageEstimated: true, ...tokens(300, 20), costUsd: 0.000057 }),
  row(DAY2 + 4, { ...sonnet, outcome: "truncated", stream: true, ...tokens(100, 50), costUsd: 0.00105 }),
];

function sums(group: string | null, patch: Partial<UsageRow>): UsageRow {
  return {
    group, requests: 0, errors: 0, aborted: 0, cache_hits: 0, usage_estimated: 0,
    prompt_tokens: 0, completion_tokens: 0, cached_prompt_tokens: 0, cost_usd: 0, cost_unknown: 0, ...patch,
  };
}

const BY_MODEL: UsageRow[] = [
  sums(null, { requests: 1, errors: 1 }),
  sums("fast", { requests: 4, errors: 1, aborted: 1, cache_hits: 1, usage_estimated: 1, prompt_tokens: 2_300, completion_tokens: 220, cached_prompt_tokens: 400, cost_usd: 0.000237, cost_unknown: 1 }),
  sums("local", { requests: 1, usage_estimated: 1, prompt_tokens: 50, completion_tokens: 10, cost_unknown: 1 }),
  sums("smart", { requests: 2, errors: 1, prompt_tokens: 2_100, completion_tokens: 550, cost_usd: 0.01455 }),
];

let db: Database;
beforeAll(() => {
  const ledger = Ledger.open({ path: ledgerPath(dataDir), every: () => () => {}, retentionMs: Number.POSITIVE_INFINITY });
  ROWS.forEach((r) => ledger.record(r));
  ledger.close();
  db = new Database(ledgerPath(dataDir), { readonly: true });
  return () => db.close();
});

describe("usageReport", () => {
  test("by model: requests, errors, aborts, cache hits, estimates, tokens and known cost, with unknown costs counted apart", () => {
    expect(usageReport(db, { groupBy: "model" })).toEqual(BY_MODEL);
  });

  test("by day: the UTC day each request finished", () => {
    expect(usageReport(db, { groupBy: "day" })).toEqual([
      sums("2026-12-05", { requests: 3, errors: 1, prompt_tokens: 3_000, completion_tokens: 600, cached_prompt_tokens: 400, cost_usd: 0.01368, cost_unknown: 1 }),
      sums("2026-12-06", { requests: 5, errors: 2, aborted: 1, cache_hits: 1, usage_estimated: 2, prompt_tokens: 1_450, completion_tokens: 180, cost_usd: 0.001107, cost_unknown: 1 }),
    ]);
  });

  test("by key and by provider", () => {
    const brief = (rows: UsageRow[]) => rows.map((r) => [r.group, r.requests, r.cost_usd, r.cost_unknown]);
    expect(brief(usageReport(db, { groupBy: "key" }))).toEqual([[null, 1, 0, 0], ["k_a", 4, 0.000237, 2], ["k_b", 3, 0.01455, 0]]);
    expect(brief(usageReport(db, { groupBy: "provider" }))).toEqual([[null, 1, 0, 0], ["anthropic", 2, 0.01455, 0], ["local", 1, 0, 1], ["openai", 4, 0.000237, 1]]);
  });

  test("only requests that finished in [from, to) count", () => {
    const day2 = usageReport(db, { groupBy: "day", from: Date.UTC(2026, 11, 6), to: Date.UTC(2026, 11, 7) });
    expect(day2.map((r) => [r.group, r.requests])).toEqual([["2026-12-06", 5]]);
    expect(usageReport(db, { groupBy: "day", from: DAY1, to: DAY1 + 2 }).map((r) => r.requests)).toEqual([2]);
    expect(usageReport(db, { groupBy: "model", from: Date.UTC(2027, 0, 1) })).toEqual([]);
  });

  test("the JSON body says the period and grouping, and carries a total", () => {
    const body = usageJson({ groupBy: "model", from: Date.UTC(2026, 11, 1) }, BY_MODEL);
    expect(body).toMatchObject({ object: "usage_report", from: "2026-12-01T00:00:00.000Z", to: null, group_by: "model", rows: BY_MODEL });
    expect(body.total).toEqual({
      requests: 8, errors: 3, aborted: 1, cache_hits: 1, usage_estimated: 2, prompt_tokens: 4_450, completion_tokens: 780,
      cached_prompt_tokens: 400, cost_usd: 0.014787, cost_unknown: 2,
    });
  });
});

describe("chatgate usage", () => {
  const env = { CHATGATE_DATA_DIR: dataDir };

  test("a table by model with a total and a note about unknown costs", () => {
    const result = usageCommand([], env, "/nonexistent-home");
    expect(result).toEqual({ code: 0, stderr: "", stdout: expect.any(String) });
    expect(result.stdout).toBe(
      [
        "model   requests  errors  aborted  cache_hits  usage_estimated  prompt_tokens  completion_tokens  cached_prompt_tokens  cost_usd  cost_unknown",
        "(none)         1       1        0           0                0              0                  0                     0  0.000000             0",
        "fast           4       1        1           1                1           2300                220                   400  0.000237             1",
        "local          1       0        0           0                1             50                 10                     0  0.000000             1",
        "smart          2       1        0           0                0           2100                550                     0  0.014550             0",
        "------  --------  ------  -------  ----------  ---------------  -------------  -----------------  --------------------  --------  ------------",
        "total          8       3        1           1                2           4450                780                   400  0.014787             2",
        "",
        "2 requests have no known cost (a model without a price, or no usage from a call that ran); cost_usd leaves them out.",
        "",
      ].join("\n"),
    );
  });

  test("CSV by day, the group column named for what it is", () => {
    const result = usageCommand(["--format", "csv", "--group-by", "day"], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      "day,requests,errors,aborted,cache_hits,usage_estimated,prompt_tokens,completion_tokens,cached_prompt_tokens,cost_usd,cost_unknown\r\n" +
        "2026-12-05,3,1,0,0,0,3000,600,400,0.01368,1\r\n" +
        "2026-12-06,5,2,1,1,2,1450,180,0,0.001107,1\r\n",
    );
  });

  test("JSON for one day by key: the route's body", () => {
    const result = usageCommand(["--format=json", "--group-by=key", "--from", "2026-12-06", "--to", "2026-12-06"], env);
    expect(result.code).toBe(0);
    const body = JSON.parse(result.stdout);
    expect(body).toMatchObject({ object: "usage_report", from: "2026-12-06T00:00:00.000Z", to: "2026-12-07T00:00:00.000Z", group_by: "key" });
    expect(body.rows.map((r: UsageRow) => [r.group, r.requests])).toEqual([[null, 1], ["k_a", 2], ["k_b", 2]]);
    expect(body.total.requests).toBe(5);
  });

  test("--data-dir wins over the environment; without either, ~/.local/share/chatgate", () => {
    expect(usageCommand(["--data-dir", dataDir, "--format", "csv"], { CHATGATE_DATA_DIR: join(root, "elsewhere") }).code).toBe(0);
    const home = join(root, "home");
    const missing = usageCommand([], {}, home);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(join(home, ".local", "share", "chatgate", "ledger.sqlite"));
  });

  test("a CSV cell with a comma or a quote is quoted", () => {
    expect(formatUsage("csv", { groupBy: "model" }, [sums('a,"b"', { requests: 1 })])).toContain('\r\n"a,""b""",1,');
  });

  test("an empty period says so", () => {
    expect(usageCommand(["--from", "2030-01-01"], env).stdout).toBe("No requests recorded in this period.\n");
  });

  test("it reads while a gateway holds the ledger open and writes to it", () => {
    const dir = join(root, "live");
    const ledger = Ledger.open({ path: ledgerPath(dir), every: () => () => {} });
    ledger.record(row(Date.now(), { ...tokens(10, 5), costUsd: 0.0000045 }));
    ledger.flush();
    const first = usageCommand(["--format", "json"], { CHATGATE_DATA_DIR: dir });
    ledger.record(row(Date.now(), { ...tokens(10, 5), costUsd: 0.0000045 }));
    ledger.flush();
    const second = usageCommand(["--format", "json"], { CHATGATE_DATA_DIR: dir });
    ledger.close();
    expect(JSON.parse(first.stdout).total.requests).toBe(1);
    expect(JSON.parse(second.stdout).total.requests).toBe(2);
  });

  test("a ledger at an older schema is not migrated by a reader: it says to start chatgate", () => {
    const dir = join(root, "old");
    mkdirSync(dir);
    const old = new Database(ledgerPath(dir), { create: true });
    migrate(old, 1);
    old.close();
    const result = usageCommand([], { CHATGATE_DATA_DIR: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("schema version 1; start chatgate once");
    const after = new Database(ledgerPath(dir), { readonly: true });
    expect(schemaVersion(after)).toBe(1);
    after.close();
  });

  test("bad options exit 2 naming the option; --help exits 0", () => {
    const groupBy = usageCommand(["--group-by", "user"], env);
    expect(groupBy.code).toBe(2);
    expect(groupBy.stderr).toContain("--group-by must be one of key, model, provider, day, not 'user'");
    expect(usageCommand(["--format", "xml"], env).stderr).toContain("--format must be one of table, csv, json");
    expect(usageCommand(["--from", "yesterday"], env).stderr).toContain("--from must be a date");
    expect(usageCommand(["--verbose"], env).code).toBe(2);
    const help = usageCommand(["--help"], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: chatgate usage");
  });
});
