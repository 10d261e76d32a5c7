// GET /v1/usage on the real app with a real ledger file: who may read it (the admin key only),
// what it sums and how, its parameters, the ledger turned off, and prices that follow a reload.
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OpenAPIV3 } from "openapi-types";
import { parseConfig, type Env } from "../src/config.ts";
import { ledgerPath } from "../src/ledger/data-dir.ts";
import type { UsageRow } from "../src/ledger/usage-report.ts";
import { expectOpenAIError } from "./errors-shape.ts";
import { post, startGateway } from "./support/gateway.ts";

const root = mkdtempSync(join(tmpdir(), "chatgate-usage-route-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `data-${++dirs}`);

const ADMIN = "adm-usage-route-7Hq2";
const CLIENT_A = "ck-usage-route-a";
const CLIENT_B = "ck-usage-route-b";
const HI = [{ role: "user", content: "hi there" }];

interface Report {
  object: string;
  from: string | null;
  to: string | null;
  group_by: string;
  rows: UsageRow[];
  total: Omit<UsageRow, "group">;
}

/** `key` null: no Authorization header. */
const getUsage = (url: string, query = "", key: string | null = ADMIN) =>
  fetch(`${url}/v1/usage${query}`, { headers: key === null ? {} : { authorization: `Bearer ${key}` } });

async function report(url: string, query = ""): Promise<Report> {
  const res = await getUsage(url, query);
  expect(res.status).toBe(200);
  return (await res.json()) as Report;
}

const chat = (url: string, key: string, model = "mock", stream = false) =>
  post(`${url}/v1/chat/completions`, { model, messages: HI, ...(stream ? { stream: true } : {}) }, { authorization: `Bearer ${key}` });

/** A gateway on the mock with client keys, the admin key and a ledger in a fresh directory. */
function gateway(env: Env = {}) {
  return startGateway({ CHATGATE_MOCK: "1", CHATGATE_API_KEYS: `${CLIENT_A},${CLIENT_B}`, CHATGATE_ADMIN_KEY: ADMIN, CHATGATE_DATA_DIR: freshDir(), ...env });
}

describe("who may read GET /v1/usage", () => {
  test("without CHATGATE_ADMIN_KEY, nobody: a key gets 403 saying how to turn it on, no key the usual 401", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1", CHATGATE_API_KEYS: CLIENT_A, CHATGATE_DATA_DIR: freshDir() });
    for (const key of [CLIENT_A, "anything"]) {
      const error = await expectOpenAIError(await getUsage(gw.url, "", key), 403, { code: "admin_key_not_configured" });
      expect(error.message).toContain("Set CHATGATE_ADMIN_KEY");
    }
    await expectOpenAIError(await getUsage(gw.url, "", null), 401, { code: "invalid_api_key" });
  });

  test("the admin key reads it; a client key gets 403; no key or a wrong one 401", async () => {
    await using gw = gateway();
    expect((await getUsage(gw.url)).status).toBe(200);
    await expectOpenAIError(await getUsage(gw.url, "", CLIENT_A), 403, { code: "insufficient_permissions", type: "invalid_request_error" });
    await expectOpenAIError(await getUsage(gw.url, "", null), 401, { code: "invalid_api_key", type: "invalid_request_error" });
    await expectOpenAIError(await getUsage(gw.url, "", "adm-wrong"), 401, { code: "invalid_api_key" });
    // Not a client's route: the admin key is no client key.
    await expectOpenAIError(await chat(gw.url, ADMIN), 401, { code: "invalid_api_key" });
  });

  test("wrong admin keys count as failed key attempts even without client keys: then 429, the right key included", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1", CHATGATE_ADMIN_KEY: ADMIN, CHATGATE_AUTH_FAILURE_LIMIT: "2", CHATGATE_DATA_DIR: freshDir() });
    for (let i = 0; i < 2; i++) expect((await getUsage(gw.url, "", `guess-${i}`)).status).toBe(401);
    const blocked = await getUsage(gw.url);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    await expectOpenAIError(blocked, 429, { code: "rate_limit_exceeded" });
  });
});

describe("what GET /v1/usage reports", () => {
  test("requests, errors and tokens per model, key, provider and day; a report right after a request includes it", async () => {
    await using gw = gateway();
    const answers = [await chat(gw.url, CLIENT_A), await chat(gw.url, CLIENT_A, "gpt-4o-mini"), await chat(gw.url, CLIENT_B)];
    const usage = await Promise.all(answers.map(async (r) => ((await r.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage));
    expect((await chat(gw.url, "ck-wrong")).status).toBe(401);

    const byModel = await report(gw.url);
    expect(byModel).toMatchObject({ object: "usage_report", from: null, to: null, group_by: "model" });
    // The refusal was never routed: no model.
    expect(byModel.rows.map((r) => [r.group, r.requests, r.errors])).toEqual([[null, 1, 1], ["gpt-4o-mini", 1, 0], ["mock", 2, 0]]);
    const prompt = usage.reduce((sum, u) => sum + u.prompt_tokens, 0);
    const completion = usage.reduce((sum, u) => sum + u.completion_tokens, 0);
    expect(byModel.total).toMatchObject({ requests: 4, errors: 1, prompt_tokens: prompt, completion_tokens: completion, cost_usd: 0, cost_unknown: 0 });

    // Each report is a request with a row of its own (no key: the admin key is no client key, no
    // model, no provider), in the reports asked for after it.
    const byKey = await report(gw.url, "?group_by=key");
    expect(byKey.rows.map((r) => r.requests).sort()).toEqual([1, 2, 2]);
    expect(byKey.rows.find((r) => r.group === null)).toMatchObject({ requests: 2, errors: 1 });
    expect(byKey.rows.some((r) => r.group === null && r.errors === 1)).toBe(true);
    expect(JSON.stringify(byKey)).not.toContain(CLIENT_A);
    expect((await report(gw.url, "?group_by=provider")).rows.map((r) => [r.group, r.requests])).toEqual([[null, 3], ["mock", 3]]);
    const today = new Date().toISOString().slice(0, 10);
    expect((await report(gw.url, "?group_by=day")).rows.map((r) => [r.group, r.requests])).toEqual([[today, 7]]);
  });

  test("a stream is reported once its response has ended", async () => {
    await using gw = gateway();
    const res = await chat(gw.url, CLIENT_A, "mock", true);
    expect(await res.text()).toContain("data: [DONE]");
    // The finish record is written as the response ends, which the client may see a moment before.
    // Read by its model: the reports asked for meanwhile are rows too, without one.
    const streamed = async () => (await report(gw.url)).rows.find((r) => r.group === "mock");
    let row = await streamed();
    for (let i = 0; i < 100 && row === undefined; i++) row = await streamed();
    expect(row).toMatchObject({ requests: 1, errors: 0, aborted: 0 });
  });

  test("from and to bound the period: dates, ISO times, a `to` date including its whole day", async () => {
    await using gw = gateway();
    await chat(gw.url, CLIENT_A);
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    expect((await report(gw.url, `?from=${today}&to=${today}`)).total.requests).toBe(1);
    const later = await report(gw.url, `?from=${tomorrow}`);
    expect(later).toMatchObject({ from: `${tomorrow}T00:00:00.000Z`, rows: [], total: { requests: 0 } });
    expect((await report(gw.url, `?to=${today}T00:00:00Z`)).total.requests).toBe(0);
  });

  test("a parameter that cannot be read is a 400 naming it", async () => {
    await using gw = gateway();
    const cases: [string, string, string][] = [
      ["?group_by=user", "group_by", "must be one of key, model, provider, day"],
      ["?from=yesterday", "from", "must be a date (2026-12-01) or an ISO 8601 time"],
      ["?from=1733000000", "from", "must be a date"],
      ["?to=2026-02-31", "to", "must be a date"],
      ["?from=2026-12-05&to=2026-12-01", "to", "must be later than from"],
      ["?groupby=key", "groupby", "Unrecognized query parameter: 'groupby'"],
      ["?group_by=key&group_by=day", "group_by", "given more than once"],
    ];
    for (const [query, param, message] of cases) {
      const error = await expectOpenAIError(await getUsage(gw.url, query), 400, { param, type: "invalid_request_error" });
      expect(error.message).toContain(message);
    }
  });

  test("the OpenAPI document lists it, with its parameters and a schema for its answer", async () => {
    await using gw = gateway();
    const doc = (await (await fetch(`${gw.url}/docs/json`)).json()) as OpenAPIV3.Document;
    const op = doc.paths["/v1/usage"]?.get as OpenAPIV3.OperationObject;
    expect(op.summary).toContain("Usage report");
    expect(op.tags).toEqual(["chatgate"]);
    expect((op.parameters as OpenAPIV3.ParameterObject[]).map((p) => p.name)).toEqual(["from", "to", "group_by"]);
    expect((op.responses["200"] as OpenAPIV3.ResponseObject).content?.["application/json"]?.schema).toMatchObject({ type: "object" });
    expect(Object.keys(op.responses).sort()).toEqual(["200", "400", "401", "403", "404", "429"]);
  });
});

describe("CHATGATE_LEDGER=0", () => {
  test("nothing is opened or written, and the report says the ledger is off", async () => {
    const dataDir = freshDir();
    await using gw = gateway({ CHATGATE_LEDGER: "0", CHATGATE_DATA_DIR: dataDir });
    expect(gw.app.ledger).toBeUndefined();
    expect((await chat(gw.url, CLIENT_A)).status).toBe(200);
    const error = await expectOpenAIError(await getUsage(gw.url), 404, { code: "usage_ledger_off" });
    expect(error.message).toContain("CHATGATE_LEDGER=0");
    // The admin key is still checked first: the state of the ledger is not told to anyone.
    await expectOpenAIError(await getUsage(gw.url, "", CLIENT_A), 403, { code: "insufficient_permissions" });
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe("prices", () => {
  /** A config file pricing the mock's `house` target; rewritten to change the price. */
  const priced = (path: string, input: number, output: number) =>
    writeFileSync(path, JSON.stringify({ providers: [{ id: "mock", type: "mock" }], models: { house: { targets: [{ provider: "mock", model: "house-model", price: { input, output } }] } } }));

  test("a target's price: sets the cost; a reload's new price applies to the requests after it", async () => {
    const configPath = join(mkdtempSync(join(root, "config-")), "chatgate.yaml");
    priced(configPath, 1, 2);
    const dataDir = freshDir();
    const env = { CHATGATE_CONFIG: configPath, CHATGATE_ADMIN_KEY: ADMIN, CHATGATE_DATA_DIR: dataDir, CHATGATE_RATE_LIMIT_MAX: "0" };
    await using gw = startGateway(env);
    const ask = async () => {
      const res = await post(`${gw.url}/v1/chat/completions`, { model: "house", messages: HI });
      return ((await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
    };
    const first = await ask();
    priced(configPath, 10, 20);
    gw.app.reload(parseConfig({ ...env, PORT: "0", HOST: "127.0.0.1" }));
    const second = await ask();

    await report(gw.url); // flushes
    const db = new Database(ledgerPath(dataDir), { readonly: true });
    const costs = db.query("SELECT cost_usd FROM requests ORDER BY id").all() as { cost_usd: number }[];
    db.close();
    expect(costs.map((c) => c.cost_usd)).toEqual([
      (first.prompt_tokens * 1 + first.completion_tokens * 2) / 1e6,
      (second.prompt_tokens * 10 + second.completion_tokens * 20) / 1e6,
    ]);
    expect(readdirSync(dataDir)).toContain("ledger.sqlite");
  });
});
