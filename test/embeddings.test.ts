// POST /v1/embeddings on the in-process gateway: the openai SDK as client (float, and its default
// base64 that it decodes itself), fake upstreams speaking OpenAI's embeddings wire format, routing,
// retries and fallback, Anthropic targets, client keys, and the ledger row in a real SQLite file.
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { ledgerPath } from "../src/ledger/data-dir.ts";
import { TestClock } from "./support/clock.ts";
import { anthropicAt, openaiAt, routedEnv, type ConfigDoc } from "./support/config-file.ts";
import { embeddingsText, fakeVector, type EmbeddingsRequestBody } from "./support/embeddings-wire.ts";
import { fakeAnthropic } from "./support/fake-anthropic.ts";
import { post, startGateway, type TestGateway } from "./support/gateway.ts";
import { sha256Hex } from "./support/keys.ts";
import { everyRecord } from "./support/records.ts";
import { errorOf, startRouted } from "./support/routed.ts";
import { fakeOpenAI, type FakeOpenAI } from "./support/upstream.ts";

const SMALL = "text-embedding-3-small";
const LARGE = "text-embedding-3-large";

/** Route `embed` → `a/text-embedding-3-small`, then `b/text-embedding-3-small`. */
function embedPair(config: Omit<ConfigDoc, "providers" | "models"> = {}, clock = new TestClock()) {
  const a = fakeOpenAI();
  const b = fakeOpenAI();
  const gw = startRouted(
    {
      providers: [openaiAt("a", a), openaiAt("b", b)],
      models: { embed: { targets: [{ provider: "a", model: SMALL }, { provider: "b", model: SMALL }] } },
      ...config,
    },
    clock.overrides,
  );
  return { a, b, gw, clock, [Symbol.asyncDispose]: () => gw.stop().then(() => Promise.all([a.stop(), b.stop()])).then(() => {}) };
}

const embed = (gw: TestGateway, body: unknown, headers: Record<string, string> = {}) => post(`${gw.baseURL}/embeddings`, body, headers);
const bodyOf = (up: FakeOpenAI, i = 0) => up.calls[i]!.body as EmbeddingsRequestBody & Record<string, unknown>;
const floats = (vector: Float32Array) => Array.from(vector);

describe("the openai SDK gets the upstream's embeddings", () => {
  test("float: each input's vector, in order, from the route's first target asked for its own model", async () => {
    await using p = embedPair();
    const res = await p.gw.client().embeddings.create({ model: "embed", input: ["the quick fox", "lazy dog"], encoding_format: "float", dimensions: 5, user: "u-1" });
    expect(res.object).toBe("list");
    expect(res.model).toBe(SMALL);
    expect(res.data.map((d) => d.index)).toEqual([0, 1]);
    expect(res.data.map((d) => d.embedding)).toEqual([floats(fakeVector(SMALL, "the quick fox", 5)), floats(fakeVector(SMALL, "lazy dog", 5))]);
    expect(res.usage).toEqual({ prompt_tokens: 5, total_tokens: 5 });
    expect(bodyOf(p.a)).toEqual({ model: SMALL, input: ["the quick fox", "lazy dog"], encoding_format: "float", dimensions: 5, user: "u-1" });
    expect(p.a.calls[0]!.path).toBe("/v1/embeddings");
    expect(p.a.calls[0]!.headers.authorization).toBe("Bearer sk-a-secret-0123456789");
    expect(p.b.calls).toHaveLength(0);
  });

  test("base64 (the SDK's default, which it decodes): the upstream's float32 bytes reach the SDK untouched", async () => {
    await using p = embedPair();
    const res = await p.gw.client().embeddings.create({ model: "embed", input: "hello there" });
    expect(bodyOf(p.a).encoding_format).toBe("base64");
    // Every float32 bit pattern survives: the SDK decoded exactly what the fake encoded.
    expect(res.data[0]!.embedding).toEqual(floats(fakeVector(SMALL, "hello there")));
    expect(res.usage).toEqual({ prompt_tokens: 2, total_tokens: 2 });
  });

  test("the response body is the upstream's text byte for byte (pretty-printed as OpenAI prints it), with who served it", async () => {
    await using p = embedPair();
    const sent = { model: "embed", input: [[1, 2, 3], [4]], encoding_format: "base64" as const };
    const res = await embed(p.gw, sent);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("x-chatgate-provider")).toBe("a");
    expect(res.headers.get("x-chatgate-model")).toBe(SMALL);
    expect(res.headers.get("x-chatgate-attempts")).toBe("1");
    expect(res.headers.get("x-chatgate-cache")).toBe("skip");
    expect(await res.text()).toBe(embeddingsText({ ...sent, model: SMALL }));
  });

  test("a target whose model is the one asked for gets the client's bytes exactly as sent", async () => {
    await using up = fakeOpenAI();
    await using gw = startRouted({ providers: [openaiAt("a", up)] });
    const raw = '{ "input" : "caf\\u00e9 ol\u00e9",\n  "model":"a/text-embedding-3-large", "x_vendor": {"keep": [1]} }';
    const res = await fetch(`${gw.baseURL}/embeddings`, { method: "POST", headers: { "content-type": "application/json" }, body: raw });
    expect(res.status).toBe(200);
    // `provider/model` addressing: the provider is asked for its own name, so the body is serialised once with it.
    expect(bodyOf(up)).toEqual({ input: "café olé", model: LARGE, x_vendor: { keep: [1] } });
    await using same = startRouted({ providers: [openaiAt("a", up)], models: { [LARGE]: { targets: [{ provider: "a", model: LARGE }] } } });
    const exact = raw.replace("a/text-embedding-3-large", LARGE);
    expect((await fetch(`${same.baseURL}/embeddings`, { method: "POST", headers: { "content-type": "application/json" }, body: exact })).status).toBe(200);
    expect(up.calls[1]!.rawBody).toBe(exact);
  });
});

describe("retries and fallback as for chat", () => {
  test("a 429 with Retry-After is waited for on the injected clock, then the same target answers", async () => {
    await using p = embedPair({ retries: 2, max_retry_wait: "10s" });
    p.a.reply({ kind: "error", status: 429, headers: { "retry-after": "3" } });
    const res = await embed(p.gw, { model: "embed", input: "x" });
    expect(res.status).toBe(200);
    expect(p.clock.sleeps).toEqual([3000]);
    expect([p.a.calls.length, p.b.calls.length]).toEqual([2, 0]);
    expect(res.headers.get("x-chatgate-attempts")).toBe("2");
  });

  test("a 500 falls back to the next target, which gets the client's request with its own model", async () => {
    await using p = embedPair();
    p.a.reply({ kind: "error", status: 500 });
    const res = await embed(p.gw, { model: "embed", input: "x", dimensions: 3 });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-chatgate-provider")).toBe("b");
    expect(bodyOf(p.b)).toEqual({ model: SMALL, input: "x", dimensions: 3 });
    expect(((await res.json()) as { data: { embedding: number[] }[] }).data[0]!.embedding).toEqual(floats(fakeVector(SMALL, "x", 3)));
  });

  test("a client that leaves while its input is being embedded is recorded with that input's tokens, estimated, as a chat prompt is", async () => {
    await using p = embedPair();
    const answered = everyRecord(p.gw);
    p.a.reply({ kind: "stall" });
    const client = new AbortController();
    const leaving = fetch(`${p.gw.baseURL}/embeddings`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "embed", input: ["hello world", "bye"] }), signal: client.signal }).catch(() => undefined);
    await p.a.nextCall();
    client.abort();
    await leaving;
    await answered.count(1);
    const record = answered.all[0]!;
    expect([record.outcome, record.usageEstimated, record.usage]).toEqual(["client_abort", true, { prompt_tokens: 2 + 1, completion_tokens: 0, total_tokens: 3 }]);
  });

  test("an upstream's 400 is the client's, passed on with its fields and no fallback", async () => {
    await using p = embedPair();
    const error = { message: "This model does not support specifying dimensions.", type: "invalid_request_error", param: "dimensions", code: null };
    p.a.reply({ kind: "error", status: 400, error });
    const { status, error: got } = await errorOf(await embed(p.gw, { model: "embed", input: "x", dimensions: 3 }));
    expect(status).toBe(400);
    expect(got).toEqual(error);
    expect(p.b.calls).toHaveLength(0);
  });

  test("a 200 that is not an embeddings list is a 502 and the next target answers", async () => {
    await using p = embedPair();
    p.a.reply({ kind: "raw", status: 200, body: "<html>gateway</html>", contentType: "text/html" });
    const res = await embed(p.gw, { model: "embed", input: "x" });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-chatgate-provider")).toBe("b");
  });

  test("when every target fails, the error lists each attempt and names no key", async () => {
    await using p = embedPair();
    p.a.reply({ kind: "error", status: 500 });
    p.b.reply({ kind: "error", status: 503 });
    const { status, text, error } = await errorOf(await embed(p.gw, { model: "embed", input: "x" }));
    expect(status).toBe(502);
    expect(error.message).toContain("2 attempts: a/text-embedding-3-small: 500 upstream_error; b/text-embedding-3-small: 503 upstream_error");
    expect(text).not.toContain("secret");
  });
});

describe("targets without embeddings", () => {
  test("a model served only by Anthropic is a 400 naming the provider, with no upstream call", async () => {
    await using claude = fakeAnthropic();
    await using gw = startRouted({ providers: [anthropicAt("claude", claude)], models: { smart: { targets: [{ provider: "claude", model: "claude-sonnet-4-5" }] } } });
    for (const model of ["smart", "claude/claude-sonnet-4-5"]) {
      const { status, error } = await errorOf(await embed(gw, { model, input: "x" }));
      expect(status).toBe(400);
      expect(error).toEqual({
        type: "invalid_request_error", param: "model", code: "embeddings_not_supported",
        message: `Provider 'claude' (anthropic) does not offer embeddings: model '${model}' cannot be used with /v1/embeddings.`,
      });
    }
    expect(claude.calls).toHaveLength(0);
  });

  test("a route whose first target is Anthropic embeds on its OpenAI-compatible fallback", async () => {
    await using claude = fakeAnthropic();
    await using up = fakeOpenAI();
    await using gw = startRouted({
      providers: [anthropicAt("claude", claude), openaiAt("a", up)],
      models: { mixed: { targets: [{ provider: "claude", model: "claude-sonnet-4-5" }, { provider: "a", model: SMALL }] } },
    });
    const res = await gw.client().embeddings.create({ model: "mixed", input: "x" });
    expect(res.data[0]!.embedding).toEqual(floats(fakeVector(SMALL, "x")));
    expect([claude.calls.length, up.calls.length]).toEqual([0, 1]);
  });
});

test("a batch of inputs as token ids takes inputs longer than 2048 tokens (LangChain's chunks of up to 8191), as OpenAI's spec bounds only the batch", async () => {
  await using p = embedPair();
  const long = Array.from({ length: 3000 }, (_, i) => i % 1000);
  const res = await embed(p.gw, { model: "embed", input: [long, [1, 2]] });
  expect(res.status).toBe(200);
  expect((bodyOf(p.a).input as number[][])[0]).toHaveLength(3000);
});

test("an answer without usage is recorded with its input counted, marked estimated", async () => {
  await using p = embedPair();
  const answered = everyRecord(p.gw);
  p.a.reply({ kind: "raw", status: 200, body: JSON.stringify({ object: "list", data: [{ object: "embedding", index: 0, embedding: [0.1, 0.2] }], model: SMALL }) });
  expect((await embed(p.gw, { model: "embed", input: "hello world" })).status).toBe(200);
  await answered.count(1);
  expect([answered.all[0]!.usageEstimated, answered.all[0]!.usage]).toEqual([true, { prompt_tokens: 2, completion_tokens: 0, total_tokens: 2 }]);
});

describe("bad requests are 400s in OpenAI's shape naming the field", () => {
  const cases: [string, unknown, string | null][] = [
    ["no model", { input: "x" }, "model"],
    ["no input", { model: "embed" }, "input"],
    ["an empty text", { model: "embed", input: "" }, "input"],
    ["an empty list", { model: "embed", input: [] }, "input"],
    ["texts and token lists mixed", { model: "embed", input: ["a", [1]] }, "input"],
    ["a negative token id", { model: "embed", input: [1, -2] }, "input"],
    ["an unknown encoding", { model: "embed", input: "x", encoding_format: "hex" }, "encoding_format"],
    ["zero dimensions", { model: "embed", input: "x", dimensions: 0 }, "dimensions"],
    ["a body that is not an object", [1, 2], null],
  ];
  for (const [name, body, param] of cases) {
    test(`${name}`, async () => {
      await using p = embedPair();
      const { status, error } = await errorOf(await embed(p.gw, body));
      expect(status).toBe(400);
      expect(error.type).toBe("invalid_request_error");
      expect(error.param).toBe(param);
      if (param !== null) expect(error.message).toContain(`'${param}'`);
      expect(p.a.calls).toHaveLength(0);
    });
  }

  test("a body over the size limit is a 413 in OpenAI's shape, with no upstream call", async () => {
    await using up = fakeOpenAI();
    await using gw = startRouted({ providers: [openaiAt("a", up)] }, {}, { CHATGATE_MAX_BODY_BYTES: "1024" });
    const { status, error } = await errorOf(await embed(gw, { model: `a/${SMALL}`, input: "x".repeat(2048) }));
    expect([status, error.code]).toEqual([413, "request_too_large"]);
    expect(up.calls).toHaveLength(0);
  });

  test("a name nothing serves is a 404 model_not_found", async () => {
    await using up = fakeOpenAI();
    await using gw = startRouted({ providers: [openaiAt("a", up, { models: [SMALL] })] });
    const { status, error } = await errorOf(await embed(gw, { model: "nope", input: "x" }));
    expect([status, error.code, error.param]).toEqual([404, "model_not_found", "model"]);
  });
});

describe("client keys", () => {
  const SECRET = "ck-embed-only";
  function keyedEmbed(key: Record<string, unknown>) {
    const up = fakeOpenAI();
    const doc = {
      providers: [openaiAt("a", up, { models: [SMALL, "gpt-4o-mini"] })],
      models: { embed: { targets: [{ provider: "a", model: SMALL }] }, chat: { targets: [{ provider: "a", model: "gpt-4o-mini" }] } },
      keys: [{ id: "team", key: `sha256:${sha256Hex(SECRET)}`, ...key }],
    };
    const gw = startGateway({ ...routedEnv(doc as ConfigDoc), CHATGATE_LEDGER: "0" });
    return { up, gw, [Symbol.asyncDispose]: () => gw.stop().then(() => up.stop()) };
  }
  const auth = { authorization: `Bearer ${SECRET}` };

  test("no key is a 401; a model outside the key's allow-list is a 404 as if it did not exist; an allowed one answers", async () => {
    await using k = keyedEmbed({ models: ["embed"] });
    expect((await embed(k.gw, { model: "embed", input: "x" })).status).toBe(401);
    const denied = await errorOf(await embed(k.gw, { model: "chat", input: "x" }, auth));
    expect([denied.status, denied.error.code]).toEqual([404, "model_not_found"]);
    expect(k.up.calls).toHaveLength(0);
    const res = await k.gw.client(SECRET).embeddings.create({ model: "embed", input: "x" });
    expect(res.data).toHaveLength(1);
  });

  test("tpm admission reserves the input's estimate and no completion: an input over the limit is refused before any call", async () => {
    await using k = keyedEmbed({ tpm: 100 });
    // 40 characters ≈ 10 tokens, and no completion reserve (a chat request would reserve 1024 more).
    const ok = await embed(k.gw, { model: "embed", input: "a".repeat(40) }, auth);
    expect(ok.status).toBe(200);
    // Settled to the upstream's count (1 token), so 99 remain.
    const next = await embed(k.gw, { model: "embed", input: "b".repeat(4) }, auth);
    expect(next.headers.get("x-ratelimit-remaining-tokens")).toBe(String(100 - 1 - 1));
    const big = await errorOf(await embed(k.gw, { model: "embed", input: "c".repeat(404) }, auth));
    expect(big.status).toBe(429);
    expect(big.error.message).toContain("team");
    expect(k.up.calls).toHaveLength(2);
  });
});

describe("usage and cost in the ledger", () => {
  test("one row per request in the SQLite file: route, tokens with no completion, cost at the embedding price", async () => {
    await using p = embedPair();
    p.a.reply({ kind: "completion", usage: { prompt_tokens: 1_000, completion_tokens: 0, total_tokens: 1_000 } });
    expect((await embed(p.gw, { model: "embed", input: "x" })).status).toBe(200);
    p.gw.app.ledger!.ledger.flush();
    const db = new Database(ledgerPath(p.gw.app.current().dataDir), { readonly: true });
    try {
      const rows = db.query("SELECT route, model, provider, upstream_model, status, outcome, stream, prompt_tokens, completion_tokens, cost_usd FROM requests").all();
      expect(rows).toEqual([{
        route: "/v1/embeddings", model: "embed", provider: "a", upstream_model: SMALL, status: 200, outcome: "ok", stream: 0,
        prompt_tokens: 1_000, completion_tokens: 0, cost_usd: 0.00002,
      }]);
    } finally {
      db.close();
    }
  });

  test("a model with no known price costs null, as for chat", async () => {
    await using up = fakeOpenAI();
    await using gw = startRouted({ providers: [openaiAt("a", up)] });
    expect((await embed(gw, { model: "a/house-embedder", input: "x" })).status).toBe(200);
    gw.app.ledger!.ledger.flush();
    const db = new Database(ledgerPath(gw.app.current().dataDir), { readonly: true });
    try {
      expect(db.query("SELECT prompt_tokens, cost_usd FROM requests").all()).toEqual([{ prompt_tokens: 1, cost_usd: null }]);
    } finally {
      db.close();
    }
  });
});

describe("the mock, for trying it without a key", () => {
  test("deterministic unit vectors in the dimensions asked for; base64 decodes to the same numbers", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1", CHATGATE_LEDGER: "0" });
    const client: OpenAI = gw.client();
    const a = await client.embeddings.create({ model: SMALL, input: ["one two", "three"], encoding_format: "float", dimensions: 64 });
    const again = await client.embeddings.create({ model: SMALL, input: ["one two"], dimensions: 64 });
    expect(a.model).toBe(SMALL);
    expect(a.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
    const [v1, v2] = a.data.map((d) => d.embedding);
    expect(v1).toHaveLength(64);
    expect(Math.hypot(...v1!)).toBeCloseTo(1, 5);
    expect(v1).not.toEqual(v2);
    expect(again.data[0]!.embedding).toEqual(v1!);
    expect((await client.embeddings.create({ model: "any-name", input: "x" })).data[0]!.embedding).toHaveLength(1536);
    const { status, error } = await errorOf(await embed(gw, { model: SMALL, input: "x", dimensions: 100_000 }));
    expect([status, error.param]).toEqual([400, "dimensions"]);
  });
});

describe("the rest of the API", () => {
  test("the OpenAPI document lists POST /v1/embeddings under OpenAI; /v1/models lists no more than before", async () => {
    await using p = embedPair();
    const doc = (await (await fetch(`${p.gw.url}/docs/json`)).json()) as { paths: Record<string, Record<string, { tags: string[] }>> };
    expect(doc.paths["/v1/embeddings"]!.post!.tags).toEqual(["OpenAI"]);
    const models = (await (await fetch(`${p.gw.baseURL}/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id).sort()).toEqual(["a/gpt-4o", "a/gpt-4o-mini", "b/gpt-4o", "b/gpt-4o-mini", "embed"]);
  });

  test("/metrics counts embeddings requests under their own route", async () => {
    await using p = embedPair();
    await embed(p.gw, { model: "embed", input: "x" });
    const text = await (await fetch(`${p.gw.url}/metrics`)).text();
    expect(text).toMatch(/chatgate_requests_total\{[^}]*route="\/v1\/embeddings"[^}]*\} 1/);
  });
});
