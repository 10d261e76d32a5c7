// The log, from outside: the compiled binary's stdout (not a terminal, so JSON lines) for every
// way a request can end, x-request-id on every answer and upstream, and the log settings.
import { describe, expect, test } from "bun:test";
import { spawnBinary } from "./support/binary.ts";
import type { GatewayProcess, LogLine } from "./support/process.ts";
import { runGateway } from "./support/process.ts";
import { compiledBinary } from "./support/binary.ts";
import { fakeOpenAI, type FakeOpenAI } from "./support/upstream.ts";
import { readEvents } from "./support/sse.ts";

const readSSE = (res: Response) => readEvents(res).done;

const CLIENT_KEY = "sk-client-LOGTEST-0123456789";
const UPSTREAM_KEY = "sk-upstream-LOGTEST-9876543210";
const PROMPT = "the secret prompt text PURPLE-ELEPHANT";
/** Every word the fake upstream streams by default is in its answer; one distinctive one suffices. */
const ANSWER_WORD = "gateway";

function env(up: FakeOpenAI, extra: Record<string, string> = {}): Record<string, string> {
  return { OPENAI_BASE_URL: up.url, OPENAI_API_KEY: UPSTREAM_KEY, CHATGATE_API_KEYS: CLIENT_KEY, ...extra };
}

function chat(gw: GatewayProcess, body: Record<string, unknown>, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${CLIENT_KEY}`, ...headers },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: PROMPT }], ...body }),
    signal,
  });
}

const requestLine = (gw: GatewayProcess, id: string) => gw.waitForLog((l) => l.msg === "request" && l.req_id === id);

/** Fields every request line has, whatever happened. */
const REQUEST_FIELDS = ["level", "time", "req_id", "key_id", "route", "model", "provider", "upstream_model", "status", "outcome", "attempts", "stream", "tokens_in", "tokens_out", "ttfb_ms", "duration_ms"];

function expectNoSecrets(gw: GatewayProcess): void {
  const out = gw.output();
  for (const secret of [CLIENT_KEY, UPSTREAM_KEY, PROMPT, "PURPLE-ELEPHANT"]) expect(out).not.toContain(secret);
}

describe("one JSON line per request, from the compiled binary", () => {
  test("every stdout line parses; a JSON answer, a stream, a 401, a 404, a 502 and GETs of /v1/models, /health and /metrics each get one line with their outcome, and no secret or prompt is printed", async () => {
    await using up = fakeOpenAI();
    await using gw = await spawnBinary(env(up));

    const ok = await chat(gw, {}, { "x-request-id": "client-id-1" });
    expect(ok.status).toBe(200);
    await ok.text();
    const stream = await chat(gw, { stream: true });
    const events = await readSSE(stream);
    expect(events.at(-1)).toBe("[DONE]");
    const unauthorized = await chat(gw, {}, { authorization: "Bearer wrong-key" });
    expect(unauthorized.status).toBe(401);
    const missing = await fetch(`${gw.url}/v1/nothing-here`);
    expect(missing.status).toBe(404);
    up.reply({ kind: "error", status: 500 });
    const failed = await chat(gw, {});
    expect(failed.status).toBe(502);
    const get = async (path: string) => {
      const res = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      return res;
    };
    const models = await get("/v1/models");
    const health = await get("/health");
    const metrics = await get("/metrics");

    const lines: Record<string, LogLine> = {};
    for (const [name, res] of Object.entries({ ok, stream, unauthorized, missing, failed, models, health, metrics })) lines[name] = await requestLine(gw, res.headers.get("x-request-id")!);

    expect(lines.ok).toMatchObject({
      level: "info", req_id: "client-id-1", route: "/v1/chat/completions", model: "gpt-4o-mini", provider: "openai", upstream_model: "gpt-4o-mini",
      status: 200, outcome: "ok", attempts: 1, stream: false,
    });
    // CHATGATE_API_KEYS entries are key-1, key-2, …: never the key, nor anything made from it.
    expect(lines.ok!.key_id).toBe("key-1");
    expect(lines.ok!.tokens_in).toBeGreaterThan(0);
    expect(lines.ok!.tokens_out).toBeGreaterThan(0);
    expect(lines.ok!.ttfb_ms).toBeGreaterThanOrEqual(0);
    expect(lines.ok!.duration_ms).toBeGreaterThanOrEqual(lines.ok!.ttfb_ms as number);
    expect(lines.stream).toMatchObject({ level: "info", status: 200, outcome: "ok", stream: true, key_id: lines.ok!.key_id });
    expect(lines.unauthorized).toMatchObject({ level: "info", status: 401, outcome: "error", error: "invalid_api_key", key_id: null, model: null, attempts: 0 });
    expect(lines.missing).toMatchObject({ status: 404, route: "/v1/nothing-here" });
    expect(lines.failed).toMatchObject({ level: "warn", status: 502, outcome: "error", provider: "openai", attempts: 1 });
    for (const [name, route] of [["models", "/v1/models"], ["health", "/health"], ["metrics", "/metrics"]] as const) {
      expect(lines[name]).toMatchObject({ level: "info", route, status: 200, outcome: "ok", model: null, provider: null, attempts: 0, stream: false, error: null });
    }
    expect([lines.models!.key_id, lines.health!.key_id, lines.metrics!.key_id]).toEqual(["key-1", null, "key-1"]);
    // Exactly one line each: a request written last, and every id before it seen once.
    const last = await get("/health");
    await requestLine(gw, last.headers.get("x-request-id")!);
    const ids = gw.logs().filter((l) => l.msg === "request").map((l) => l.req_id);
    expect(ids).toHaveLength(9);
    expect(new Set(ids).size).toBe(9);
    for (const line of Object.values(lines)) for (const field of REQUEST_FIELDS) expect(line).toHaveProperty(field);
    expect(Date.parse(lines.ok!.time)).toBeGreaterThan(0);

    for (const line of gw.output().trim().split("\n")) expect(() => JSON.parse(line)).not.toThrow();
    expectNoSecrets(gw);
    expect(gw.output()).not.toContain(ANSWER_WORD);
  });

  test("a stream cut by the upstream is logged as truncated at warn, and a client that goes away as client_abort", async () => {
    await using up = fakeOpenAI();
    await using gw = await spawnBinary(env(up));

    up.reply({ kind: "stream", cutAfterEvents: 3 });
    const cut = await chat(gw, { stream: true });
    await readSSE(cut);
    const truncated = await requestLine(gw, cut.headers.get("x-request-id")!);
    expect(truncated).toMatchObject({ level: "warn", outcome: "truncated", stream: true, status: 200 });
    await up.nextCall();

    up.reply({ kind: "stall" });
    const abort = new AbortController();
    const called = up.nextCall();
    const pending = chat(gw, { stream: true }, { "x-request-id": "will-abort" }, abort.signal).catch(() => undefined);
    expect((await called).headers["x-request-id"]).toBe("will-abort");
    abort.abort();
    await pending;
    expect(await requestLine(gw, "will-abort")).toMatchObject({ outcome: "client_abort" });
    expectNoSecrets(gw);
  });

  test("a warning from inside the gateway (events dropped from a stream) is a JSON line on stdout at warn, not bare text on stderr", async () => {
    await using up = fakeOpenAI();
    await using gw = await spawnBinary(env(up));
    const chunk = (content: string) => `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "gpt-4o-mini", choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
    const finish = `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "gpt-4o-mini", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\n`;
    up.reply({ kind: "raw", status: 200, contentType: "text/event-stream", body: chunk("a") + "data: <html>proxy error</html>\n\n" + chunk("b") + finish + "data: [DONE]\n\n" });
    await readSSE(await chat(gw, { stream: true }));
    const line = await gw.waitForLog((l) => typeof l.msg === "string" && l.msg.includes("dropped 1 event(s)"));
    expect(line.level).toBe("warn");
    expect(gw.output()).not.toMatch(/^chatgate: dropped/m);
  });

  test("a GET answered right before SIGTERM still gets its line (regression: its record came a turn of the event loop later, after the exit)", async () => {
    for (let i = 0; i < 3; i++) {
      await using gw = await spawnBinary({ CHATGATE_MOCK: "1" });
      const res = await fetch(`${gw.url}/status`, { headers: { "x-request-id": `last-${i}` } });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      gw.proc.kill("SIGTERM");
      expect(await gw.exited).toBe(0);
      expect(gw.logs().filter((l) => l.msg === "request").map((l) => [l.req_id, l.route, l.status])).toEqual([[`last-${i}`, "/status", 200]]);
    }
  });

  test("CHATGATE_LOG_REQUESTS=0 turns the request lines off, yet a truncated stream still gets its line", async () => {
    await using up = fakeOpenAI();
    await using gw = await spawnBinary(env(up, { CHATGATE_LOG_REQUESTS: "0" }));
    await (await chat(gw, {})).text();
    up.reply({ kind: "stream", cutAfterEvents: 3 });
    const cut = await chat(gw, { stream: true });
    await readSSE(cut);
    const line = await gw.waitForLog((l) => l.msg === "stream truncated");
    expect(line).toMatchObject({ level: "warn", req_id: cut.headers.get("x-request-id"), outcome: "truncated" });
    expect(gw.logs().filter((l) => l.msg === "request")).toEqual([]);
  });

  test("CHATGATE_LOG_LEVEL=warn keeps failures and drops the rest; a bad level refuses to start, naming the variable", async () => {
    await using up = fakeOpenAI();
    await using gw = await spawnBinary(env(up, { CHATGATE_LOG_LEVEL: "warn" }));
    const ok = await chat(gw, {});
    await ok.text();
    up.reply({ kind: "error", status: 503 });
    const failed = await chat(gw, {});
    await failed.text();
    await requestLine(gw, failed.headers.get("x-request-id")!);
    // Only the start-up line, which is written whatever the level.
    expect(gw.logs().filter((l) => l.level === "info").map((l) => l.msg)).toEqual([expect.stringContaining("listening on")]);

    const bad = await runGateway([await compiledBinary(), "--mock"], { CHATGATE_LOG_LEVEL: "loud", PORT: "0" });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("CHATGATE_LOG_LEVEL: expected one of debug, info, warn, error");
  });

  test("CHATGATE_LOG_FORMAT=pretty writes a readable line per request, not JSON", async () => {
    await using gw = await spawnBinary({ CHATGATE_MOCK: "1", CHATGATE_LOG_FORMAT: "pretty" });
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "pretty-1" },
      body: JSON.stringify({ model: "mock", messages: [{ role: "user", content: PROMPT }] }),
    });
    await res.text();
    const [line] = await gw.waitForOutput(/^.*req pretty-1 .*$/m);
    expect(line).toMatch(/INFO.*req pretty-1 \/v1\/chat\/completions mock → mock\/mock 200 ok 1 attempt .* ms$/);
    expect(gw.output()).toContain("Try: curl");
    expect(gw.output()).not.toContain(PROMPT);
  });
});

describe("x-request-id", () => {
  test("a client's id is kept and sent upstream; a missing, too long or badly formed one is replaced by a fresh id; JSON, stream and error answers all carry it", async () => {
    await using up = fakeOpenAI();
    await using gw = await spawnBinary(env(up));
    const good = "Abc.123:xyz-_".padEnd(128, "z");

    const kept = await chat(gw, {}, { "x-request-id": good });
    await kept.text();
    expect(kept.headers.get("x-request-id")).toBe(good);
    expect(up.calls.at(-1)!.headers["x-request-id"]).toBe(good);

    for (const bad of [`${good}z`, "has space", "semi;colon", "ünïcode", ""]) {
      const res = await chat(gw, { stream: true }, { "x-request-id": bad });
      await readSSE(res);
      const id = res.headers.get("x-request-id")!;
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(up.calls.at(-1)!.headers["x-request-id"]).toBe(id);
    }
    const generated = new Set<string>();
    for (const res of [
      await chat(gw, {}),
      await chat(gw, {}, { authorization: "Bearer nope" }),
      await chat(gw, { messages: "not a list" }),
      await fetch(`${gw.url}/nowhere`),
      await fetch(`${gw.url}/v1/chat/completions`, { method: "GET", headers: { authorization: `Bearer ${CLIENT_KEY}` } }),
      await fetch(`${gw.url}/health`),
    ]) {
      await res.arrayBuffer();
      const id = res.headers.get("x-request-id");
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      generated.add(id!);
    }
    expect(generated.size).toBe(6);
    const refused = await chat(gw, {}, { authorization: "Bearer nope", "x-request-id": "refused-1" });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("x-request-id")).toBe("refused-1");
  });

  test("a rate-limited request carries its id too", async () => {
    await using gw = await spawnBinary({ CHATGATE_MOCK: "1", CHATGATE_RATE_LIMIT_MAX: "1" });
    const body = JSON.stringify({ model: "mock", messages: [{ role: "user", content: "hi" }] });
    const post = (id: string) => fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", "x-request-id": id }, body });
    await (await post("first")).text();
    const limited = await post("second");
    expect(limited.status).toBe(429);
    expect(limited.headers.get("x-request-id")).toBe("second");
    expect(await requestLine(gw, "second")).toMatchObject({ status: 429, error: "rate_limit_exceeded" });
  });
});

describe("operational lines", () => {
  test("HOST given as a bracketed IPv6 address ([::1]) is printed as a URL with one pair of brackets", async () => {
    await using gw = await spawnBinary({ CHATGATE_MOCK: "1", HOST: "[::1]", CHATGATE_LEDGER: "0" });
    const start = gw.logs()[0]!;
    expect(start.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
    expect((await fetch(`${start.url as string}/health`)).status).toBe(200);
  });

  test("start-up, cooldown entered and left, reload and shutdown: one line each", async () => {
    await using up = fakeOpenAI();
    await using gw = await spawnBinary(env(up, { CHATGATE_COOLDOWN_AFTER: "1", CHATGATE_COOLDOWN_MS: "1" }));
    const start = gw.logs()[0]!;
    expect(start).toMatchObject({ level: "info", client_auth: "on, 1 key" });
    expect(start.msg).toContain("listening on");

    up.reply({ kind: "error", status: 503 });
    await (await chat(gw, {})).text();
    const entered = await gw.waitForLog((l) => l.msg === "cooldown entered");
    expect(entered).toMatchObject({ level: "warn", provider: "openai", model: "gpt-4o-mini" });
    expect(entered.reason).toContain("503");
    // The cooldown is 1 ms: the next request probes the target, and its success ends the cooldown.
    await Bun.sleep(2);
    await (await chat(gw, {})).text();
    expect(await gw.waitForLog((l) => l.msg === "cooldown left")).toMatchObject({ level: "info", provider: "openai", model: "gpt-4o-mini" });

    gw.proc.kill("SIGHUP");
    expect((await gw.waitForLog((l) => l.msg.includes("config reloaded"))).level).toBe("info");
    gw.proc.kill("SIGTERM");
    expect(await gw.exited).toBe(0);
    const shutdown = gw.logs().filter((l) => l.msg.includes("SIGTERM"));
    expect(shutdown).toHaveLength(1);
    expect(shutdown[0]).toMatchObject({ level: "info", signal: "SIGTERM" });
    expect(gw.logs().filter((l) => l.msg.includes("listening on"))).toHaveLength(1);
    expectNoSecrets(gw);
  });
});
