// Running as a service (request ids, logs, metrics, settings, SIGHUP, systemd notify, the unit)
// probed from outside, as an attacker and as a new operator meet it: the compiled binary, a fake
// OpenAI upstream in this process, raw fetch (and raw TCP where fetch will not send the bytes) as
// client, a real unix datagram socket as systemd. What the service's other tests cover is not
// repeated; this file holds what they missed and the fixes' regressions.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary, emptyDir, spawnBinary } from "./support/binary.ts";
import { keyOf, openaiAt, routedEnv, type ConfigDoc } from "./support/config-file.ts";
import { notifyListener } from "./support/notify-listener.ts";
import type { GatewayProcess } from "./support/process.ts";
import { rawRequest } from "./support/raw-http.ts";
import { readEvents } from "./support/sse.ts";
import { fakeOpenAI, type FakeOpenAI } from "./support/upstream.ts";

const KEY = "ck-probe-service-client-0001";
const METRICS_KEY = "mk-probe-service-metrics-0001";
const WRONG_KEY = "sk-probe-service-WRONG-BEARER-77";
const QUERY_SECRET = "sk-probe-service-QUERY-SECRET-55";
const PROMPT = "probe-service prompt MAUVE-OCTOPUS";
const ORIGIN = "https://app.example";
const SECRETS = [KEY, METRICS_KEY, WRONG_KEY, QUERY_SECRET, keyOf("up"), PROMPT, "MAUVE-OCTOPUS"];

const dirs: string[] = [];
let up: FakeOpenAI;
let gw: GatewayProcess;

beforeAll(async () => {
  await compiledBinary();
  up = fakeOpenAI();
  const doc = {
    providers: [openaiAt("up", up, { models: ["gpt-4o-mini"] }), { id: "mock", type: "mock" }],
    models: { o: { targets: [{ provider: "up", model: "gpt-4o-mini" }] }, m: { targets: [{ provider: "mock", model: "mock" }] } },
  };
  gw = await spawnBinary({
    ...routedEnv(doc as ConfigDoc),
    CHATGATE_API_KEYS: KEY,
    CHATGATE_METRICS_KEY: METRICS_KEY,
    CHATGATE_CORS_ORIGINS: ORIGIN,
    CHATGATE_MAX_BODY_BYTES: "4096",
    CHATGATE_RATE_LIMIT_MAX: "0",
    CHATGATE_AUTH_FAILURE_LIMIT: "0",
  });
}, 120_000);

afterAll(async () => {
  await gw?.stop();
  await up?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const AUTH = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };
const body = (model: string, extra: Record<string, unknown> = {}) => JSON.stringify({ model, messages: [{ role: "user", content: PROMPT }], ...extra });
const chat = (model: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = AUTH) =>
  fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers, body: body(model, extra) });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The request lines logged so far for id `id`. */
const linesFor = (id: string) => gw.logs().filter((l) => l.req_id === id);

describe("x-request-id is on every answer", () => {
  test("a 404, 405, 413, 401, 308, /metrics 401, HEAD and POST /metrics, a JSON answer and a stream each carry one", async () => {
    const answers: [string, Response][] = [
      ["404", await fetch(`${gw.url}/v1/nope`, { headers: AUTH })],
      ["405", await fetch(`${gw.url}/v1/chat/completions`, { method: "PUT", headers: AUTH })],
      ["413", await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: AUTH, body: "x".repeat(5000) })],
      ["401", await chat("m", {}, { "content-type": "application/json" })],
      ["308", await fetch(`${gw.url}/health/`, { redirect: "manual" })],
      ["/metrics 401", await fetch(`${gw.url}/metrics`, { headers: AUTH })],
      ["HEAD /metrics", await fetch(`${gw.url}/metrics`, { method: "HEAD" })],
      ["POST /metrics", await fetch(`${gw.url}/metrics`, { method: "POST", headers: { authorization: `Bearer ${METRICS_KEY}` } })],
      ["json", await chat("m")],
      ["stream", await chat("m", { stream: true })],
    ];
    const statuses = await Promise.all(answers.map(async ([what, res]) => (await res.arrayBuffer(), [what, res.status, UUID.test(res.headers.get("x-request-id") ?? "")])));
    expect(statuses).toEqual([
      ["404", 404, true], ["405", 405, true], ["413", 413, true], ["401", 401, true], ["308", 308, true],
      ["/metrics 401", 401, true], ["HEAD /metrics", 401, true], ["POST /metrics", 405, true], ["json", 200, true], ["stream", 200, true],
    ]);
  });

  test("a CORS preflight carries one too, allowed origin or not (regression: preflights had none)", async () => {
    const preflight = (origin: string, id?: string) =>
      fetch(`${gw.url}/v1/chat/completions`, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", ...(id ? { "x-request-id": id } : {}) } });
    const allowed = await preflight(ORIGIN);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(allowed.headers.get("x-request-id")).toMatch(UUID);
    const refused = await preflight("https://evil.example");
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    expect(refused.headers.get("x-request-id")).toMatch(UUID);
    expect((await preflight("null", "pre-flight.1")).headers.get("x-request-id")).toBe("pre-flight.1");
    expect((await preflight(ORIGIN, "bad id")).headers.get("x-request-id")).toMatch(UUID);
  });

  test("hostile ids are replaced, never echoed: 129 characters, unicode, a space, a duplicated header, bytes beyond ASCII", async () => {
    for (const id of ["a".repeat(129), "abc\u00e9", "ab cd", "a/b", "<script>"]) {
      const res = await fetch(`${gw.url}/health`, { headers: { "x-request-id": id } });
      expect(res.headers.get("x-request-id")).toMatch(UUID);
    }
    expect((await fetch(`${gw.url}/health`, { headers: { "x-request-id": "x".repeat(128) } })).headers.get("x-request-id")).toBe("x".repeat(128));
    // (A control byte in a header is refused by Bun's HTTP parser with a bare 400, before chatgate sees it.)
    for (const header of ["X-Request-Id: abc\xff\xfe", "X-Request-Id: one\r\nX-Request-Id: two"]) {
      const raw = await rawRequest(gw.url, `GET /health HTTP/1.1\r\nHost: x\r\n${header}\r\nConnection: close\r\n\r\n`);
      expect(raw.status).toBe(200);
      const ids = raw.text.split("\r\n").filter((l) => /^x-request-id:/i.test(l));
      expect(ids).toHaveLength(1);
      expect(ids[0]!.slice("x-request-id: ".length)).toMatch(UUID);
    }
  });
});

describe("a model name of the client's choosing", () => {
  // Regression: the upstream model goes out as `x-chatgate-model`, and with a provider that takes
  // any name (the mock, or an upstream whose model list is not known) it is the client's own text.
  // A newline, or one character beyond Latin-1 (`日本`), made Bun's Headers throw: 500
  // internal_error without an x-request-id, a stack trace on stderr, and two log lines for one
  // request (200 ok, then 500 error).
  const NAMES = ["日本-model", 'm\n{"level":"fatal"}', "tab\there", "nul\u0000x"];

  test("20,000 characters long: answered, with only the name's first 256 characters in x-chatgate-model", async () => {
    await using any = await spawnBinary({ CHATGATE_MOCK: "1" });
    const name = "m".repeat(20_000);
    for (const stream of [false, true]) {
      const res = await fetch(`${any.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: body(name, { stream }) });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-chatgate-model")).toBe(name.slice(0, 256));
      await res.arrayBuffer();
    }
  });

  test("is answered (JSON, stream, Messages API) with its id and a percent-encoded x-chatgate-model, logged once, no stack trace", async () => {
    await using any = await spawnBinary({ CHATGATE_MOCK: "1" });
    const post = (path: string, payload: string) => fetch(`${any.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: payload });
    for (const name of NAMES) {
      for (const stream of [false, true]) {
        const res = await post("/v1/chat/completions", body(name, { stream }));
        const id = res.headers.get("x-request-id") ?? "";
        const text = await res.text();
        expect({ name, stream, status: res.status, text: res.status === 200 ? "" : text }).toEqual({ name, stream, status: 200, text: "" });
        expect(id).toMatch(UUID);
        expect(decodeURIComponent(res.headers.get("x-chatgate-model")!)).toBe(name);
        const line = await any.waitForLog((l) => l.req_id === id);
        expect(line).toMatchObject({ status: 200, outcome: "ok", model: name, upstream_model: name });
      }
      const messages = await post("/v1/messages", JSON.stringify({ model: name, max_tokens: 5, messages: [{ role: "user", content: "hi" }] }));
      expect(messages.status).toBe(200);
      expect(messages.headers.get("x-request-id")).toMatch(UUID);
      expect(decodeURIComponent(messages.headers.get("x-chatgate-model")!)).toBe(name);
      await messages.arrayBuffer();
    }
    await Bun.sleep(100);
    const ids = any.logs().filter((l) => l.msg === "request").map((l) => l.req_id as string);
    expect(ids).toHaveLength(NAMES.length * 3);
    expect(new Set(ids).size).toBe(ids.length);
    expect(any.output()).not.toContain("internal error");
    expect(any.output()).not.toContain("has invalid value");
  });

  test("an ASCII name goes out in x-chatgate-model exactly as it is", async () => {
    await using any = await spawnBinary({ CHATGATE_MOCK: "1" });
    const res = await fetch(`${any.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: body("plain-Name_1.0:x (é)") });
    expect(res.headers.get("x-chatgate-model")).toBe("plain-Name_1.0:x (é)");
    await res.arrayBuffer();
  });

  test("in the readable log (CHATGATE_LOG_FORMAT=pretty) a newline in a model name stays on its request's line", async () => {
    await using pretty = await spawnBinary({ CHATGATE_MOCK: "1", CHATGATE_LOG_FORMAT: "pretty" });
    const res = await fetch(`${pretty.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: body('m\n{"level":"fatal"}\u001b[31m') });
    const id = res.headers.get("x-request-id")!;
    await res.arrayBuffer();
    const line = (await pretty.waitForOutput(new RegExp(`req ${id}[^\\n]*\\n`)))[0];
    expect(line).toContain(JSON.stringify('m\n{"level":"fatal"}\u001b[31m'));
    expect(line).toContain("200 ok");
    expect(pretty.output()).not.toMatch(/^\{"level":"fatal"\}/m);
    expect(pretty.output()).not.toContain("\u001b[31m");
  });
});

describe("log lines", () => {
  test("every stdout line is JSON, and no key, bearer, query-string secret or prompt reaches any line", async () => {
    await (await fetch(`${gw.url}/v1/models?api_key=${QUERY_SECRET}`, { headers: { authorization: `Bearer ${WRONG_KEY}` } })).arrayBuffer();
    await (await fetch(`${gw.url}/v1/chat/completions?key=${QUERY_SECRET}`, { method: "POST", headers: AUTH, body: body("o") })).arrayBuffer();
    await (await fetch(`${gw.url}/nope?token=${QUERY_SECRET}`, { headers: { authorization: `Bearer ${WRONG_KEY}`, "x-api-key": WRONG_KEY } })).arrayBuffer();
    await (await fetch(`${gw.url}/metrics?k=${QUERY_SECRET}`, { headers: { authorization: `Bearer ${WRONG_KEY}` } })).arrayBuffer();
    await (await chat("o", { stream: true }, { ...AUTH, "x-request-id": "trace.abc:1" })).arrayBuffer();
    await gw.waitForLog((l) => l.req_id === "trace.abc:1");
    const out = gw.output();
    for (const secret of SECRETS) expect(out).not.toContain(secret);
    const stdout = out.split("\n").filter((l) => l !== "");
    for (const line of stdout) expect(() => JSON.parse(line)).not.toThrow();
  });

  test("a stream the client drops, one the upstream cuts and one that ends in an error event each get exactly one line", async () => {
    up.reply({ kind: "stream", delayMs: 200 }, { kind: "stream", cutAfterEvents: 2 }, { kind: "stream", errorEventAfter: 2 });
    const abort = new AbortController();
    const dropped = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: AUTH, body: body("o", { stream: true }), signal: abort.signal });
    const droppedId = dropped.headers.get("x-request-id")!;
    await readEvents(dropped).first;
    abort.abort();
    const cut = await chat("o", { stream: true });
    const failed = await chat("o", { stream: true });
    for (const res of [cut, failed]) await res.text();
    const ids = [droppedId, cut.headers.get("x-request-id")!, failed.headers.get("x-request-id")!];
    const outcomes = await Promise.all(ids.map((id) => gw.waitForLog((l) => l.req_id === id && l.msg === "request")));
    expect(outcomes.map((l) => l.outcome)).toEqual(["client_abort", "truncated", "truncated"]);
    await Bun.sleep(100);
    for (const id of ids) expect(linesFor(id)).toHaveLength(1);
  });
});

describe("log lines stay lines", () => {
  // Regression: the model name (and, from a provider that takes any name, the upstream model) went
  // into the line whole. A 100,000-character name made a 200 KB line; journald splits lines over
  // 48 KiB into entries that no longer parse as JSON.
  test("a 100,000-character model name or a 7,000-character path gives a request line under 2 KB that still names its head", async () => {
    await using any = await spawnBinary({ CHATGATE_MOCK: "1" });
    const name = `huge-${"m".repeat(100_000)}`;
    const res = await fetch(`${any.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: body(name) });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const lost = await fetch(`${any.url}/${"p".repeat(7_000)}`);
    expect(lost.status).toBe(404);
    for (const id of [res.headers.get("x-request-id")!, lost.headers.get("x-request-id")!]) await any.waitForLog((l) => l.req_id === id);
    const lines = any.output().split("\n").filter((l) => l.includes('"msg":"request"'));
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line.length).toBeLessThan(2_000);
    const [answered, notFound] = lines.map((l) => JSON.parse(l) as { model: string; upstream_model: string; route: string });
    expect(answered!.model).toStartWith("huge-mmm");
    expect(answered!.model).toEndWith("…");
    expect(answered!.upstream_model).toBe(answered!.model);
    expect(notFound!.route).toStartWith("/ppp");
    expect(notFound!.route).toEndWith("…");
  });

  test("a name of 256 characters is logged whole", async () => {
    await using any = await spawnBinary({ CHATGATE_MOCK: "1" });
    const name = "n".repeat(256);
    const res = await fetch(`${any.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: body(name) });
    await res.arrayBuffer();
    expect((await any.waitForLog((l) => l.req_id === res.headers.get("x-request-id"))).model).toBe(name);
  });
});

describe("/metrics", () => {
  test("200 distinct model names and 200 unknown paths add no series, and no secret is ever a label", async () => {
    const scrape = async () => (await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_KEY}` } })).text()).split("\n").filter((l) => l !== "" && !l.startsWith("#"));
    // A scrape is counted too: the first one's series (/metrics, 200) is there before the count.
    await scrape();
    for (let i = 0; i < 5; i++) {
      await (await chat(`sk-model-secret-${i}`)).arrayBuffer();
      await (await chat(`mock/sk-model-secret-${i}`)).arrayBuffer();
      await (await fetch(`${gw.url}/v1/sk-path-secret-${i}`, { headers: AUTH })).arrayBuffer();
    }
    const before = (await scrape()).filter((l) => !l.startsWith("process_") && !l.startsWith("chatgate_heap") && !l.startsWith("chatgate_event_loop")).length;
    for (let i = 5; i < 200; i++) {
      await (await chat(`sk-model-secret-${i}`)).arrayBuffer();
      await (await chat(`mock/sk-model-secret-${i}`)).arrayBuffer();
      await (await fetch(`${gw.url}/v1/sk-path-secret-${i}`, { headers: AUTH })).arrayBuffer();
    }
    const after = await scrape();
    expect(after.filter((l) => !l.startsWith("process_") && !l.startsWith("chatgate_heap") && !l.startsWith("chatgate_event_loop")).length).toBe(before);
    const text = after.join("\n");
    for (const secret of [...SECRETS, "sk-model-secret", "sk-path-secret"]) expect(text).not.toContain(secret);
  }, 60_000);

  test("a refusal at /v1/usage is counted under its own route (regression: it was `other`, with unknown paths)", async () => {
    const metric = async () => {
      const text = await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_KEY}` } })).text();
      return Number(/^chatgate_requests_total\{route="\/v1\/usage",model="none",provider="none",status="401"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    };
    const before = await metric();
    for (let i = 0; i < 3; i++) expect((await fetch(`${gw.url}/v1/usage`)).status).toBe(401);
    expect(await metric()).toBe(before + 3);
  });

  test("a wrong key, a client key and no key are 401s in OpenAI's shape, HEAD too; POST is a 405 naming GET", async () => {
    const tries: Record<string, string>[] = [{}, { authorization: `Bearer ${KEY}` }, { authorization: `Bearer ${WRONG_KEY}` }, { authorization: `Basic ${btoa(`x:${METRICS_KEY}`)}` }];
    for (const headers of tries) {
      const res = await fetch(`${gw.url}/metrics`, { headers });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: object }).error).toMatchObject({ type: "invalid_request_error", code: "invalid_api_key" });
      expect((await fetch(`${gw.url}/metrics`, { method: "HEAD", headers })).status).toBe(401);
    }
    const post = await fetch(`${gw.url}/metrics`, { method: "POST", headers: { authorization: `Bearer ${METRICS_KEY}` } });
    expect(post.status).toBe(405);
    expect(((await post.json()) as { error: { message: string } }).error.message).toContain("use GET");
  });
});

describe("settings a new operator gets wrong", () => {
  const start = async (env: Record<string, string>) => {
    const proc = Bun.spawn([await compiledBinary()], { cwd: emptyDir(), env: { PATH: "/usr/bin:/bin", PORT: "0", CHATGATE_MOCK: "1", BUN_CONFIG_MAX_HTTP_REQUESTS: "65535", ...env }, stdout: "pipe", stderr: "pipe" });
    const timer = setTimeout(() => proc.kill(), 5_000);
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    clearTimeout(timer);
    return { code, stderr };
  };

  test("a bad log level, log format, request-log flag, CORS origin or empty metrics key refuses to start with exit 2, naming the variable", async () => {
    const cases: [Record<string, string>, string][] = [
      [{ CHATGATE_LOG_LEVEL: "trace" }, "CHATGATE_LOG_LEVEL"],
      [{ CHATGATE_LOG_LEVEL: "verbose" }, "CHATGATE_LOG_LEVEL"],
      [{ CHATGATE_LOG_FORMAT: "text" }, "CHATGATE_LOG_FORMAT"],
      [{ CHATGATE_LOG_REQUESTS: "maybe" }, "CHATGATE_LOG_REQUESTS"],
      [{ CHATGATE_CORS_ORIGINS: "null" }, "CHATGATE_CORS_ORIGINS"],
      [{ CHATGATE_CORS_ORIGINS: "https://app.example/" }, "CHATGATE_CORS_ORIGINS"],
      [{ CHATGATE_METRICS_KEY: " , " }, "CHATGATE_METRICS_KEY"],
    ];
    for (const [env, variable] of cases) {
      const { code, stderr } = await start(env);
      expect({ env, code }).toEqual({ env, code: 2 });
      expect(stderr).toContain(`refusing to start: ${variable}`);
    }
  });

  test("`chatgate --version` and `-v` print one line, the version, and exit 0", async () => {
    for (const flag of ["--version", "-v"]) {
      const proc = Bun.spawn([await compiledBinary(), flag], { stdout: "pipe", stderr: "pipe" });
      const [code, stdout] = await Promise.all([proc.exited, new Response(proc.stdout).text()]);
      expect(code).toBe(0);
      expect(stdout).toMatch(/^chatgate \d+\.\d+\.\d+( \(commit [0-9a-f]{7,40}(-dirty)?\))?\n$/);
    }
  });
});

describe("deploy/chatgate.service", () => {
  test("has every line a hardened notify service needs, and its config and env file under /etc/chatgate", () => {
    const unit = readFileSync(join(import.meta.dir, "..", "deploy", "chatgate.service"), "utf8");
    const lines = [
      "Type=notify", "NotifyAccess=main", "ExecReload=/bin/kill -HUP $MAINPID", "WatchdogSec=30", "EnvironmentFile=-/etc/chatgate/chatgate.env",
      "StateDirectory=chatgate", "Restart=on-failure", "DynamicUser=yes", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
      "PrivateTmp=yes", "PrivateDevices=yes", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service", "CapabilityBoundingSet=",
    ];
    expect(lines.filter((line) => !unit.split("\n").includes(line))).toEqual([]);
    expect(unit).toMatch(/^ExecStart=\S+ --config \/etc\/chatgate\/chatgate\.yaml$/m);
    // Said, not silently left out: the JIT needs W+X memory.
    expect(unit).toMatch(/^# MemoryDenyWriteExecute is deliberately NOT set\./m);
  });
});

describe("SIGHUP and the notify socket", () => {
  const configDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "chatgate-probe-service-"));
    dirs.push(dir);
    return dir;
  };

  test("every reload is bracketed RELOADING=1 + MONOTONIC_USEC then READY=1; three broken files and a deleted one are one error line each, and the old routing stays", async () => {
    const dir = configDir();
    const path = join(dir, "chatgate.yaml");
    writeFileSync(path, "providers:\n  - {id: mock, type: mock}\nmodels:\n  chat: {targets: [{provider: mock, model: mock}]}\n");
    await using listener = await notifyListener(join(dir, "notify.sock"));
    await using sd = await spawnBinary({ NOTIFY_SOCKET: listener.address, WATCHDOG_USEC: "400000" }, ["--config", path]);
    await listener.next(/^READY=1/);
    const ask = async () => (await fetch(`${sd.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: body("chat") })).status;
    const reloadOnce = async (expectRejected: boolean) => {
      const from = listener.received.length;
      sd.proc.kill("SIGHUP");
      await listener.next(/^RELOADING=1\nMONOTONIC_USEC=\d+$/, from);
      const ready = await listener.next(/^READY=1\nSTATUS=/, from);
      expect(ready.msg.includes("Reload rejected")).toBe(expectRejected);
    };
    for (const broken of ["providers: [\n", "models: 5\n", "providers:\n  - {id: x, type: nope}\n"]) {
      writeFileSync(path, broken);
      await reloadOnce(true);
      expect(await ask()).toBe(200);
    }
    rmSync(path);
    await reloadOnce(true);
    expect(await ask()).toBe(200);
    await sd.waitForLog((l) => /reload rejected.*cannot read/.test(l.msg));
    const rejected = sd.logs().filter((l) => /reload rejected/.test(l.msg));
    expect(rejected.map((l) => l.level)).toEqual(["error", "error", "error", "error"]);
    // Bracketing holds across the whole run: never two RELOADING=1 without a READY=1 between.
    let open = false;
    for (const { msg } of listener.received) {
      if (msg.startsWith("RELOADING=1")) (expect(open).toBe(false), (open = true));
      if (msg.startsWith("READY=1")) open = false;
    }
    // And the watchdog pings go on after them.
    await listener.next(/^WATCHDOG=1$/, listener.received.length, 2_000);
  }, 30_000);

  test("SIGTERM during a slow stream: STOPPING=1 at once, the stream still completes, one log line for it, exit 0", async () => {
    const dir = configDir();
    await using slow = fakeOpenAI();
    await using listener = await notifyListener(join(dir, "notify.sock"));
    await using sd = await spawnBinary({ NOTIFY_SOCKET: listener.address, OPENAI_BASE_URL: slow.url, OPENAI_API_KEY: keyOf("slow") });
    await listener.next(/^READY=1/);
    slow.reply({ kind: "stream", delayMs: 150 });
    const res = await fetch(`${sd.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: body("gpt-4o-mini", { stream: true }) });
    const reading = readEvents(res);
    await reading.first;
    sd.proc.kill("SIGTERM");
    await listener.next(/^STOPPING=1/m);
    const events = await reading.done;
    expect(events.at(-1)).toBe("[DONE]");
    expect(await sd.exited).toBe(0);
    expect(sd.logs().filter((l) => l.msg === "request" && l.req_id === res.headers.get("x-request-id"))).toHaveLength(1);
  }, 30_000);
});
