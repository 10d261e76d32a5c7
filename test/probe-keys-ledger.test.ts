// Client keys, the usage ledger and the cache probed from outside, as an attacker and as a new
// operator meet them: the compiled binary on a config file with client keys, a gated
// OpenAI-compatible upstream in this process, raw fetch as client, and the ledger file read back
// with bun:sqlite after a SIGTERM. What the earlier tests of keys, the ledger and the cache left
// out: key entries an operator gets wrong, a key's `models` through every route, the 429 headers,
// one row per request however it ended, `chatgate usage`.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary, spawnBinary } from "./support/binary.ts";
import { routedEnv, type ConfigDoc } from "./support/config-file.ts";
import { gatedUpstream, keyedDoc, sha256Hex, type GatedUpstream, type KeyDoc } from "./support/keys.ts";
import type { GatewayProcess } from "./support/process.ts";
import { redisAvailable, startRedis } from "./support/redis.ts";

const A = "ck-probe-keys-ledger-a-000000000001"; // models: [smart] only
const R = "ck-probe-keys-ledger-r-000000000002"; // rpm: 1, tpm: 100,000
const ADMIN = "admin-probe-keys-ledger-0000000003";
const SECRETS = [A, R, ADMIN];

const dirs: string[] = [];
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};

let up: GatedUpstream;
beforeAll(async () => {
  await compiledBinary();
  up = gatedUpstream();
}, 120_000);
afterAll(async () => {
  await up?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The binary run on `doc` until it exits (or 5 s pass: then it started, and is killed). */
async function startOn(doc: ConfigDoc & Record<string, unknown>, env: Record<string, string> = {}): Promise<{ code: number; output: string }> {
  const proc = Bun.spawn([await compiledBinary()], {
    env: { PATH: "/usr/bin:/bin", HOME: tmpdir(), PORT: "0", CHATGATE_LEDGER: "0", ...routedEnv(doc), ...env },
    stdin: "ignore", stdout: "pipe", stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, output: stdout + stderr };
}

/** keyedDoc with `keys:` entries exactly as given (the `key` field as the operator wrote it). */
const rawKeys = (keys: Record<string, unknown>[]) => ({ ...keyedDoc(up, []), keys });

describe("a keys: entry an operator gets wrong", () => {
  const hex = sha256Hex(A);

  test("sha256:<hex> in upper case is the same digest: it lets the key in, and another entry with its lower-case form is refused as the same key", async () => {
    const same = await startOn(rawKeys([{ id: "a", key: `sha256:${hex}` }, { id: "b", key: `sha256:${hex.toUpperCase()}` }]));
    expect(same.code).toBe(2);
    expect(same.output).toContain("keys[1].key: the same key as keys[0]");
    await using gw = await spawnBinary({ ...routedEnv(rawKeys([{ id: "a", key: `sha256:${hex.toUpperCase()}` }])), CHATGATE_LEDGER: "0" });
    expect((await chat(gw, A, { model: "smart" })).status).toBe(200);
  });

  test("a digest of the wrong length, an unset or empty ${VAR}: exit 2 naming the entry's field, never a key", async () => {
    const cases: [Record<string, unknown>, Record<string, string>, RegExp][] = [
      [{ id: "a", key: `sha256:${hex.slice(0, 40)}` }, {}, /keys\[0\]\.key: a sha256: entry needs 64 hex digits/],
      [{ id: "a", key: `sha256:${hex}00` }, {}, /keys\[0\]\.key: a sha256: entry needs 64 hex digits/],
      [{ id: "a", key: "${PROBE_UNSET_KEY}" }, {}, /keys\[0\]\.key: environment variable PROBE_UNSET_KEY is not set/],
      [{ id: "a", key: "${PROBE_EMPTY_KEY}" }, { PROBE_EMPTY_KEY: "" }, /keys\[0\]\.key: /],
    ];
    for (const [entry, env, says] of cases) {
      const { code, output } = await startOn(rawKeys([entry]), env);
      expect({ entry, code }).toEqual({ entry, code: 2 });
      expect(output).toMatch(says);
      expect(output).not.toContain(hex.slice(0, 40));
    }
  });

  test("a key given by ${VAR} whose value is another entry's key is refused, naming both entries and not the value", async () => {
    const { code, output } = await startOn(rawKeys([{ id: "a", key: `sha256:${hex}` }, { id: "b", key: "${PROBE_DUP_KEY}" }]), { PROBE_DUP_KEY: A });
    expect(code).toBe(2);
    expect(output).toContain("keys[1].key: the same key as keys[0]");
    expect(output).not.toContain(A);
  });
});

/** POSTs a chat completion with `key` (none when null); `model` etc. in `extra`. */
function chat(gw: GatewayProcess, key: string | null, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key === null ? {} : { authorization: `Bearer ${key}` }), ...headers },
    body: JSON.stringify({ model: "smart", messages: [{ role: "user", content: "hi" }], ...extra }),
  });
}

const post = (gw: GatewayProcess, path: string, headers: Record<string, string>, body: unknown) =>
  fetch(gw.url + path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

describe("one binary with keys, the cache and the ledger", () => {
  let gw: GatewayProcess;
  let dataDir: string;
  /** x-request-id of each request sent, by what it was. */
  const sent = new Map<string, string>();
  const note = (what: string, res: Response) => {
    sent.set(what, res.headers.get("x-request-id") ?? "");
    return res;
  };

  beforeAll(async () => {
    const keys: KeyDoc[] = [
      { id: "a", secret: A, models: ["smart"] },
      { id: "r", secret: R, rpm: 1, tpm: 100_000 },
    ];
    const doc = keyedDoc(up, keys, { hooks: { open: { model: "other" } } }) as ConfigDoc & { models: Record<string, Record<string, unknown>> };
    doc.models.smart!.cache = { ttl: "1h" };
    doc.models.other!.cache = { ttl: "1h" };
    dataDir = tempDir("chatgate-probe-ledger-");
    gw = await spawnBinary({ ...routedEnv(doc), CHATGATE_DATA_DIR: dataDir, CHATGATE_ADMIN_KEY: ADMIN, CHATGATE_AUTH_FAILURE_LIMIT: "0" });
  }, 60_000);
  afterAll(() => gw?.stop());

  describe("a key's models hold on every route, a cached answer included", () => {
    test("another key's cached answer for a model outside the list is a 404 model_not_found, not a hit", async () => {
      expect(note("r other", await chat(gw, R, { model: "other" })).headers.get("x-chatgate-cache")).toBe("miss");
      const res = note("a other", await chat(gw, A, { model: "other" }));
      expect(res.status).toBe(404);
      expect(res.headers.get("x-chatgate-cache")).toBe("skip");
      expect(((await res.json()) as any).error).toMatchObject({ code: "model_not_found", param: "model" });
    });

    test("provider/model, a provider's plain name, /chat, /v1/embeddings, /v1/messages (x-api-key), count_tokens, /v1/models/{id}, a hook: each a 404", async () => {
      for (const model of ["a/gpt-4o", "a/gpt-4o-mini", "gpt-4o", "gpt-4o-mini", "Smart", "smart "]) {
        const res = note(`a ${model}`, await chat(gw, A, { model }));
        expect({ model, status: res.status }).toEqual({ model, status: 404 });
      }
      const simple = note("a /chat", await post(gw, "/chat", { authorization: `Bearer ${A}` }, { model: "other", message: "hi" }));
      expect(simple.status).toBe(404);
      const embed = note("a embeddings", await post(gw, "/v1/embeddings", { authorization: `Bearer ${A}` }, { model: "other", input: "x" }));
      expect(embed.status).toBe(404);
      const messages = note("a messages", await post(gw, "/v1/messages", { "x-api-key": A }, { model: "other", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }));
      expect(messages.status).toBe(404);
      expect(((await messages.json()) as any).error.type).toBe("not_found_error");
      const count = note("a count", await post(gw, "/v1/messages/count_tokens", { "x-api-key": A }, { model: "other", messages: [{ role: "user", content: "hi" }] }));
      expect(count.status).toBe(404);
      const one = note("a model", await fetch(`${gw.url}/v1/models/other`, { headers: { authorization: `Bearer ${A}` } }));
      expect(one.status).toBe(404);
      const hook = note("a hook", await post(gw, "/hooks/open", { authorization: `Bearer ${A}` }, { text: "hi", from: "u1" }));
      expect(hook.status).toBe(404);
      const list = (await (await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${A}` } })).json()) as any;
      expect(list.data.map((m: { id: string }) => m.id)).toEqual(["smart"]);
    });
  });

  describe("/v1/models lists what a key may use, by the names it may use", () => {
    test("a provider's model given to a key by its plain name is listed and retrievable under that name, in both API shapes", async () => {
      // Regression: with models: [a/gpt-4o, gpt-4o-mini] the key could call gpt-4o-mini (200), yet
      // /v1/models listed only a/gpt-4o and /v1/models/gpt-4o-mini was a 404.
      const key = "ck-probe-keys-ledger-plain-00000000007";
      await using plain = await spawnBinary({ ...routedEnv(keyedDoc(up, [{ id: "p", secret: key, models: ["a/gpt-4o", "gpt-4o-mini"] }])), CHATGATE_LEDGER: "0" });
      const auth = { authorization: `Bearer ${key}` };
      const list = (await (await fetch(`${plain.url}/v1/models`, { headers: auth })).json()) as any;
      expect(list.data.map((m: { id: string }) => m.id).sort()).toEqual(["a/gpt-4o", "gpt-4o-mini"]);
      const one = await fetch(`${plain.url}/v1/models/gpt-4o-mini`, { headers: auth });
      expect(one.status).toBe(200);
      expect(((await one.json()) as any).id).toBe("gpt-4o-mini");
      const anthropic = (await (await fetch(`${plain.url}/v1/models`, { headers: { "x-api-key": key, "anthropic-version": "2023-06-01" } })).json()) as any;
      expect(anthropic.data.map((m: { id: string }) => m.id).sort()).toEqual(["a/gpt-4o", "gpt-4o-mini"]);
      for (const [model, status] of [["gpt-4o-mini", 200], ["a/gpt-4o", 200], ["a/gpt-4o-mini", 404], ["gpt-4o", 404], ["smart", 404]] as const) {
        expect({ model, status: (await chat(plain, key, { model })).status }).toEqual({ model, status });
        if (status === 404) expect((await fetch(`${plain.url}/v1/models/${model.replace("/", "%2F")}`, { headers: auth })).status).toBe(404);
      }
    });
  });

  describe("429s as OpenAI sends them", () => {
    test("over a key's rpm: rate_limit_exceeded with Retry-After, the requests headers and (the key has a tpm) the tokens headers; nothing goes upstream", async () => {
      // `r` spent its one request of this minute above (unless the minute turned: then spend it now).
      let res = note("r 429", await chat(gw, R, { model: "other" }));
      if (res.status === 200) res = note("r 429", await chat(gw, R, { model: "other" }));
      const calls = up.calls.length;
      expect(res.status).toBe(429);
      const body = (await res.json()) as any;
      expect(body.error).toMatchObject({ type: "requests", code: "rate_limit_exceeded", param: null });
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(res.headers.get("x-ratelimit-limit-requests")).toBe("1");
      expect(res.headers.get("x-ratelimit-remaining-requests")).toBe("0");
      // Within the last second of the minute the reset is in ms ("634ms"), as OpenAI writes it.
      expect(res.headers.get("x-ratelimit-reset-requests")).toMatch(/^\d+(\.\d+)?s$|^\dm\d+s$|^\d+ms$/);
      // Regression: a key with a tpm got no token headers on its rpm 429, though OpenAI sends all six.
      // Its one request used 8 tokens (settled), so 99,992 remain; the refusal reserves none. (Or
      // all 100,000, when a clock minute ended between the request and the refusal.)
      expect(res.headers.get("x-ratelimit-limit-tokens")).toBe("100000");
      expect(["99992", "100000"]).toContain(res.headers.get("x-ratelimit-remaining-tokens")!);
      expect(res.headers.get("x-ratelimit-reset-tokens")).toMatch(/^\d+(\.\d+)?s$|^\dm\d+s$|^\d+ms$/);
      expect(up.calls.length).toBe(calls);
    });

    test("over the global per-client limit (a key with a tpm and no rpm): the 429 carries the token headers too", async () => {
      const key = "ck-probe-keys-ledger-global-000000005";
      await using gw = await spawnBinary({ ...routedEnv(keyedDoc(up, [{ id: "g", secret: key, tpm: 30_000 }])), CHATGATE_RATE_LIMIT_MAX: "1", CHATGATE_LEDGER: "0" });
      expect((await chat(gw, key)).status).toBe(200);
      const res = await chat(gw, key);
      expect(res.status).toBe(429);
      expect(res.headers.get("retry-after")).not.toBeNull();
      expect(res.headers.get("x-ratelimit-limit-requests")).toBe("1");
      expect(res.headers.get("x-ratelimit-limit-tokens")).toBe("30000");
      expect(res.headers.get("x-ratelimit-remaining-tokens")).toBe("29992");
    });

    test("the same with the counts in Redis: the rpm 429 carries the token headers too", async () => {
      if (!redisAvailable()) return;
      await using redis = await startRedis();
      const key = "ck-probe-keys-ledger-redis-00000000004";
      await using gw = await spawnBinary({ ...routedEnv(keyedDoc(up, [{ id: "rr", secret: key, rpm: 1, tpm: 50_000 }])), CHATGATE_REDIS_URL: redis.url, CHATGATE_LEDGER: "0" });
      // rpm counts per clock minute: a minute that ends between two requests gives the second a fresh one.
      let res = await chat(gw, key);
      for (let i = 0; i < 2 && res.status === 200; i++) res = await chat(gw, key);
      expect(res.status).toBe(429);
      expect(res.headers.get("x-ratelimit-remaining-requests")).toBe("0");
      expect(res.headers.get("x-ratelimit-limit-tokens")).toBe("50000");
      expect(Number(res.headers.get("x-ratelimit-remaining-tokens"))).toBeGreaterThan(49_000);
      expect(res.headers.get("x-ratelimit-reset-tokens")).not.toBeNull();
    });
  });

  describe("one ledger row per request, however it ended", () => {
    test("a client that leaves before any answer came: its row has the prompt the upstream was sent, estimated, and a cost", async () => {
      // Regression: a client abort while the upstream call was in flight wrote prompt_tokens null
      // and cost null, usage_estimated 0 — though a client abort's usage is to be counted
      // with a tokenizer (the prompt, and the text that streamed: none here).
      for (const stream of [true, false]) {
        up.hold();
        const arrived = up.arrived(up.calls.length + 1);
        const leave = new AbortController();
        const pending = fetch(`${gw.url}/v1/chat/completions`, {
          method: "POST", signal: leave.signal,
          headers: { "content-type": "application/json", authorization: `Bearer ${A}` },
          body: JSON.stringify({ model: "smart", stream, messages: [{ role: "user", content: `Leaving before the answer comes, stream ${stream}` }] }),
        }).catch(() => undefined);
        await arrived;
        await Bun.sleep(100);
        leave.abort();
        await pending;
        await Bun.sleep(200);
        up.release();
        sent.set(`abort ${stream}`, "");
      }
    });

    test("every request sent has exactly one row, SIGTERM with rows pending included, with the key, status and outcome it ended with", async () => {
      note("401 none", await chat(gw, null));
      note("401 wrong", await chat(gw, `${A}x`));
      note("json", await chat(gw, A, { messages: [{ role: "user", content: "one" }] }));
      note("hit", await chat(gw, A, { messages: [{ role: "user", content: "one" }] }));
      const stream = note("hit stream", await chat(gw, A, { messages: [{ role: "user", content: "one" }], stream: true }));
      expect(await stream.text()).toEndWith("data: [DONE]\n\n");
      note("no-store", await chat(gw, A, { messages: [{ role: "user", content: "one" }] }, { "cache-control": "no-store" }));
      const usage = note("usage by a client key", await fetch(`${gw.url}/v1/usage`, { headers: { authorization: `Bearer ${A}` } }));
      expect(usage.status).toBe(403);
      gw.proc.kill("SIGTERM");
      expect(await gw.exited).toBe(0);
      const db = new Database(join(dataDir, "ledger.sqlite"), { readonly: true });
      type Row = { request_id: string; key_id: string | null; status: number; outcome: string; cached: number; prompt_tokens: number | null; completion_tokens: number | null; cost_usd: number | null; usage_estimated: number; stream: number };
      const rows = db.query("SELECT * FROM requests").all() as Row[];
      db.close();
      const byId = new Map(rows.map((r) => [r.request_id, r]));
      for (const [what, id] of sent) {
        if (id === "") continue;
        expect({ what, rows: rows.filter((r) => r.request_id === id).length }).toEqual({ what, rows: 1 });
      }
      expect(byId.get(sent.get("401 none")!)).toMatchObject({ key_id: null, status: 401, cost_usd: 0 });
      expect(byId.get(sent.get("a other")!)).toMatchObject({ key_id: "a", status: 404, cost_usd: 0 });
      expect(byId.get(sent.get("r 429")!)).toMatchObject({ key_id: "r", status: 429, cost_usd: 0 });
      expect(byId.get(sent.get("json")!)).toMatchObject({ status: 200, cached: 0, prompt_tokens: 5, completion_tokens: 3, cost_usd: 0.00000255 });
      expect(byId.get(sent.get("hit")!)).toMatchObject({ status: 200, cached: 1, cost_usd: 0 });
      expect(byId.get(sent.get("hit stream")!)).toMatchObject({ status: 200, cached: 1, stream: 1, cost_usd: 0 });
      expect(byId.get(sent.get("no-store")!)).toMatchObject({ status: 200, cached: 0, cost_usd: 0.00000255 });
      const aborted = rows.filter((r) => r.outcome === "client_abort");
      expect(aborted.map((r) => r.stream).sort()).toEqual([0, 1]);
      for (const row of aborted) {
        expect(row).toMatchObject({ key_id: "a", status: 499, usage_estimated: 1, completion_tokens: 0 });
        expect(row.prompt_tokens).toBeGreaterThan(10);
        expect(row.cost_usd).toBeGreaterThan(0);
      }
      expect(gw.output()).not.toContain(A);
      for (const secret of SECRETS) expect(gw.output()).not.toContain(secret);
    }, 30_000);
  });
});

describe("concurrent requests cannot overshoot a key's tpm or budget", () => {
  // Regression: the reservation counted the messages' text only. Ten requests at once, each with
  // 200,000 characters of tool definitions (50,000 prompt tokens upstream) and max_tokens 1, were
  // all admitted under tpm 20,000 and a $0.05 budget: 500,010 tokens and $1.25 used, 25 times over.
  // Here each carries ~10,000 tokens of definitions: one fits tpm 20,000 at a time, not ten.
  const DEFINITIONS = [{ type: "function", function: { name: "f", description: "d".repeat(40_000), parameters: { type: "object" } } }];
  const SCHEMA = { type: "json_schema", json_schema: { name: "s", schema: { type: "object", description: "d".repeat(40_000) } } };

  for (const [what, extra] of [["tool definitions", { tools: DEFINITIONS }], ["a response_format schema", { response_format: SCHEMA }]] as const) {
    test(`a prompt carried in ${what} is reserved: of ten at once under tpm 20,000, one goes upstream`, async () => {
      const key = `ck-probe-keys-ledger-t-${what.length}0000000000`;
      const gw = await spawnBinary({ ...routedEnv(keyedDoc(up, [{ id: "t", secret: key, tpm: 20_000, budget: { usd: 0.05, period: "day" } }])), CHATGATE_LEDGER: "0" });
      try {
        const calls = up.calls.length;
        up.hold();
        const all = Array.from({ length: 10 }, (_, i) => chat(gw, key, { model: "other", max_tokens: 1, messages: [{ role: "user", content: `q${i}` }], ...extra }));
        await up.arrived(calls + 1);
        await Bun.sleep(300);
        expect(up.calls.length).toBe(calls + 1);
        up.release();
        const statuses = (await Promise.all(all)).map((r) => r.status).sort();
        expect(statuses).toEqual([200, ...Array(9).fill(429)]);
      } finally {
        up.release();
        await gw.stop();
      }
    });
  }
});

describe("a budget given by a reload", () => {
  test("counts what the key spent earlier in the period, as the ledger holds it, the same as a restart would", async () => {
    // Regression: a key that had spent $8 today, given `budget: {usd: 7, period: day}` by a SIGHUP,
    // could spend up to $7 more: its spend counter started at 0, though a restart reads the day's
    // spend back from the ledger and refuses it.
    const key = "ck-probe-keys-ledger-reload-0000000006";
    const doc = keyedDoc(up, [{ id: "b", secret: key }]) as unknown as ConfigDoc & { models: Record<string, { targets: Record<string, unknown>[] }>; keys: Record<string, unknown>[] };
    // $1 per token: the upstream's 5 + 3 tokens cost $8; max_tokens 1 reserves about $6.
    doc.models.smart!.targets[0]!.price = { input: 1_000_000, output: 1_000_000 };
    const env: Record<string, string> = { ...routedEnv(doc), CHATGATE_DATA_DIR: tempDir("chatgate-probe-reload-budget-") };
    await using gw = await spawnBinary(env);
    expect((await chat(gw, key, { max_tokens: 1 })).status).toBe(200);
    doc.keys[0]!.budget = { usd: 7, period: "day" };
    await Bun.write(env.CHATGATE_CONFIG!, JSON.stringify(doc));
    gw.proc.kill("SIGHUP");
    await gw.waitForOutput(/config reloaded/);
    const over = await chat(gw, key, { max_tokens: 1 });
    expect(over.status).toBe(429);
    expect(((await over.json()) as any).error.code).toBe("insufficient_quota");
    // A reload that keeps the budget counts nothing twice: raised to $9, $1 is left, less than a request's $6.
    doc.keys[0]!.budget = { usd: 9, period: "day" };
    await Bun.write(env.CHATGATE_CONFIG!, JSON.stringify(doc));
    gw.proc.kill("SIGHUP");
    await gw.waitForOutput(/config reloaded[^\n]*\n[^]*config reloaded/);
    expect((await chat(gw, key, { max_tokens: 1 })).status).toBe(429);
    doc.keys[0]!.budget = { usd: 14.5, period: "day" };
    await Bun.write(env.CHATGATE_CONFIG!, JSON.stringify(doc));
    gw.proc.kill("SIGHUP");
    await gw.waitForOutput(/config reloaded[^]*config reloaded[^]*config reloaded/);
    expect((await chat(gw, key, { max_tokens: 1 })).status).toBe(200);
  });
});

describe("the response cache across a reload", () => {
  test("a reload that points a model at another upstream model: the old model's stored answer is a miss, the new one answers", async () => {
    const doc = keyedDoc(up, [{ id: "c", secret: A }]) as ConfigDoc & { models: Record<string, Record<string, unknown>> };
    doc.models.smart!.cache = { ttl: "1h" };
    const env: Record<string, string> = { ...routedEnv(doc), CHATGATE_LEDGER: "0" };
    await using gw = await spawnBinary(env);
    const ask = () => chat(gw, A, { messages: [{ role: "user", content: "which model are you?" }] });
    expect((await ask()).headers.get("x-chatgate-model")).toBe("gpt-4o-mini");
    expect((await ask()).headers.get("x-chatgate-cache")).toBe("hit");
    doc.models.smart!.targets = [{ provider: "a", model: "gpt-4o" }];
    await Bun.write(env.CHATGATE_CONFIG!, JSON.stringify(doc));
    gw.proc.kill("SIGHUP");
    await gw.waitForOutput(/config reloaded/);
    // Regression: the reload kept serving gpt-4o-mini's answer (x-chatgate-model: gpt-4o-mini) for the TTL.
    const after = await ask();
    expect(after.headers.get("x-chatgate-cache")).toBe("miss");
    expect(after.headers.get("x-chatgate-model")).toBe("gpt-4o");
    expect(((await after.json()) as any).model).toBe("gpt-4o");
    expect((await ask()).headers.get("x-chatgate-cache")).toBe("hit");
  });
});

describe("chatgate usage on model names a client chose", () => {
  test("a refused request's model name reaches the table and CSV with its control characters escaped, the table cut to a width, the row to 256 characters", async () => {
    // Regression: a client (any valid key) asking for the model "\u001b[2J\u001b[31m…" or one with
    // line breaks had it printed raw by `chatgate usage`: the operator's terminal cleared and
    // recoloured, fake rows in the table, and one 5,000-character name stretching every line.
    const dataDir = tempDir("chatgate-probe-names-");
    const gw = await spawnBinary({ ...routedEnv(keyedDoc(up, [{ id: "a", secret: A }])), CHATGATE_DATA_DIR: dataDir });
    const names = ["\u001b[2J\u001b[31mred", "fake\nsmart  999", "\u009b31m", "m".repeat(5_000)];
    for (const model of names) expect((await chat(gw, A, { model })).status).toBe(404);
    expect((await fetch(`${gw.url}/${"p".repeat(5_000)}`)).status).toBe(404);
    gw.proc.kill("SIGTERM");
    expect(await gw.exited).toBe(0);
    const db = new Database(join(dataDir, "ledger.sqlite"), { readonly: true });
    expect(db.query("SELECT count(*) AS n, max(length(route)) AS route, max(length(model)) AS model FROM requests").get()).toEqual({ n: 5, route: 257, model: 257 });
    db.close();
    const binary = await compiledBinary();
    for (const format of ["table", "csv"]) {
      const proc = Bun.spawn([binary, "usage", "--data-dir", dataDir, "--format", format], { env: { PATH: "/usr/bin:/bin", HOME: tmpdir() }, stdout: "pipe", stderr: "pipe" });
      const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
      expect({ format, code }).toEqual({ format, code: 0 });
      expect(out).not.toMatch(/[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f-\u009f]/);
      expect(out).toContain("\\u001b[31mred");
      expect(out).toContain("fake\\u000asmart");
      const lines = out.split(/\r?\n/).filter((l) => l !== "");
      // A row per name, and one for the unknown path (no model).
      expect(lines.length).toBe(format === "table" ? 1 + names.length + 1 + 2 : 1 + names.length + 1);
      if (format === "table") for (const line of lines) expect(line.length).toBeLessThan(300);
      else expect(out).toContain(`${"m".repeat(256)}…`);
    }
    // The JSON report keeps every name as stored: it is for programs, which escape what they print.
    // A name is stored cut to 256 characters, as the request log cuts it: rows of refused requests
    // (no key needed for a 404 path) must not fill the disk.
    const json = Bun.spawn([binary, "usage", "--data-dir", dataDir, "--format", "json"], { env: { PATH: "/usr/bin:/bin", HOME: tmpdir() }, stdout: "pipe" });
    const groups = (JSON.parse(await new Response(json.stdout).text()) as any).rows.map((r: { group: string }) => r.group);
    expect(groups.filter((g: string | null) => g !== null).sort()).toEqual([...names.slice(0, 3), `${"m".repeat(256)}…`].sort());
  });
});

describe("chatgate usage with bad flags", () => {
  test("each bad flag exits 2 naming the flag and the value; a missing ledger exits 1 naming the path", async () => {
    const binary = await compiledBinary();
    const dir = tempDir("chatgate-probe-usage-");
    const run = async (...args: string[]) => {
      const proc = Bun.spawn([binary, "usage", "--data-dir", dir, ...args], { env: { PATH: "/usr/bin:/bin", HOME: tmpdir() }, stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      return { stdout, stderr, code };
    };
    for (const [args, says] of [
      [["--from", "2026-02-30"], "--from must be a date"],
      [["--to", "1700000000"], "--to must be a date"],
      [["--group-by", "user"], "--group-by must be one of key, model, provider, day, not 'user'"],
      [["--format", "xml"], "--format must be one of table, csv, json, not 'xml'"],
      [["--from"], "--from"],
      [["--from", "2026-12-08", "--to", "2026-12-01"], "--to must be later"],
    ] as [string[], string][]) {
      const { code, stdout, stderr } = await run(...args);
      expect({ args, code, stdout }).toEqual({ args, code: 2, stdout: "" });
      expect(stderr).toContain(says);
    }
    const missing = await run();
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(join(dir, "ledger.sqlite"));
  });
});
