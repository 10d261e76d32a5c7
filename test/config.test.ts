// Configuration: parseConfig's defaults, overrides and refusals, then the real process — --help,
// --version, refusing bad settings, start-up output, and never printing a key.
import { afterAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { ConfigError, parseConfig, type Env, type Flags } from "../src/config.ts";
import { fakeOpenAI } from "./support/upstream.ts";

function refusal(env: Env, flags: Flags = {}): ConfigError {
  try {
    parseConfig(env, flags);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`parseConfig accepted ${JSON.stringify(env)} ${JSON.stringify(flags)}`);
}

describe("parseConfig", () => {
  test("with an empty environment every setting has the documented default", () => {
    expect(parseConfig({})).toMatchObject({
      host: "127.0.0.1", port: 3000, openaiBaseUrl: "https://api.openai.com/v1", upstreamConfigured: false, mock: false,
      apiKeyDigests: [], allowNoAuth: false, rateLimitMax: 60, rateLimitWindowMs: 60_000, trustProxy: false,
      defaultModel: "gpt-4o-mini", timeoutMs: 600_000, streamIdleTimeoutMs: 60_000, maxBodyBytes: 16_777_216, shutdownTimeoutMs: 30_000,
    });
    expect(parseConfig({}).openaiApiKey).toBeUndefined();
  });

  test("every variable is read into its setting", () => {
    const config = parseConfig({
      HOST: "localhost", PORT: "8080", OPENAI_API_KEY: "sk-x", OPENAI_BASE_URL: "http://127.0.0.1:9/v1/", CHATGATE_MOCK: "1",
      CHATGATE_API_KEYS: "a,b", CHATGATE_RATE_LIMIT_MAX: "7", CHATGATE_RATE_LIMIT_WINDOW_MS: "1234", CHATGATE_TRUST_PROXY: "1",
      CHATGATE_DEFAULT_MODEL: "gpt-4o", CHATGATE_TIMEOUT_MS: "5000", CHATGATE_STREAM_IDLE_TIMEOUT_MS: "250",
      CHATGATE_MAX_BODY_BYTES: "2048", CHATGATE_ALLOW_NO_AUTH: "1", CHATGATE_SHUTDOWN_TIMEOUT_MS: "0",
    });
    expect(config).toMatchObject({
      host: "localhost", port: 8080, openaiApiKey: "sk-x", openaiBaseUrl: "http://127.0.0.1:9/v1", upstreamConfigured: true, mock: true,
      allowNoAuth: true, rateLimitMax: 7, rateLimitWindowMs: 1234, trustProxy: true, defaultModel: "gpt-4o", timeoutMs: 5000,
      streamIdleTimeoutMs: 250, maxBodyBytes: 2048, shutdownTimeoutMs: 0,
    });
    expect(config.apiKeyDigests).toHaveLength(2);
  });

  test("--host and --port override HOST and PORT, even a PORT that would be refused", () => {
    expect(parseConfig({ HOST: "127.0.0.2", PORT: "4000" }, { host: "127.0.0.3", port: "5000" })).toMatchObject({ host: "127.0.0.3", port: 5000 });
    expect(parseConfig({ PORT: "abc" }, { port: "0" }).port).toBe(0);
    expect(refusal({ PORT: "4000" }, { port: "x" }).message).toContain("--port");
  });

  const bad: [Env, string][] = [
    [{ PORT: "abc" }, "PORT"],
    [{ PORT: "70000" }, "PORT"],
    [{ PORT: "-1" }, "PORT"],
    [{ PORT: "80.5" }, "PORT"],
    [{ CHATGATE_RATE_LIMIT_MAX: "-1" }, "CHATGATE_RATE_LIMIT_MAX"],
    [{ CHATGATE_RATE_LIMIT_WINDOW_MS: "0" }, "CHATGATE_RATE_LIMIT_WINDOW_MS"],
    [{ CHATGATE_TIMEOUT_MS: "x" }, "CHATGATE_TIMEOUT_MS"],
    [{ CHATGATE_STREAM_IDLE_TIMEOUT_MS: "1e3" }, "CHATGATE_STREAM_IDLE_TIMEOUT_MS"],
    [{ CHATGATE_MAX_BODY_BYTES: "16MB" }, "CHATGATE_MAX_BODY_BYTES"],
    [{ CHATGATE_SHUTDOWN_TIMEOUT_MS: "soon" }, "CHATGATE_SHUTDOWN_TIMEOUT_MS"],
    [{ OPENAI_BASE_URL: "not-a-url" }, "OPENAI_BASE_URL"],
    [{ OPENAI_BASE_URL: "ftp://example.com/v1" }, "OPENAI_BASE_URL"],
    [{ CHATGATE_MOCK: "maybe" }, "CHATGATE_MOCK"],
    [{ CHATGATE_TRUST_PROXY: "sometimes" }, "CHATGATE_TRUST_PROXY"],
    [{ CHATGATE_ALLOW_NO_AUTH: "please" }, "CHATGATE_ALLOW_NO_AUTH"],
  ];
  for (const [env, variable] of bad) {
    test(`${Object.entries(env)[0]!.join("=")} refuses to start and names ${variable}`, () => {
      const err = refusal(env);
      expect(err.variable).toBe(variable);
      expect(err.message).toContain(variable);
    });
  }

  test("a non-loopback HOST without client keys refuses, saying how to allow it", () => {
    for (const [env, flags] of [[{ HOST: "0.0.0.0" }, {}], [{ HOST: "192.0.2.10" }, {}], [{ HOST: "::" }, {}], [{}, { host: "0.0.0.0" }]] as [Env, Flags][]) {
      const err = refusal(env, flags);
      expect(err.message).toContain("CHATGATE_API_KEYS");
      expect(err.message).toContain("CHATGATE_ALLOW_NO_AUTH=1");
    }
  });

  test("a non-loopback HOST starts with client keys or with CHATGATE_ALLOW_NO_AUTH=1, and loopback needs neither", () => {
    expect(parseConfig({ HOST: "0.0.0.0", CHATGATE_API_KEYS: "k" }).host).toBe("0.0.0.0");
    expect(parseConfig({ HOST: "0.0.0.0", CHATGATE_ALLOW_NO_AUTH: "1" }).host).toBe("0.0.0.0");
    for (const host of ["127.0.0.1", "127.1.2.3", "localhost", "::1"]) expect(parseConfig({ HOST: host }).host).toBe(host);
  });

  test("a provider is configured only when OPENAI_API_KEY or OPENAI_BASE_URL is set", () => {
    expect(parseConfig({}).upstreamConfigured).toBe(false);
    expect(parseConfig({ OPENAI_API_KEY: "", OPENAI_BASE_URL: "" }).upstreamConfigured).toBe(false);
    expect(parseConfig({ CHATGATE_MOCK: "1" }).upstreamConfigured).toBe(false);
    expect(parseConfig({ OPENAI_API_KEY: "sk-x" })).toMatchObject({ upstreamConfigured: true, openaiBaseUrl: "https://api.openai.com/v1" });
    expect(parseConfig({ OPENAI_BASE_URL: "http://127.0.0.1:1/v1" })).toMatchObject({ upstreamConfigured: true, openaiApiKey: undefined });
  });
});

// ---------------------------------------------------------------------------------------------
// The real process.

const live = new Set<Subprocess>();
afterAll(() => {
  for (const proc of live) proc.kill("SIGKILL");
});

/** The usage ledger of the gateways started here: a directory of their own, never the user's. */
const dataDir = mkdtempSync(join(tmpdir(), "chatgate-config-data-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** A clean environment: nothing from the test runner's own (no stray OPENAI_API_KEY). */
const baseEnv = (env: Record<string, string>) => ({ PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", PORT: "0", CHATGATE_DATA_DIR: dataDir, ...env });

function spawn(args: string[], env: Record<string, string>) {
  const proc = Bun.spawn([process.execPath, "src/main.ts", ...args], { env: baseEnv(env), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  live.add(proc);
  void proc.exited.then(() => live.delete(proc));
  return proc;
}

/** Runs chatgate to its exit (--help, refusals) and returns what it printed. */
async function run(args: string[], env: Record<string, string> = {}) {
  const proc = spawn(args, env);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

/** Starts chatgate and resolves once its first line says where it listens. */
async function serve(args: string[], env: Record<string, string>) {
  const proc = spawn(args, env);
  let out = "";
  let err = "";
  const waiters: { pattern: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  /** Resolves when stdout so far matches `pattern` (output arrives in pieces, not line by line). */
  const until = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve) => {
      const match = pattern.exec(out);
      if (match) resolve(match);
      else waiters.push({ pattern, resolve });
    });
  const drain = async (stream: ReadableStream<Uint8Array>, onText: (t: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
  };
  const read = Promise.all([
    drain(proc.stdout, (t) => {
      out += t;
      for (const waiter of [...waiters]) {
        const match = waiter.pattern.exec(out);
        if (match) (waiters.splice(waiters.indexOf(waiter), 1), waiter.resolve(match));
      }
    }),
    drain(proc.stderr, (t) => (err += t)),
  ]);
  const exited = proc.exited.then((code) => Promise.reject(new Error(`exited ${code} before listening:\n${out}${err}`)));
  exited.catch(() => {});
  const firstLine = await Promise.race([until(/^(.*)\n/), exited]);
  const match = /listening on (http:\/\/\S+)/.exec(firstLine[1]!);
  if (!match) throw new Error(`the first line does not say where chatgate listens: ${firstLine[1]}`);
  const url = new URL(match[1]!);
  /** The address to call: the printed one, or loopback when it bound every interface. */
  const base = url.hostname === "0.0.0.0" ? `http://127.0.0.1:${url.port}` : url.origin;
  const stop = async () => {
    proc.kill("SIGTERM");
    const code = await proc.exited;
    await read;
    return code;
  };
  return { url, base, until, output: () => out + err, stop, [Symbol.asyncDispose]: async () => void (await stop()) };
}

const chat = (base: string, headers: Record<string, string> = {}, body: unknown = { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }) =>
  fetch(`${base}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });

describe("the chatgate command", () => {
  test("--help lists every option and environment variable and exits 0", async () => {
    const { stdout, code } = await run(["--help"]);
    expect(code).toBe(0);
    const names = ["--host", "--port", "HOST", "PORT", "OPENAI_API_KEY", "OPENAI_BASE_URL", "CHATGATE_MOCK", "CHATGATE_API_KEYS",
      "CHATGATE_RATE_LIMIT_MAX", "CHATGATE_RATE_LIMIT_WINDOW_MS", "CHATGATE_TRUST_PROXY", "CHATGATE_DEFAULT_MODEL", "CHATGATE_TIMEOUT_MS",
      "CHATGATE_STREAM_IDLE_TIMEOUT_MS", "CHATGATE_MAX_BODY_BYTES", "CHATGATE_ALLOW_NO_AUTH", "CHATGATE_SHUTDOWN_TIMEOUT_MS", "--help", "--version"];
    for (const name of names) expect(stdout).toMatch(new RegExp(`(^|\\s)${name}\\b(?!_)`, "m"));
  });

  test("--version prints package.json's version and exits 0", async () => {
    const { stdout, code } = await run(["--version"]);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(`chatgate ${pkg.version}`);
  });

  test("bad settings and unknown options exit non-zero before listening, naming what is wrong", async () => {
    const cases: [string[], Record<string, string>, string][] = [
      [[], { PORT: "abc" }, "PORT"],
      [[], { CHATGATE_RATE_LIMIT_MAX: "-1" }, "CHATGATE_RATE_LIMIT_MAX"],
      [[], { OPENAI_BASE_URL: "not-a-url" }, "OPENAI_BASE_URL"],
      [["--port", "99999"], {}, "--port"],
      [["--frobnicate"], {}, "frobnicate"],
    ];
    const results = await Promise.all(cases.map(([args, env]) => run(args, env)));
    results.forEach(({ stdout, stderr, code }, i) => {
      expect(code).not.toBe(0);
      expect(stderr).toContain(cases[i]![2]);
      expect(stdout).not.toContain("listening");
    });
  });

  test("HOST=0.0.0.0 without client keys refuses to start with a clear message", async () => {
    const { stderr, code } = await run([], { HOST: "0.0.0.0" });
    expect(code).not.toBe(0);
    expect(stderr).toContain("0.0.0.0");
    expect(stderr).toContain("CHATGATE_API_KEYS");
    expect(stderr).toContain("CHATGATE_ALLOW_NO_AUTH=1");
  });

  test("HOST=0.0.0.0 starts with CHATGATE_ALLOW_NO_AUTH=1 and answers /health", async () => {
    await using gw = await serve([], { HOST: "0.0.0.0", CHATGATE_ALLOW_NO_AUTH: "1", CHATGATE_MOCK: "1" });
    expect(gw.url.hostname).toBe("0.0.0.0");
    expect(await (await fetch(`${gw.base}/health`)).json()).toEqual({ status: "ok" });
  });

  test("--port and --host override PORT and HOST", async () => {
    const probe = Bun.serve({ port: 0, hostname: "127.0.0.2", fetch: () => new Response() });
    const port = probe.port;
    await probe.stop(true);
    await using gw = await serve(["--port", String(port), "--host", "127.0.0.2"], { PORT: "abc", HOST: "0.0.0.0", CHATGATE_MOCK: "1" });
    expect(gw.url.origin).toBe(`http://127.0.0.2:${port}`);
    expect((await fetch(`http://127.0.0.2:${port}/health`)).status).toBe(200);
  });

  test("with no provider and no mock it starts, /health is OK, and completions get 503 saying how to configure one", async () => {
    await using gw = await serve([], {});
    expect(await (await fetch(`${gw.base}/health`)).json()).toEqual({ status: "ok" });
    for (const res of [await chat(gw.base), await fetch(`${gw.base}/chat`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"message":"hi"}' })]) {
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({
        error: { type: "server_error", code: "no_provider_configured", param: null, message: expect.stringMatching(/OPENAI_API_KEY.*CHATGATE_MOCK=1|CHATGATE_MOCK=1.*OPENAI_API_KEY/) },
      });
    }
  });
});

describe("start-up output", () => {
  test("at a terminal (the readable log format) it prints the URL it listens on and a curl line that works when pasted", async () => {
    await using gw = await serve([], { CHATGATE_MOCK: "1", CHATGATE_API_KEYS: "ck-startup-key", CHATGATE_LOG_FORMAT: "pretty" });
    const curl = (await gw.until(/(curl [^\n]*)\n/))[1]!;
    expect(curl).toContain(`${gw.url.origin}/v1/chat/completions`);
    if (!Bun.which("curl")) return; // the line's shape is checked above; pasting it needs curl
    const pasted = Bun.spawn(["bash", "-c", curl], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", CHATGATE_KEY: "ck-startup-key" }, stdout: "pipe", stderr: "ignore" });
    live.add(pasted);
    const answer = JSON.parse(await new Response(pasted.stdout).text());
    expect(await pasted.exited).toBe(0);
    expect(answer).toMatchObject({ object: "chat.completion", model: "mock" });
  });

  test("no client or provider key is ever printed, even while serving failing requests", async () => {
    const clientKey = "ck-live-PRINTEDCLIENT-8c1d";
    const providerKey = "sk-live-PRINTEDPROVIDER-4e2f";
    await using up = fakeOpenAI();
    const gw = await serve([], { OPENAI_BASE_URL: up.url, OPENAI_API_KEY: providerKey, CHATGATE_API_KEYS: clientKey, CHATGATE_MOCK: "1", CHATGATE_RETRIES: "0", CHATGATE_COOLDOWN_AFTER: "0" });
    try {
      const auth = { authorization: `Bearer ${clientKey}` };
      const echo = { message: `Incorrect API key provided: ${providerKey}`, type: "invalid_request_error", param: null, code: "invalid_api_key" };
      up.reply({ kind: "error", status: 401, error: echo }, { kind: "error", status: 500, error: echo }, { kind: "error", status: 400, error: echo }, { kind: "reset" });
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await chat(gw.base, auth)).status);
      statuses.push((await chat(gw.base, auth)).status);
      statuses.push((await chat(gw.base, { authorization: `Bearer ${clientKey}x` })).status);
      statuses.push((await chat(gw.base, {})).status);
      statuses.push((await chat(gw.base, auth, "{")).status);
      statuses.push((await chat(gw.base, auth, { model: "mock", stream: true, messages: [{ role: "user", content: "hi" }] })).status);
      statuses.push((await fetch(`${gw.base}/status`, { headers: auth })).status);
      expect(statuses).toEqual([502, 502, 400, 502, 200, 401, 401, 400, 200, 200]);
    } finally {
      expect(await gw.stop()).toBe(0);
    }
    const printed = gw.output();
    expect(printed).toContain("listening on");
    for (const secret of [clientKey, providerKey, "PRINTEDCLIENT", "PRINTEDPROVIDER"]) expect(printed).not.toContain(secret);
  });
});
