// The YAML config file through parseConfig: defaults from the schema, every refusal's message
// (file, field, problem), precedence against the environment, and the implicit providers.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, parseConfig, type Env, type Flags } from "../src/config.ts";

const dir = mkdtempSync(join(tmpdir(), "chatgate-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** Writes `yaml` to a fresh file and returns its path. */
function file(yaml: string): string {
  const path = join(dir, `c${n++}.yaml`);
  writeFileSync(path, yaml);
  return path;
}

const load = (yaml: string, env: Env = {}, flags: Flags = {}) => parseConfig(env, { ...flags, config: file(yaml) });

function refusal(yaml: string, env: Env = {}): string {
  const path = file(yaml);
  try {
    parseConfig(env, { config: path });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    expect(err.message).toStartWith(`${path}: `);
    return err.message.slice(path.length + 2);
  }
  throw new Error(`accepted:\n${yaml}`);
}

describe("defaults come from the file schema", () => {
  test("without a file: no providers or routes, and the routing defaults", () => {
    expect(parseConfig({})).toMatchObject({ providers: [], models: {}, retries: 2, maxRetryWaitMs: 10_000, cooldownAfter: 3, cooldownMs: 30_000 });
    expect(parseConfig({}).configPath).toBeUndefined();
  });

  test("an empty file, or one of comments only, is all defaults", () => {
    for (const yaml of ["", "# nothing yet\n"]) expect(load(yaml)).toMatchObject({ providers: [], models: {}, retries: 2, port: 3000 });
  });

  test("each provider type gets its own defaults; timeouts default to the global ones", () => {
    const config = load("providers:\n  - {id: o, type: openai}\n  - {id: a, type: anthropic}\n  - {id: m, type: mock}\n", { CHATGATE_TIMEOUT_MS: "5000", CHATGATE_STREAM_IDLE_TIMEOUT_MS: "700" });
    const timeouts = { firstByteMs: 700, idleMs: 700, totalMs: 5000 };
    expect(config.providers).toEqual([
      { id: "o", type: "openai", implicit: false, baseUrl: "https://api.openai.com/v1", headers: {}, timeouts, dropParams: false, continuation: "none" },
      { id: "a", type: "anthropic", implicit: false, baseUrl: "https://api.anthropic.com", headers: {}, timeouts, dropParams: false, continuation: "none", anthropicVersion: "2023-06-01", maxTokens: 4096 },
      { id: "m", type: "mock", implicit: false },
    ]);
  });

  test("a route defaults to priority and each target to weight 1", () => {
    const config = load("providers: [{id: m, type: mock}]\nmodels:\n  fast:\n    targets: [{provider: m, model: x}]\n");
    expect(config.models).toEqual({ fast: { strategy: "priority", targets: [{ provider: "m", model: "x", weight: 1 }], resume: false, maxResumes: 2 } });
  });

  test("durations in the file become milliseconds", () => {
    const config = load("max_retry_wait: 1500ms\ncooldown: 2m\ntimeout: 1h\nrate_limit: {window: 10s}\nproviders: [{id: o, type: openai, timeouts: {first_byte: 1.5s}}]\n");
    expect(config).toMatchObject({ maxRetryWaitMs: 1500, cooldownMs: 120_000, timeoutMs: 3_600_000, rateLimitWindowMs: 10_000 });
    expect(config.providers[0]).toMatchObject({ timeouts: { firstByteMs: 1500, idleMs: 60_000, totalMs: 3_600_000 } });
  });
});

describe("a bad file refuses to start, naming the file, the field and the problem", () => {
  const P = "providers:\n  - {id: a, type: openai}\n";
  const cases: [string, string, Env?][] = [
    [`${P}  - {id: b, type: openai, base_url: "ftp://x"}\n`, "providers[1].base_url: expected an http(s) URL"],
    [`${P}  - {id: b, type: openai, base_url: "http://"}\n`, "providers[1].base_url: expected an http(s) URL"],
    ["providers:\n  - id: a\n    type: openai\n    bse_url: http://x\n", "providers[0].bse_url: unknown key (did you mean base_url?)"],
    ["retries: 2\nrate_limt: {max: 1}\n", "rate_limt: unknown key (did you mean rate_limit?)"],
    ["PORT: 8080\n", "PORT: unknown key: PORT is the environment variable; in the file it is port"],
    ["providers: [{id: m, type: mock, base_url: 'http://x'}]\n", "providers[0].base_url: does not apply to type mock"],
    ["providers: [{id: a, type: openai, anthropic_version: '2023-06-01'}]\n", "providers[0].anthropic_version: does not apply to type openai"],
    ["providers: [{id: a, type: gemini}]\n", 'providers[0].type: expected one of openai, anthropic, mock, got "gemini"'],
    ["providers: [{id: a}]\n", "providers[0].type: required: one of openai, anthropic, mock"],
    ["providers: [{type: openai}]\n", "providers[0].id: required"],
    ["providers: [{id: Open AI, type: openai}]\n", "providers[0].id: expected lower-case letters, digits, '-' or '_', starting with a letter or digit"],
    [`${P}  - {id: a, type: anthropic}\n`, 'providers[1].id: "a" is already the id of providers[0]'],
    ["providers: [{id: a, type: openai, api_key: ''}]\n", "providers[0].api_key: expected a non-empty key (leave api_key out for none)"],
    ["providers: [{id: a, type: openai, api_key: '${NOPE}'}]\n", "providers[0].api_key: environment variable NOPE is not set"],
    ["providers: [{id: a, type: openai, headers: {x-n: 1}}]\n", 'providers[0].headers.x-n: expected text, but YAML reads 1 as a number: put it in quotes, exactly as you mean it'],
    ["providers: [{id: a, type: openai, headers: {'bad name': x}}]\n", 'providers[0].headers["bad name"]: not a valid header name'],
    ["providers: [{id: a, type: openai, api_key: k, headers: {Authorization: x}}]\n", "providers[0].headers.Authorization: conflicts with api_key, which is sent as authorization: set one of them"],
    ["providers: [{id: a, type: anthropic, base_url: 'https://api.anthropic.com/v1'}]\n", "providers[0].base_url: ends in /v1, but chatgate calls {base_url}/v1/messages itself: leave /v1 out"],
    ["providers: [{id: a, type: openai, timeouts: {first_bite: 1s}}]\n", "providers[0].timeouts.first_bite: unknown key (did you mean first_byte?)"],
    ["providers: [{id: a, type: openai, timeouts: {idle: 0s}}]\n", "providers[0].timeouts.idle: must be at least 1ms"],
    ["providers: [{id: a, type: anthropic, max_tokens: 0}]\n", "providers[0].max_tokens: expected a whole number of 1 or more"],
    ["timeout: 30\n", "timeout: expected a duration with a unit, like 1500ms, 3s, 10m or 1h"],
    ["cooldown: 5 minutes\n", "cooldown: expected a duration with a unit, like 1500ms, 3s, 10m or 1h"],
    ["port: 99999\n", "port: expected a whole number from 0 to 65535"],
    ["port: '3000'\n", "port: expected a whole number from 0 to 65535"],
    ["retries: -1\n", "retries: expected a whole number from 0 to 10"],
    ["trust_proxy: maybe\n", "trust_proxy: expected true or false"],
    ["models:\n", "models: is empty: give it a value or leave the key out"],
    ["api_keys: ['']\n", "api_keys[0]: expected a non-empty key"],
    ["api_keys: [ok, 'sha256:abc']\n", "api_keys[1]: a sha256: entry needs 64 hex digits"],
    ["api_keys: ['a,b']\n", "api_keys[0]: one key per entry: a key must not contain a comma"],
    ["- port: 3000\n", "expected a mapping of settings (key: value) at the top level"],
    // Regression: a mapping where a list belongs (and the reverse) was merged into the default and
    // passed: `keys:` written as a mapping became no keys at all, and client auth was off.
    ["keys:\n  team-a: {rpm: 5}\n", "keys: expected a list"],
    ["keys: {}\n", "keys: expected a list"],
    ["providers: {}\n", "providers: expected a list"],
    ["models: []\n", "models: expected a mapping (key: value)"],
    ["hooks: []\n", "hooks: expected a mapping (key: value)"],
    ["providers: [[]]\n", "providers[0]: expected a mapping (key: value)"],
    ["providers: [{id: l, type: openai, models: {a: 1}}]\n", "providers[0].models: expected a list"],
    [`${P}models:\n  x: {targets: {provider: a, model: x}}\n`, "models.x.targets: expected a list"],
    ["port: 3000\nproviders: [\n  {id: a\n", "line 2: not valid YAML (Unexpected token)"],
    [`${P}models:\n  smart:\n    targets: [{provider: a, model: x}, {provider: opnai, model: y}]\n`, 'models.smart.targets[1].provider: no provider "opnai" (configured: a)'],
    [`${P}models:\n  gpt-4.1: {targets: []}\n`, 'models["gpt-4.1"].targets: expected at least 1 item'],
    [`${P}models:\n  a/b: {targets: [{provider: a, model: x}]}\n`, `models["a/b"]: a public model name must not contain '/' (provider/model already addresses a provider's model)`],
    [`${P}models:\n  x: {strategy: random, targets: [{provider: a, model: x}]}\n`, 'models.x.strategy: expected one of priority, weighted, got "random"'],
    [`${P}models:\n  x: {targets: [{provider: a, model: x, weight: 3}]}\n`, "models.x.targets[0].weight: weights apply only to strategy: weighted"],
    [`${P}models:\n  x: {strategy: weighted, targets: [{provider: a, model: x, weight: -1}]}\n`, "models.x.targets[0].weight: expected a number of 0 or more"],
    [`${P}models:\n  x: {strategy: weighted, targets: [{provider: a, model: x, weight: 0}]}\n`, "models.x.targets: strategy weighted needs at least one target with a weight above 0"],
    ["providers: [{id: l, type: openai, models: [llama3.2]}]\nmodels:\n  x: {targets: [{provider: l, model: llama3}]}\n", 'models.x.targets[0].model: provider "l" lists only llama3.2'],
  ];
  for (const [yaml, message] of cases) {
    test(message, () => expect(refusal(yaml)).toBe(message));
  }

  test("a file that cannot be read names the path", () => {
    expect(() => parseConfig({}, { config: join(dir, "missing.yaml") })).toThrow(`${join(dir, "missing.yaml")}: cannot read the config file: no such file`);
    expect(() => parseConfig({ CHATGATE_CONFIG: dir })).toThrow(`${dir}: cannot read the config file: is a directory`);
  });
});

describe("precedence: flags, then the environment, then the file, then the defaults", () => {
  const yaml = "host: 127.0.0.2\nport: 4000\ntimeout: 2m\nstream_idle_timeout: 5s\nrate_limit: {max: 5, window: 1s}\ntrust_proxy: true\nmock: true\napi_keys: [ck-file]\ndefault_model: smart\n";

  test("the file's settings apply where the environment is silent", () => {
    expect(load(yaml)).toMatchObject({ host: "127.0.0.2", port: 4000, timeoutMs: 120_000, streamIdleTimeoutMs: 5000, rateLimitMax: 5, rateLimitWindowMs: 1000, trustProxy: true, mock: true, defaultModel: "smart" });
    expect(load(yaml).apiKeyDigests).toHaveLength(1);
  });

  test("the environment wins over the file, and flags over both", () => {
    const env = { PORT: "5000", CHATGATE_TIMEOUT_MS: "1000", CHATGATE_MOCK: "0", CHATGATE_TRUST_PROXY: "0", CHATGATE_API_KEYS: "a,b" };
    const config = load(yaml, env);
    expect(config).toMatchObject({ port: 5000, timeoutMs: 1000, mock: false, trustProxy: false, host: "127.0.0.2" });
    expect(config.apiKeyDigests).toHaveLength(2);
    expect(load(yaml, env, { port: "6000", host: "127.0.0.3" })).toMatchObject({ port: 6000, host: "127.0.0.3" });
  });

  test("an empty variable counts as unset, except CHATGATE_API_KEYS, which refuses rather than dropping the file's keys", () => {
    expect(load(yaml, { PORT: "", CHATGATE_TIMEOUT_MS: " " })).toMatchObject({ port: 4000, timeoutMs: 120_000 });
    expect(() => load(yaml, { CHATGATE_API_KEYS: "" })).toThrow("CHATGATE_API_KEYS");
  });

  test("per-provider timeouts follow the winning global value", () => {
    const config = load(`${yaml}providers: [{id: o, type: openai}]\n`, { CHATGATE_STREAM_IDLE_TIMEOUT_MS: "250" });
    expect(config.providers[0]).toMatchObject({ timeouts: { firstByteMs: 250, idleMs: 250, totalMs: 120_000 } });
  });

  test("--config wins over CHATGATE_CONFIG", () => {
    const config = parseConfig({ CHATGATE_CONFIG: file("port: 1111\n") }, { config: file("port: 2222\n") });
    expect(config.port).toBe(2222);
  });

  test("keys from the file allow a non-loopback host", () => {
    expect(load("host: 0.0.0.0\napi_keys: [ck-1]\n").host).toBe("0.0.0.0");
    expect(() => load("host: 0.0.0.0\n")).toThrow("CHATGATE_ALLOW_NO_AUTH=1");
  });
});

describe("values that would only fail at the first request are refused at start", () => {
  test("a header value or api_key a header cannot carry (a pasted zero-width space, non-Latin-1 text), naming the field", () => {
    const provider = (extra: string) => `providers:\n  - {id: up, type: openai, base_url: "http://127.0.0.1:9/v1"${extra}}\n`;
    expect(refusal(provider(', api_key: "sk-abc\u200b"'))).toStartWith("providers[0].api_key: holds a character an HTTP header cannot carry");
    expect(refusal(provider(', headers: {x-team: "研究"}'))).toStartWith("providers[0].headers.x-team: holds a character an HTTP header cannot carry");
    expect(load(provider(', headers: {x-team: "café"}')).providers[0]).toMatchObject({ headers: { "x-team": "café" } });
    expect(() => parseConfig({ OPENAI_API_KEY: "sk-abc\u200b" })).toThrow(/OPENAI_API_KEY: holds a character an HTTP header cannot carry/);
  });

  test("a Redis URL whose database is not a whole number; a base URL with a #fragment; OPENAI_BASE_URL that is no URL is refused without echoing it", () => {
    for (const db of ["x", "-1", "1.5"]) expect(() => parseConfig({ CHATGATE_REDIS_URL: `redis://:pw@127.0.0.1:6379/${db}` })).toThrow(/CHATGATE_REDIS_URL: the database must be a whole number/);
    expect(parseConfig({ CHATGATE_REDIS_URL: "redis://127.0.0.1:6379/2" }).redisUrl).toBe("redis://127.0.0.1:6379/2");
    expect(refusal('providers:\n  - {id: up, type: openai, base_url: "http://127.0.0.1:9/v1#x"}\n')).toBe("providers[0].base_url: must not have a #fragment");
    let message = "";
    try {
      parseConfig({ OPENAI_BASE_URL: "http://u:SUPERSECRET@[bad/v1" });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain("OPENAI_BASE_URL: not a URL");
    expect(message).not.toContain("SUPERSECRET");
  });
});

describe("idle_connection_timeout, which check-config lists, is a file setting too", () => {
  test("whole seconds from 1s to 255s; CHATGATE_IDLE_CONNECTION_TIMEOUT_S wins", () => {
    expect(load("idle_connection_timeout: 10s\n").idleConnectionTimeoutS).toBe(10);
    expect(load("idle_connection_timeout: 2m\n").idleConnectionTimeoutS).toBe(120);
    expect(load("idle_connection_timeout: 10s\n", { CHATGATE_IDLE_CONNECTION_TIMEOUT_S: "5" }).idleConnectionTimeoutS).toBe(5);
    expect(load("port: 1\n").idleConnectionTimeoutS).toBe(30);
    for (const bad of ["1500ms", "0s", "256s"]) expect(refusal(`idle_connection_timeout: ${bad}\n`)).toBe("idle_connection_timeout: must be whole seconds from 1s to 255s");
  });
});

describe("implicit providers", () => {
  test("without a file, OPENAI_* and CHATGATE_MOCK make providers openai and mock, as before", () => {
    const config = parseConfig({ OPENAI_API_KEY: "sk-x", OPENAI_BASE_URL: "http://127.0.0.1:9/v1/", CHATGATE_MOCK: "1" });
    expect(config.providers).toEqual([
      { id: "openai", type: "openai", implicit: true, baseUrl: "http://127.0.0.1:9/v1", apiKey: "sk-x", headers: {}, timeouts: { firstByteMs: 60_000, idleMs: 60_000, totalMs: 600_000 }, dropParams: false, continuation: "none" },
      { id: "mock", type: "mock", implicit: true },
    ]);
    expect(config).toMatchObject({ upstreamConfigured: true, openaiApiKey: "sk-x", mock: true });
  });

  test("they join the file's providers, and routes may target them", () => {
    const config = load("providers: [{id: local, type: openai, base_url: 'http://127.0.0.1:1/v1'}]\nmodels:\n  x: {targets: [{provider: mock, model: m}, {provider: openai, model: o}]}\n", { OPENAI_API_KEY: "sk-x" }, { mock: true });
    expect(config.providers.map((p) => [p.id, p.implicit])).toEqual([["local", false], ["openai", true], ["mock", true]]);
  });

  test("a file provider with the same id wins whole: the environment never patches it", () => {
    const config = load("providers: [{id: openai, type: openai, base_url: 'https://example.com/v1'}]\n", { OPENAI_API_KEY: "sk-env", OPENAI_BASE_URL: "http://127.0.0.1:9/v1" });
    expect(config.providers).toHaveLength(1);
    expect(config.providers[0]).toMatchObject({ id: "openai", implicit: false, baseUrl: "https://example.com/v1" });
    expect(JSON.stringify(config.providers)).not.toContain("sk-env");
  });
});

describe("chatgate.example.yaml", () => {
  const example = readFileSync(join(import.meta.dir, "..", "chatgate.example.yaml"), "utf8");
  const env = { OPENAI_API_KEY: "sk-example", ANTHROPIC_API_KEY: "ak-example", CHATGATE_CLIENT_KEY: "ck-example" };

  test("is valid, with the issue's providers and routes", () => {
    const config = load(example, env);
    expect(config.providers.map((p) => `${p.id}:${p.type}`)).toEqual(["openai:openai", "anthropic:anthropic", "local:openai"]);
    expect(Object.keys(config.models)).toEqual(["smart", "local", "cheap"]);
    expect(config.models.local).toMatchObject({ resume: true, maxResumes: 2 });
    expect(config.models.local!.targets[1]!.continuation).toBe("prefill");
    expect(config.providers.find((p) => p.id === "local")).toMatchObject({ continuation: "prefill" });
  });

  test("every commented-out setting is valid and states the true default", () => {
    const uncommented = example.replace(/^# ([a-z_]+: .*)$/gm, "$1");
    expect(uncommented).not.toBe(example);
    const { configPath: _a, apiKeyDigests: _b, clientKeys: _e, ...withDefaults } = load(example, env);
    const { configPath: _c, apiKeyDigests: keys, clientKeys: ids, ...spelledOut } = load(uncommented, env);
    expect(spelledOut).toEqual(withDefaults);
    expect(keys).toHaveLength(1);
    expect(ids).toEqual([{ id: "key-1" }]);
  });
});

test("the README's config file example is valid", () => {
  const readme = readFileSync(join(import.meta.dir, "..", "README.md"), "utf8");
  const yaml = /## Config file[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(yaml).toBeDefined();
  const config = load(yaml!, { OPENAI_API_KEY: "sk-1", ANTHROPIC_API_KEY: "ak-1" });
  expect(config.providers.map((p) => p.id)).toEqual(["openai", "anthropic"]);
  expect(Object.keys(config.models)).toEqual(["smart", "cheap"]);
});

test("the README's stream resume example is valid", () => {
  const readme = readFileSync(join(import.meta.dir, "..", "README.md"), "utf8");
  const yaml = /## Stream resume[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(yaml).toBeDefined();
  const config = load(yaml!, { DEEPSEEK_API_KEY: "sk-1" });
  expect(config.models.coder).toMatchObject({ resume: true, maxResumes: 2 });
  expect(config.providers.map((p) => [p.id, "continuation" in p ? p.continuation : undefined])).toEqual([["deepseek", "prefix"], ["local", "prefill"]]);
});

/** The README's YAML blocks, in order, with the heading of the section each one is in. */
function readmeYaml(): Array<{ section: string; yaml: string }> {
  const readme = readFileSync(join(import.meta.dir, "..", "README.md"), "utf8");
  const blocks: Array<{ section: string; yaml: string }> = [];
  let section = "";
  for (const part of readme.split(/^(#{2,3} .*)$/m)) {
    if (/^#{2,3} /.test(part)) section = part.replace(/^#+ /, "");
    else for (const m of part.matchAll(/```yaml\n([\s\S]*?)```/g)) blocks.push({ section, yaml: m[1]! });
  }
  return blocks;
}

test("every config file example of the README loads, the fragments beside the Config file example's providers", () => {
  const blocks = readmeYaml().filter((b) => b.section !== "Metrics"); // that one is Prometheus' config
  const base = blocks.find((b) => b.section === "Config file")!.yaml;
  const env = { OPENAI_API_KEY: "sk-1", ANTHROPIC_API_KEY: "ak-1", DEEPSEEK_API_KEY: "dk-1", CI_CLIENT_KEY: "ck-ci-1", REDIS_URL: "redis://127.0.0.1:6379", SUPPORT_HOOK_SECRET: "0123456789abcdef0123" };
  const ollama = "providers:\n  - { id: openai, type: openai, api_key: \"${OPENAI_API_KEY}\" }\n  - { id: ollama, type: openai, base_url: \"http://127.0.0.1:11434/v1\" }\n";
  const sections = blocks.map((b) => b.section);
  expect(sections).toEqual(["Usage ledger", "Config file", "Client keys", "Stream resume", "Response cache", "Many instances: Redis", "Webhook channels"]);
  for (const { section, yaml } of blocks) {
    const whole =
      section === "Usage ledger" ? ollama + yaml
      : section === "Response cache" ? "providers:\n  - { id: openai, type: openai, api_key: \"${OPENAI_API_KEY}\" }\n" + yaml
      : section === "Config file" || section === "Stream resume" ? yaml
      : base + yaml;
    expect(() => load(whole, env), section).not.toThrow();
  }
  const keys = load(base + blocks[2]!.yaml, env);
  expect(keys.clientKeys.map((k) => k.id)).toEqual(["team-a", "ci"]);
  expect(load(base + blocks[5]!.yaml, env)).toMatchObject({ redisUrl: "redis://127.0.0.1:6379", redisTimeoutMs: 100, redisLimitsOnError: "fail_open", redisBudgetsOnError: "fail_closed" });
  expect(Object.keys(load(base + blocks[6]!.yaml, env).hooks)).toEqual(["support"]);
});

test("resume settings: continuation must be a known style, max_resumes a whole number, CHATGATE_CONTINUATION likewise", () => {
  expect(() => load("providers: [{id: a, type: openai, continuation: yes}]\n")).toThrow("providers[0].continuation: expected one of none, prefill, prefix, vllm");
  expect(() => load("providers: [{id: a, type: openai}]\nmodels:\n  x: {resume: true, max_resumes: -1, targets: [{provider: a, model: m}]}\n")).toThrow("models.x.max_resumes");
  expect(() => parseConfig({ OPENAI_API_KEY: "sk", CHATGATE_CONTINUATION: "maybe" })).toThrow('CHATGATE_CONTINUATION: expected one of none, prefill, prefix, vllm, got "maybe"');
  const env = parseConfig({ OPENAI_API_KEY: "sk", CHATGATE_RESUME: "1", CHATGATE_CONTINUATION: "prefix" });
  expect(env.resume).toBe(true);
  expect(env.providers[0]).toMatchObject({ id: "openai", continuation: "prefix" });
});

describe("a client key written in plain text in keys:", () => {
  const digest = `sha256:${"ab".repeat(32)}`;

  test("is accepted, with a warning naming the field, never the key", () => {
    const config = load("keys:\n  - {id: a, key: ck-plain-secret-1}\n");
    expect(config.clientKeys.map((k) => k.id)).toEqual(["a"]);
    expect(config.fileWarnings).toHaveLength(1);
    expect(config.fileWarnings[0]).toContain("keys[0].key is the key itself, in plain text");
    expect(config.fileWarnings[0]).not.toContain("ck-plain-secret-1");
  });

  test("a digest or a ${VAR} is no warning", () => {
    expect(load(`keys:\n  - {id: a, key: '${digest}'}\n  - {id: b, key: '\${B_KEY}'}\n`, { B_KEY: "ck-from-env-1" }).fileWarnings).toEqual([]);
  });
});

describe("${VAR} as the whole of a number or boolean setting takes that type", () => {
  // In a flow mapping ({…}) YAML needs the reference quoted; quoted or not, it is the same string.
  test("numbers and booleans, at the top level, in providers, targets, keys and hooks", () => {
    const env = { R: "1", P: "8080", M: "512", C: "0", W: "2.5", B: "true", D: "false", U: "1.25", T: "3" };
    const config = load(
      "retries: ${R}\nport: ${P}\ncooldown_after: ${C}\nallow_no_auth: ${B}\n" +
        "providers: [{id: a, type: anthropic, max_tokens: '${M}', drop_params: '${D}'}]\n" +
        "models:\n  x: {strategy: weighted, targets: [{provider: a, model: m, weight: '${W}'}]}\n" +
        "keys: [{id: k, key: '${KEY}', budget: {usd: '${U}', period: day}}]\n" +
        "hooks:\n  h: {model: x, memory: {turns: '${T}'}}\n",
      { ...env, KEY: "ck-key-from-env" },
    );
    expect(config).toMatchObject({ retries: 1, port: 8080, cooldownAfter: 0, allowNoAuth: true });
    expect(config.providers[0]).toMatchObject({ maxTokens: 512, dropParams: false });
    expect(config.models.x!.targets[0]!.weight).toBe(2.5);
    expect(config.clientKeys[0]).toMatchObject({ budget: { usd: 1.25 } });
    expect(config.hooks.h!.turns).toBe(3);
  });

  test("a string setting keeps the text: api_key 123 is the string \"123\"", () => {
    const config = load("providers: [{id: a, type: openai, api_key: '${K}', headers: {x-n: '${K}'}}]\n", { K: "123" });
    expect(config.providers[0]).toMatchObject({ apiKey: "123", headers: { "x-n": "123" } });
  });

  test("a value that does not fit names the field, the variable and its text", () => {
    const cases: [string, Env, string][] = [
      ["retries: ${R}\n", { R: "abc" }, 'retries: ${R} is "abc", expected a whole number from 0 to 10'],
      ["retries: ${R}\n", { R: "99" }, 'retries: ${R} is "99", expected a whole number from 0 to 10'],
      ["retries: ${R}\n", { R: "" }, 'retries: ${R} is "", expected a whole number from 0 to 10'],
      ["port: ${P}\n", { P: "1.5" }, 'port: ${P} is "1.5", expected a whole number from 0 to 65535'],
      ["allow_no_auth: ${B}\n", { B: "maybe" }, 'allow_no_auth: ${B} is "maybe", expected true or false'],
      ["cooldown_after: ${C}\n", { C: "true" }, 'cooldown_after: ${C} is "true", expected a whole number of 0 or more'],
      ["providers: [{id: a, type: openai}]\nmodels:\n  x: {strategy: weighted, targets: [{provider: a, model: m, weight: '${W}'}]}\n", { W: "-1" }, 'models.x.targets[0].weight: ${W} is "-1", expected a number of 0 or more'],
      ["retries: ${R}\n", {}, "retries: environment variable R is not set"],
    ];
    for (const [yaml, env, message] of cases) expect(refusal(yaml, env)).toBe(message);
  });

  test("only a whole reference is typed; $${ stays the literal escape", () => {
    expect(refusal("retries: 1${R}\n", { R: "1" })).toBe("retries: expected a whole number from 0 to 10");
    expect(refusal("retries: $${R}\n", { R: "1" })).toBe("retries: expected a whole number from 0 to 10");
  });
});
