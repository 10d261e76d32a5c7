// The usage ledger of the compiled binary, read back from its SQLite file: one row per request
// however it ended (JSON, stream, refusal, upstream failure, truncation, client abort, resume), with
// the cost of a target priced in the config; SIGTERM loses nothing; an old file is migrated on start;
// `chatgate usage` prints it.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ledgerPath } from "../src/ledger/data-dir.ts";
import { LATEST_VERSION, migrate, schemaVersion } from "../src/ledger/schema.ts";
import type { UsageRow } from "../src/ledger/usage-report.ts";
import { compiledBinary, spawnBinary } from "./support/binary.ts";
import { openaiAt, routedEnv, type ConfigDoc } from "./support/config-file.ts";
import { DEFAULT_PROMPT_TOKENS } from "./support/openai-wire.ts";
import { runGateway, type GatewayProcess } from "./support/process.ts";
import { ANSWER, P, QUESTION } from "./support/resume.ts";
import { fakeOpenAI, type FakeOpenAI } from "./support/upstream.ts";

// Built once per source state, shared with the other binary tests; the build outlasts a test's timeout.
beforeAll(() => compiledBinary(), 120_000);

const root = mkdtempSync(join(tmpdir(), "chatgate-ledger-binary-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `data-${++dirs}`);

const ADMIN = "adm-ledger-binary-Qm4x";
const CLIENT = "ck-ledger-binary";
/** USD per 1M tokens of the priced targets: round numbers, so every expected cost is exact. */
const PRICE = { input: 2, output: 8, cached_input: 0.5 };
const costOf = (prompt: number, completion: number) => (prompt * PRICE.input + completion * PRICE.output) / 1e6;
const HI = [{ role: "user", content: "hi" }];

interface RequestRow {
  request_id: string;
  key_id: string | null;
  route: string;
  model: string | null;
  provider: string | null;
  upstream_model: string | null;
  status: number;
  outcome: string;
  stream: number;
  resumed: number;
  cached: number;
  usage_estimated: number;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  cached_prompt_tokens: number | null;
  cost_usd: number | null;
  ttfb_ms: number | null;
  duration_ms: number;
  error_code: string | null;
}
type AttemptRow = { provider: string; model: string; status: number; reason: string; prompt_tokens: number | null; completion_tokens: number | null; cost_usd: number | null };

/** Reads the ledger file as another process would, while the gateway holds it open. */
function readLedger(dataDir: string) {
  const db = new Database(ledgerPath(dataDir), { readonly: true });
  try {
    const requests = db.query("SELECT * FROM requests ORDER BY id").all() as (RequestRow & { id: number })[];
    const attempts = db.query("SELECT * FROM attempts ORDER BY request, seq").all() as (AttemptRow & { request: number })[];
    return requests.map((r) => ({ ...r, attempts: attempts.filter((a) => a.request === r.id) }));
  } finally {
    db.close();
  }
}

async function usage(gw: GatewayProcess, query = "", id?: string): Promise<{ rows: UsageRow[]; total: Omit<UsageRow, "group"> }> {
  const res = await fetch(`${gw.url}/v1/usage${query}`, { headers: { authorization: `Bearer ${ADMIN}`, ...(id === undefined ? {} : { "x-request-id": id }) } });
  expect(res.status).toBe(200);
  return (await res.json()) as { rows: UsageRow[]; total: Omit<UsageRow, "group"> };
}

/**
 * Asks for the report (which writes what is pending) until the file holds a row for each of `ids`:
 * a stream's row comes as its response ends. Each report is a request with a row of its own.
 */
async function untilRecorded(gw: GatewayProcess, dataDir: string, ids: readonly string[]): Promise<void> {
  for (let i = 0; i < 200; i++) {
    await usage(gw);
    const have = new Set(readLedger(dataDir).map((r) => r.request_id));
    if (ids.every((id) => have.has(id))) return;
  }
  throw new Error(`the ledger never held ${ids.join(", ")}`);
}

/** Asks for the report once more and waits for that request's own row (the flush timer writes it): nothing is left pending. */
async function settled(gw: GatewayProcess, dataDir: string): Promise<number> {
  const id = `report-${crypto.randomUUID()}`;
  await usage(gw, "", id);
  for (let i = 0; i < 100; i++) {
    const rows = readLedger(dataDir);
    if (rows.some((r) => r.request_id === id)) return rows.length;
    await Bun.sleep(50);
  }
  throw new Error(`the row of ${id} was never written`);
}

/** The usage of a stream's usage chunk (the last event with one). */
function usageChunkOf(sse: string): { prompt_tokens: number; completion_tokens: number } {
  const events = sse.split("\n").filter((l) => l.startsWith("data: {")).map((l) => JSON.parse(l.slice(6)) as { usage?: { prompt_tokens: number; completion_tokens: number } | null });
  const usage = events.findLast((e) => e.usage)?.usage;
  if (!usage) throw new Error(`no usage chunk in:\n${sse}`);
  return usage;
}

const chat = (gw: GatewayProcess, id: string, body: Record<string, unknown>, init: { key?: string; signal?: AbortSignal } = {}) =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${init.key ?? CLIENT}`, "x-request-id": id },
    body: JSON.stringify(body),
    signal: init.signal,
  });

describe("one ledger row per request, however it ended", () => {
  let a: FakeOpenAI;
  let b: FakeOpenAI;
  let gw: GatewayProcess;
  const dataDir = freshDir();
  const rows = new Map<string, ReturnType<typeof readLedger>[number]>();
  let resumedUsage: { prompt_tokens: number; completion_tokens: number } | undefined;

  beforeAll(async () => {
    a = fakeOpenAI();
    b = fakeOpenAI();
    const doc = {
      providers: [{ ...openaiAt("a", a), continuation: "prefill" }, { ...openaiAt("b", b), continuation: "prefill" }],
      models: {
        priced: { targets: [{ provider: "a", model: "house-model", price: PRICE }] },
        unpriced: { targets: [{ provider: "a", model: "nobody-prices-this" }] },
        resumable: { resume: true, targets: [{ provider: "a", model: "house-model", price: PRICE }, { provider: "b", model: "house-model", price: PRICE }] },
      },
    };
    gw = await spawnBinary({ ...routedEnv(doc as ConfigDoc), CHATGATE_DATA_DIR: dataDir, CHATGATE_ADMIN_KEY: ADMIN, CHATGATE_API_KEYS: CLIENT, CHATGATE_RATE_LIMIT_MAX: "0" });

    // JSON: the fake's usage is 5 prompt and 3 completion tokens.
    expect((await chat(gw, "json", { model: "priced", messages: HI })).status).toBe(200);
    expect(await (await chat(gw, "stream", { model: "priced", messages: HI, stream: true, stream_options: { include_usage: true } })).text()).toContain("[DONE]");
    expect((await chat(gw, "refused", { model: "priced", messages: HI }, { key: "ck-wrong" })).status).toBe(401);
    a.reply({ kind: "error", status: 502 });
    expect((await chat(gw, "upstream-502", { model: "priced", messages: HI })).status).toBe(502);
    a.reply({ kind: "stream", cutAfterEvents: 2 });
    const truncated = await (await chat(gw, "truncated", { model: "priced", messages: HI, stream: true, stream_options: { include_usage: true } })).text();
    expect(truncated).toContain('"error"');
    expect(truncated).not.toContain("[DONE]");
    // The client reads the first event and goes: chatgate cancels the upstream call.
    a.reply({ kind: "stream", stallAfterEvents: 2 });
    const leaving = new AbortController();
    const cut = await chat(gw, "client-abort", { model: "priced", messages: HI, stream: true }, { signal: leaving.signal });
    await cut.body!.getReader().read();
    leaving.abort();
    await a.calls.at(-1)!.aborted;
    // Cut after 40 of 60 words on a; b continues the prefill.
    a.reply({ kind: "answer", answer: ANSWER, style: "prefill", cutAfterWords: 40 });
    b.reply({ kind: "answer", answer: ANSWER, style: "prefill" });
    const resumed = await (await chat(gw, "resumed", { model: "resumable", messages: QUESTION, stream: true, stream_options: { include_usage: true } })).text();
    expect(resumed).toContain("[DONE]");
    resumedUsage = usageChunkOf(resumed);
    expect((await chat(gw, "unpriced", { model: "unpriced", messages: HI })).status).toBe(200);
    // Answers the gateway gives without a model: each a row too.
    for (const [id, path] of [["models", "/v1/models"], ["health", "/health"], ["metrics", "/metrics"]] as const) {
      const res = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${CLIENT}`, "x-request-id": id } });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }

    await untilRecorded(gw, dataDir, ["json", "stream", "refused", "upstream-502", "truncated", "client-abort", "resumed", "unpriced", "models", "health", "metrics"]);
    for (const row of readLedger(dataDir)) rows.set(row.request_id, row);
  }, 60_000);
  afterAll(async () => {
    await gw?.stop();
    await a?.stop();
    await b?.stop();
  });

  test("a JSON answer: its usage, priced at the target's price:", () => {
    const cost = costOf(DEFAULT_PROMPT_TOKENS, 3);
    expect(rows.get("json")).toMatchObject({
      route: "/v1/chat/completions", model: "priced", provider: "a", upstream_model: "house-model", status: 200, outcome: "ok", stream: 0, resumed: 0,
      cached: 0, usage_estimated: 0, prompt_tokens: DEFAULT_PROMPT_TOKENS, completion_tokens: 3, cached_prompt_tokens: 0, cost_usd: cost, error_code: null,
      attempts: [{ provider: "a", model: "house-model", status: 200, reason: "ok", prompt_tokens: DEFAULT_PROMPT_TOKENS, completion_tokens: 3, cost_usd: cost }],
    });
    // The client key's id, never the key.
    expect(rows.get("json")!.key_id).toEqual(expect.any(String));
    expect(rows.get("json")!.key_id).not.toContain(CLIENT);
    expect(rows.get("json")!.ttfb_ms).toBeGreaterThanOrEqual(0);
  });

  test("a stream: the usage chunk's counts, the same price", () => {
    expect(rows.get("stream")).toMatchObject({ status: 200, outcome: "ok", stream: 1, prompt_tokens: DEFAULT_PROMPT_TOKENS, completion_tokens: 3, cost_usd: costOf(DEFAULT_PROMPT_TOKENS, 3) });
  });

  test("a 401: no model, no attempt, no cost", () => {
    expect(rows.get("refused")).toMatchObject({ key_id: null, model: null, provider: null, status: 401, outcome: "error", error_code: "invalid_api_key", prompt_tokens: null, cost_usd: 0, attempts: [] });
  });

  test("an upstream 502: the failed attempt, and a cost nobody can know", () => {
    expect(rows.get("upstream-502")).toMatchObject({ status: 502, outcome: "error", prompt_tokens: null, cost_usd: null, attempts: [{ provider: "a", status: 502, cost_usd: null }] });
  });

  test("a truncated stream and a client abort: status 200 (already sent), outcome truncated or client_abort", () => {
    expect(rows.get("truncated")).toMatchObject({ status: 200, outcome: "truncated", stream: 1 });
    // The attempt whose stream broke says so, as a resumed stream's broken part does (not 200 ok).
    expect(rows.get("truncated")!.attempts.map((t) => [t.provider, t.status, t.reason])).toEqual([["a", 502, "upstream_stream_truncated"]]);
    // It streamed what was delivered: the request's tokens and cost are that attempt's.
    const cut = rows.get("truncated")!;
    expect(cut.attempts[0]).toMatchObject({ prompt_tokens: cut.prompt_tokens, completion_tokens: cut.completion_tokens, cost_usd: cut.cost_usd });
    expect(rows.get("client-abort")).toMatchObject({ status: 200, outcome: "client_abort", stream: 1 });
    for (const id of ["truncated", "client-abort"]) {
      const row = rows.get(id)!;
      // No usage came from the upstream: unknown, or a tokenizer's estimate marked as one and priced.
      if (row.usage_estimated === 1) expect(row.cost_usd).toBe(costOf(row.prompt_tokens!, row.completion_tokens!));
      else expect(row).toMatchObject({ prompt_tokens: null, completion_tokens: null, cost_usd: null });
    }
  });

  test("a resumed stream: both parts' attempts, the usage the client was told (summed over the parts) priced at the answering target", () => {
    const told = resumedUsage!;
    // Both parts count: more than one request's prompt (the continuation resends it with the text so far).
    expect(told.prompt_tokens).toBeGreaterThan(P);
    expect(told.completion_tokens).toBeGreaterThan(0);
    expect(rows.get("resumed")).toMatchObject({
      model: "resumable", provider: "b", status: 200, outcome: "ok", resumed: 1,
      prompt_tokens: told.prompt_tokens, completion_tokens: told.completion_tokens, cost_usd: costOf(told.prompt_tokens, told.completion_tokens),
    });
    expect(rows.get("resumed")!.attempts.map((t) => [t.provider, t.reason])).toEqual([["a", expect.any(String)], ["b", "resumed"]]);
    // Each attempt row has what its upstream reported for its part: the cut part reported nothing;
    // the continuation its own counts, priced at its target (less than the whole, which sums both parts).
    const [cut, continued] = rows.get("resumed")!.attempts;
    expect(cut).toMatchObject({ prompt_tokens: null, completion_tokens: null });
    expect(continued!.prompt_tokens).toBeGreaterThan(0);
    expect(continued!.completion_tokens).toBeGreaterThan(0);
    expect(continued!.completion_tokens).toBeLessThan(told.completion_tokens);
    expect(continued!.cost_usd).toBe(costOf(continued!.prompt_tokens!, continued!.completion_tokens!));
  });

  test("GET /v1/models, /health and /metrics answered 200: a row each, no model, provider, attempt or cost; the client key that asked", () => {
    for (const [id, route] of [["models", "/v1/models"], ["health", "/health"], ["metrics", "/metrics"]] as const) {
      expect(rows.get(id)).toMatchObject({ route, model: null, provider: null, upstream_model: null, status: 200, outcome: "ok", stream: 0, prompt_tokens: null, cost_usd: 0, error_code: null, attempts: [] });
      expect(rows.get(id)!.duration_ms).toBeGreaterThanOrEqual(0);
    }
    // /health is public: no key is looked at. /v1/models and /metrics took the client key.
    expect(rows.get("health")!.key_id).toBeNull();
    expect(rows.get("models")!.key_id).toBe(rows.get("json")!.key_id);
    expect(rows.get("metrics")!.key_id).toBe(rows.get("json")!.key_id);
  });

  test("exactly one row per request: none twice, the usage reports' own included", async () => {
    await settled(gw, dataDir);
    const ids = readLedger(dataDir).map((r) => r.request_id);
    expect(ids.length).toBeGreaterThan(11);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
  });

  test("a model without a price: cost null, counted in cost_unknown by /v1/usage and never summed as 0", async () => {
    expect(rows.get("unpriced")).toMatchObject({ upstream_model: "nobody-prices-this", prompt_tokens: DEFAULT_PROMPT_TOKENS, completion_tokens: 3, cost_usd: null });
    const byModel = await usage(gw, "?group_by=model");
    expect(byModel.rows.find((r) => r.group === "unpriced")).toMatchObject({ requests: 1, cost_usd: 0, cost_unknown: 1 });
    const known = [...rows.values()].reduce((sum, r) => sum + (r.cost_usd ?? 0), 0);
    expect(byModel.total.cost_usd).toBeCloseTo(known, 12);
    expect(byModel.total.cost_unknown).toBe([...rows.values()].filter((r) => r.cost_usd === null).length);
  });

  test("the README's GET /v1/usage curl, run as written, answers the report it shows", async () => {
    const readme = readFileSync(join(import.meta.dir, "..", "README.md"), "utf8");
    const block = /### Reading it[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)![1]!;
    const command = block.split("\n").filter((line) => !line.startsWith("#")).join("\n").replaceAll("localhost:3000", gw.url);
    const proc = Bun.spawn(["bash", "-c", command], { env: { PATH: "/usr/bin:/bin", CHATGATE_ADMIN_KEY: ADMIN }, stdout: "pipe" });
    const report = JSON.parse(await new Response(proc.stdout).text());
    expect(report).toMatchObject({ object: "usage_report", from: "2026-12-01T00:00:00.000Z", to: "2026-12-08T00:00:00.000Z", group_by: "key" });
    const shown = /^# (\{.*)$/m.exec(block)![1]!;
    for (const field of ["group", "requests", "errors", "aborted", "cache_hits", "usage_estimated", "prompt_tokens", "completion_tokens", "cached_prompt_tokens", "cost_usd", "cost_unknown"]) {
      expect(block).toContain(`"${field}":`);
      expect(Object.keys(report.total).concat("group")).toContain(field);
    }
    expect(shown).toStartWith('{"object":"usage_report","from":"2026-12-01T00:00:00.000Z","to":"2026-12-08T00:00:00.000Z","group_by":"key",');
  });

  test("chatgate usage prints the same from the data dir, beside the running gateway", async () => {
    const binary = await compiledBinary();
    await settled(gw, dataDir);
    const json = await runGateway([binary, "usage", "--data-dir", dataDir, "--format", "json", "--group-by", "model"]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ object: "usage_report", from: null, to: null, group_by: "model", ...(await usage(gw, "?group_by=model")) });

    const inFile = await settled(gw, dataDir);
    const table = await runGateway([binary, "usage", "--group-by", "provider"], { CHATGATE_DATA_DIR: dataDir });
    expect(table.code).toBe(0);
    const lines = table.stdout.split("\n");
    expect(lines[0]).toMatch(/^provider\s+requests\s+errors\s+aborted/);
    // The 11 requests above, and every usage report asked for since, each a row.
    expect(lines.find((l) => l.startsWith("total"))).toMatch(new RegExp(`^total\\s+${inFile}\\s`));
    expect(table.stdout).toMatch(/requests have no known cost/);

    const csv = await runGateway([binary, "usage", "--data-dir", dataDir, "--format", "csv", "--group-by", "key"]);
    expect(csv.stdout.split("\r\n")[0]).toBe("key,requests,errors,aborted,cache_hits,usage_estimated,prompt_tokens,completion_tokens,cached_prompt_tokens,cost_usd,cost_unknown");

    const bad = await runGateway([binary, "usage", "--group-by", "user"], { CHATGATE_DATA_DIR: dataDir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--group-by must be one of key, model, provider, day");
  });
});

describe("the ledger across stops and starts", () => {
  test("SIGTERM right after the answers, rows still pending: every one is in the file, and a stream in flight too", async () => {
    await using up = fakeOpenAI();
    const dataDir = freshDir();
    const gw = await spawnBinary({ OPENAI_BASE_URL: up.url, CHATGATE_DATA_DIR: dataDir, CHATGATE_RATE_LIMIT_MAX: "0" });
    try {
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => chat(gw, `burst-${i}`, { model: "gpt-4o-mini", messages: HI })));
      expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200));
      // One word every 100 ms: still streaming when the signal comes; the drain lets it finish.
      up.reply({ kind: "stream", delayMs: 100 });
      const stream = await chat(gw, "in-flight", { model: "gpt-4o-mini", messages: HI, stream: true, stream_options: { include_usage: true } });
      const reader = stream.body!.getReader();
      await reader.read();
      gw.proc.kill("SIGTERM");
      let text = "";
      for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
      expect(text).toContain("[DONE]");
      expect(await gw.exited).toBe(0);
    } finally {
      await gw.stop();
    }
    const rows = readLedger(dataDir);
    expect(rows).toHaveLength(21);
    expect(new Set(rows.map((r) => r.request_id)).size).toBe(21);
    expect(rows.find((r) => r.request_id === "in-flight")).toMatchObject({ outcome: "ok", stream: 1, prompt_tokens: DEFAULT_PROMPT_TOKENS, completion_tokens: 3 });
    // gpt-4o-mini is in the shipped table: priced without any config.
    expect(rows.every((r) => r.cost_usd !== null && r.cost_usd > 0)).toBe(true);
  });

  test("a second signal exits at once, and still writes the rows of the requests that had ended", async () => {
    await using up = fakeOpenAI();
    const dataDir = freshDir();
    const gw = await spawnBinary({ OPENAI_BASE_URL: up.url, CHATGATE_DATA_DIR: dataDir, CHATGATE_RATE_LIMIT_MAX: "0" });
    try {
      for (let i = 0; i < 5; i++) expect((await chat(gw, `done-${i}`, { model: "gpt-4o-mini", messages: HI })).status).toBe(200);
      up.reply({ kind: "stream", stallAfterEvents: 2 });
      const stalled = await chat(gw, "stalled", { model: "gpt-4o-mini", messages: HI, stream: true });
      await stalled.body!.getReader().read();
      gw.proc.kill("SIGTERM");
      await gw.waitForOutput(/no longer accepting/);
      gw.proc.kill("SIGTERM");
      expect(await gw.exited).toBe(143);
    } finally {
      await gw.stop();
    }
    // The stream cut by the forced exit never finished: it has no row.
    expect(readLedger(dataDir).map((r) => r.request_id)).toEqual(["done-0", "done-1", "done-2", "done-3", "done-4"]);
  });

  test("a ledger file from schema v1 is migrated at start, its rows kept beside the new ones", async () => {
    const dataDir = freshDir();
    mkdirSync(dataDir);
    const old = new Database(ledgerPath(dataDir), { create: true });
    old.exec("PRAGMA journal_mode = WAL");
    migrate(old, 1);
    old.prepare(
      `INSERT INTO requests (ts, request_id, key_id, route, model, provider, upstream_model, status, outcome, stream, resumed, prompt_tokens, completion_tokens, cost_usd, ttfb_ms, duration_ms, error_code)
       VALUES (?, 'from-v1', NULL, '/v1/chat/completions', 'gpt-4o-mini', 'openai', 'gpt-4o-mini', 200, 'ok', 0, 0, 100, 20, 0.000027, 50, 300, NULL)`,
    ).run(Date.now() - 60_000);
    old.close();

    await using gw = await spawnBinary({ CHATGATE_MOCK: "1", CHATGATE_DATA_DIR: dataDir, CHATGATE_ADMIN_KEY: ADMIN });
    expect((await chat(gw, "after-migration", { model: "mock", messages: HI })).status).toBe(200);
    expect((await usage(gw)).total).toMatchObject({ requests: 2, prompt_tokens: expect.any(Number), cost_usd: 0.000027 });
    const db = new Database(ledgerPath(dataDir), { readonly: true });
    expect(schemaVersion(db)).toBe(LATEST_VERSION);
    db.close();
    // The report's own row may be written by now too: its request is not what this test is about.
    const chats = readLedger(dataDir).filter((r) => r.route !== "/v1/usage");
    expect(chats.map((r) => [r.request_id, r.cached_prompt_tokens, r.usage_estimated])).toEqual([["from-v1", null, 0], ["after-migration", 0, 0]]);
  });

  test("rows older than the retention are pruned at start", async () => {
    const dataDir = freshDir();
    mkdirSync(dataDir);
    const old = new Database(ledgerPath(dataDir), { create: true });
    migrate(old);
    const insert = old.prepare(`INSERT INTO requests (ts, request_id, route, status, outcome, stream, resumed, duration_ms) VALUES (?, ?, '/v1/chat/completions', 200, 'ok', 0, 0, 1)`);
    insert.run(Date.now() - 3 * 86_400_000, "three-days-old");
    insert.run(Date.now() - 3_600_000, "an-hour-old");
    old.close();
    const gw = await spawnBinary({ CHATGATE_MOCK: "1", CHATGATE_DATA_DIR: dataDir, CHATGATE_RETENTION_DAYS: "2" });
    gw.proc.kill("SIGTERM");
    expect(await gw.exited).toBe(0);
    expect(readLedger(dataDir).map((r) => r.request_id)).toEqual(["an-hour-old"]);
  });

  test("CHATGATE_LEDGER=0: nothing is created in the data dir", async () => {
    const dataDir = freshDir();
    const gw = await spawnBinary({ CHATGATE_MOCK: "1", CHATGATE_DATA_DIR: dataDir, CHATGATE_LEDGER: "0" });
    expect((await chat(gw, "unrecorded", { model: "mock", messages: HI })).status).toBe(200);
    gw.proc.kill("SIGTERM");
    expect(await gw.exited).toBe(0);
    expect(existsSync(dataDir)).toBe(false);
  });

  test("a data dir that cannot be written refuses to start with exit 1, saying how to fix it or turn the ledger off", async () => {
    const notADir = join(root, "a-file");
    writeFileSync(notADir, "");
    const binary = await compiledBinary();
    const { code, stderr } = await runGateway([binary, "--mock", "--data-dir", join(notADir, "data")], { PORT: "0" });
    expect(code).toBe(1);
    expect(stderr).toContain(`chatgate: refusing to start: cannot open the usage ledger at ${join(notADir, "data", "ledger.sqlite")}`);
    expect(stderr).toContain("CHATGATE_LEDGER=0");
  });
});
