// POST /v1/embeddings against the compiled binary, as a user runs it: a config file, fake upstreams
// in this process, the openai SDK as client, the ledger read back from its SQLite file.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { ledgerPath } from "../src/ledger/data-dir.ts";
import { compiledBinary, spawnBinary } from "./support/binary.ts";
import { anthropicAt, keyOf, openaiAt, routedEnv, type ConfigDoc } from "./support/config-file.ts";
import { embeddingsText, fakeVector } from "./support/embeddings-wire.ts";
import { fakeAnthropic } from "./support/fake-anthropic.ts";
import { sha256Hex } from "./support/keys.ts";
import type { GatewayProcess } from "./support/process.ts";
import { errorOf } from "./support/routed.ts";
import { fakeOpenAI, type FakeOpenAI } from "./support/upstream.ts";

// Built once per source state, shared with the other binary tests; the build outlasts a test's timeout.
beforeAll(() => compiledBinary(), 120_000);

const root = mkdtempSync(join(tmpdir(), "chatgate-embeddings-binary-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;

const SMALL = "text-embedding-3-small";
const SECRET = "ck-embeddings-binary";
const ADMIN = "adm-embeddings-binary-7Qx";
const auth = { authorization: `Bearer ${SECRET}` };

interface Running extends AsyncDisposable {
  gw: GatewayProcess;
  a: FakeOpenAI;
  b: FakeOpenAI;
  dataDir: string;
  client: OpenAI;
}

/**
 * The binary on `embed` → a/text-embedding-3-small then b/text-embedding-3-small, `smart` on
 * Anthropic only, `mixed` Anthropic then a; one client key that may use all but `chat`.
 */
async function running(config: Omit<ConfigDoc, "providers" | "models"> = {}): Promise<Running> {
  const a = fakeOpenAI();
  const b = fakeOpenAI();
  const claude = fakeAnthropic();
  const dataDir = join(root, `data-${++dirs}`);
  const doc = {
    providers: [openaiAt("a", a), openaiAt("b", b), anthropicAt("claude", claude)],
    models: {
      embed: { targets: [{ provider: "a", model: SMALL }, { provider: "b", model: SMALL }] },
      smart: { targets: [{ provider: "claude", model: "claude-sonnet-4-5" }] },
      mixed: { targets: [{ provider: "claude", model: "claude-sonnet-4-5" }, { provider: "a", model: SMALL }] },
      chat: { targets: [{ provider: "a", model: "gpt-4o-mini" }] },
    },
    keys: [{ id: "team", key: `sha256:${sha256Hex(SECRET)}`, models: ["embed", "smart", "mixed", `a/${SMALL}`] }],
    ...config,
  };
  const gw = await spawnBinary({ ...routedEnv(doc as ConfigDoc), CHATGATE_DATA_DIR: dataDir, CHATGATE_ADMIN_KEY: ADMIN, CHATGATE_RATE_LIMIT_MAX: "0" });
  const client = new OpenAI({ apiKey: SECRET, baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: 10_000 });
  const stop = async () => {
    await gw.stop();
    expect(claude.calls).toHaveLength(0);
    await Promise.all([a.stop(), b.stop(), claude.stop()]);
  };
  return { gw, a, b, dataDir, client, [Symbol.asyncDispose]: stop };
}

const embed = (r: Running, body: unknown, headers: Record<string, string> = auth) =>
  fetch(`${r.gw.url}/v1/embeddings`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

describe("the compiled binary serves /v1/embeddings", () => {
  test("the openai SDK gets the upstream's vectors as float and as base64 (decoded by the SDK), the body byte for byte", async () => {
    await using r = await running();
    const float = await r.client.embeddings.create({ model: "embed", input: ["one two", "three"], encoding_format: "float" });
    expect(float.data.map((d) => d.embedding)).toEqual([Array.from(fakeVector(SMALL, "one two")), Array.from(fakeVector(SMALL, "three"))]);
    const base64 = await r.client.embeddings.create({ model: "embed", input: "four" });
    expect((r.a.calls[1]!.body as { encoding_format: string }).encoding_format).toBe("base64");
    expect(base64.data[0]!.embedding).toEqual(Array.from(fakeVector(SMALL, "four")));
    const sent = { model: `a/${SMALL}`, input: "five", encoding_format: "base64" };
    const res = await embed(r, sent);
    expect(await res.text()).toBe(embeddingsText({ model: SMALL, input: "five", encoding_format: "base64" }));
    // `provider/model` naming the target's own model: the client's bytes went as they were, but for the model.
    expect(r.a.calls[2]!.body).toEqual({ ...sent, model: SMALL });
  });

  test("a 429 is retried after its Retry-After, and a target's 500s fall back to the next", async () => {
    await using r = await running({ retries: 1, max_retry_wait: "10s" });
    r.a.reply({ kind: "error", status: 429, headers: { "retry-after": "1" } });
    const started = performance.now();
    const retried = await embed(r, { model: "embed", input: "x" });
    expect(retried.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    expect([retried.headers.get("x-chatgate-provider"), retried.headers.get("x-chatgate-attempts")]).toEqual(["a", "2"]);
    r.a.reply({ kind: "error", status: 500 }, { kind: "error", status: 500 });
    const fellBack = await embed(r, { model: "embed", input: "x" });
    expect([fellBack.status, fellBack.headers.get("x-chatgate-provider"), fellBack.headers.get("x-chatgate-attempts")]).toEqual([200, "b", "3"]);
    expect(r.b.calls.map((c) => (c.body as { model: string }).model)).toEqual([SMALL]);
  });

  test("Anthropic: a model served only there is a 400 naming the provider; one with an OpenAI fallback embeds there", async () => {
    await using r = await running();
    const { status, error } = await errorOf(await embed(r, { model: "smart", input: "x" }));
    expect(status).toBe(400);
    expect(error).toMatchObject({ type: "invalid_request_error", param: "model", code: "embeddings_not_supported" });
    expect(error.message).toStartWith("Provider 'claude' (anthropic) does not offer embeddings");
    const mixed = await r.client.embeddings.create({ model: "mixed", input: "x" });
    expect(mixed.data[0]!.embedding).toEqual(Array.from(fakeVector(SMALL, "x")));
  });

  test("client keys: none is a 401, a model outside the key's list a 404; bad input a 400 naming the field; no key in any answer", async () => {
    await using r = await running();
    expect((await embed(r, { model: "embed", input: "x" }, {})).status).toBe(401);
    const denied = await errorOf(await embed(r, { model: "chat", input: "x" }));
    expect([denied.status, denied.error.code]).toEqual([404, "model_not_found"]);
    const bad = await errorOf(await embed(r, { model: "embed", input: [] }));
    expect([bad.status, bad.error.param]).toEqual([400, "input"]);
    r.a.reply({ kind: "error", status: 500 });
    r.b.reply({ kind: "error", status: 500 });
    const failed = await errorOf(await embed(r, { model: "embed", input: "x" }));
    expect(failed.status).toBe(502);
    expect(failed.text).not.toContain(keyOf("a"));
    expect(r.a.calls.length + r.b.calls.length).toBe(2);
  });

  test("usage and cost land in the ledger: one row for the route, no completion tokens, priced at text-embedding-3-small", async () => {
    await using r = await running();
    r.a.reply({ kind: "completion", usage: { prompt_tokens: 2_000, completion_tokens: 0, total_tokens: 2_000 } });
    expect((await embed(r, { model: "embed", input: "x" }, { ...auth, "x-request-id": "emb-1" })).status).toBe(200);
    // The report writes what is pending, so the file holds the row.
    const report = await fetch(`${r.gw.url}/v1/usage`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(report.status).toBe(200);
    const db = new Database(ledgerPath(r.dataDir), { readonly: true });
    try {
      const row = db.query("SELECT route, key_id, model, provider, upstream_model, status, stream, prompt_tokens, completion_tokens, cost_usd FROM requests WHERE request_id = 'emb-1'").get();
      expect(row).toEqual({
        route: "/v1/embeddings", key_id: "team", model: "embed", provider: "a", upstream_model: SMALL, status: 200, stream: 0,
        prompt_tokens: 2_000, completion_tokens: 0, cost_usd: 0.00004,
      });
    } finally {
      db.close();
    }
  });

  test("the mock alone answers any embedding model, so it can be tried without a key", async () => {
    await using gw = await spawnBinary({ CHATGATE_MOCK: "1", CHATGATE_LEDGER: "0" });
    const client = new OpenAI({ apiKey: "unused", baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const res = await client.embeddings.create({ model: SMALL, input: "hello", dimensions: 16 });
    expect(res.model).toBe(SMALL);
    expect(res.data[0]!.embedding).toHaveLength(16);
    expect(Math.hypot(...res.data[0]!.embedding)).toBeCloseTo(1, 5);
    expect(res.usage).toEqual({ prompt_tokens: 1, total_tokens: 1 });
  });
});
