// Client keys in the config: `keys:` entries with ids and limits, `api_keys:` and CHATGATE_API_KEYS
// with their positional ids, and every refusal naming the entry — never the key.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { matchKey } from "../../src/auth/keys.ts";
import { ConfigError, parseConfig, type Env } from "../../src/config.ts";
import { checkConfig } from "../../src/config/check-config.ts";

const dir = mkdtempSync(join(tmpdir(), "chatgate-key-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (yaml: string) => {
  const path = join(dir, `k${n++}.yaml`);
  writeFileSync(path, yaml);
  return path;
};
const load = (yaml: string, env: Env = {}) => parseConfig(env, { config: file(yaml) });
const hex = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");

function refusal(yaml: string, env: Env = {}): string {
  const path = file(yaml);
  try {
    parseConfig(env, { config: path });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.message.slice(path.length + 2);
  }
  throw new Error(`accepted:\n${yaml}`);
}

const MOCK = "mock: true\nmodels:\n  smart: {targets: [{provider: mock, model: m}]}\n";

describe("keys: entries", () => {
  test("each has its id, limits, budget and models; its key is a digest or a ${VAR}, never kept in plain", () => {
    const yaml = `${MOCK}keys:
  - {id: team-a, key: "sha256:${hex("key-of-a")}", rpm: 10, tpm: 5000, budget: {usd: 2.5, period: day}, models: [smart, smart]}
  - {id: team-b, key: "\${TEAM_B_KEY}"}
`;
    const config = load(yaml, { TEAM_B_KEY: "key-of-b" });
    expect(config.clientKeys).toEqual([
      { id: "team-a", rpm: 10, tpm: 5000, budget: { usd: 2.5, period: "day" }, models: ["smart"] },
      { id: "team-b" },
    ]);
    expect(matchKey(config.apiKeyDigests, "key-of-a")).toBe(0);
    expect(matchKey(config.apiKeyDigests, "key-of-b")).toBe(1);
    expect(JSON.stringify(config)).not.toContain("key-of-b");
    expect(config.reserveCompletionTokens).toBe(1024);
  });

  test("plain keys come first with the ids key-1, key-2, …: from api_keys, or from CHATGATE_API_KEYS, which replaces them", () => {
    const yaml = `${MOCK}api_keys: [file-one, file-two]\nkeys: [{id: team-a, key: "sha256:${hex("a")}"}]\n`;
    const fromFile = load(yaml);
    expect(fromFile.clientKeys.map((k) => k.id)).toEqual(["key-1", "key-2", "team-a"]);
    expect(matchKey(fromFile.apiKeyDigests, "file-two")).toBe(1);
    const fromEnv = load(yaml, { CHATGATE_API_KEYS: "env-one" });
    expect(fromEnv.clientKeys.map((k) => k.id)).toEqual(["key-1", "team-a"]);
    expect(matchKey(fromEnv.apiKeyDigests, "env-one")).toBe(0);
    expect(matchKey(fromEnv.apiKeyDigests, "file-one")).toBe(-1);
    expect(parseConfig({ CHATGATE_API_KEYS: "x,y,z" }).clientKeys).toEqual([{ id: "key-1" }, { id: "key-2" }, { id: "key-3" }]);
  });

  test("a digest written SHA256:<hex> (any case) is a digest: the key gets in, the digest string does not, and no plain-key warning", () => {
    const config = load(`${MOCK}api_keys: ["Sha256:${hex("from-api-keys")}"]\nkeys: [{id: a, key: "SHA256:${hex("from-keys")}"}]\n`);
    expect(matchKey(config.apiKeyDigests, "from-api-keys")).toBe(0);
    expect(matchKey(config.apiKeyDigests, "from-keys")).toBe(1);
    expect(matchKey(config.apiKeyDigests, `SHA256:${hex("from-keys")}`)).toBe(-1);
    expect(config.fileWarnings).toEqual([]);
    expect(refusal(`keys: [{id: a, key: "SHA256:abc"}]\n`)).toBe("keys[0].key: a sha256: entry needs 64 hex digits");
    expect(refusal(`api_keys: ["Sha256:abc"]\n`)).toBe("api_keys[0]: a sha256: entry needs 64 hex digits");
  });

  test("keys: alone turn client auth on (a non-loopback host may start)", () => {
    expect(load(`${MOCK}host: 0.0.0.0\nkeys: [{id: a, key: "sha256:${hex("a")}"}]\n`).apiKeyDigests).toHaveLength(1);
  });

  test("refusals name the entry and the problem", () => {
    const key = (k: string) => `sha256:${hex(k)}`;
    const cases: [string, string][] = [
      [`keys: [{id: "", key: "${key("a")}"}]`, "keys[0].id: expected 1-64 letters"],
      [`keys: [{id: "team a", key: "${key("a")}"}]`, "keys[0].id: expected 1-64 letters"],
      [`keys: [{id: key-3, key: "${key("a")}"}]`, 'keys[0].id: ids like "key-3" are given to api_keys'],
      [`keys: [{id: a, key: "${key("a")}"}, {id: a, key: "${key("b")}"}]`, 'keys[1].id: "a" is already the id of keys[0]'],
      [`keys: [{id: a, key: "${key("a")}"}, {id: b, key: "${key("a")}"}]`, "keys[1].key: the same key as keys[0]"],
      [`api_keys: [same]\nkeys: [{id: b, key: "${key("same")}"}]`, "keys[0].key: the same key as api_keys[0]"],
      [`keys: [{id: a, key: "sha256:abc"}]`, "keys[0].key: a sha256: entry needs 64 hex digits"],
      [`keys: [{id: a, key: "sha256:${hex("")}"}]`, "keys[0].key: is the SHA-256 of the empty string"],
      [`keys: [{id: a, key: "${key("a")}", rpm: 0}]`, "keys[0].rpm"],
      [`keys: [{id: a, key: "${key("a")}", budget: {usd: 0, period: day}}]`, "keys[0].budget.usd: expected an amount in USD above 0"],
      [`keys: [{id: a, key: "${key("a")}", budget: {usd: 1, period: week}}]`, "keys[0].budget.period: expected day or month"],
      [`keys: [{id: a, key: "${key("a")}", models: []}]`, "keys[0].models"],
      [`keys: [{id: a, key: "${key("a")}", models: [smrt]}]`, 'keys[0].models[0]: no model "smrt" (public names: smart; or provider/model)'],
      [`keys: [{id: a, key: "${key("a")}", models: [nope/m]}]`, 'keys[0].models[0]: no provider "nope" for "nope/m"'],
      [`keys: [{id: a, key: "${key("a")}", secret: 1}]`, "keys[0]"],
    ];
    const providers = "providers: [{id: p, type: openai, models: [m]}]\nmodels:\n  smart: {targets: [{provider: p, model: m}]}\n";
    for (const [yaml, message] of cases) expect(refusal(`${providers}${yaml}\n`)).toStartWith(message);
    expect(refusal(`keys: [{id: a, key: "\${UNSET_KEY_VAR}"}]\n`)).toBe("keys[0].key: environment variable UNSET_KEY_VAR is not set");
    expect(refusal(`keys: [{id: a, key: "\${EMPTY_KEY_VAR}"}]\n`, { EMPTY_KEY_VAR: "" })).toStartWith("keys[0].key");
  });

  test("a model the key may use can be any name something serves: public, provider/model, or a name a provider may serve", () => {
    const providers = "providers: [{id: p, type: openai, models: [m]}, {id: q, type: openai}]\nmodels:\n  smart: {targets: [{provider: p, model: m}]}\n";
    expect(load(`${providers}keys: [{id: a, key: "sha256:${hex("a")}", models: [smart, p/m, q/anything, whatever-q-serves]}]\n`).clientKeys[0]!.models).toEqual([
      "smart", "p/m", "q/anything", "whatever-q-serves",
    ]);
  });

  test("check-config lists the keys by id, never a key", () => {
    const path = file(`${MOCK}api_keys: [plain-secret]\nkeys: [{id: team-a, key: "\${TEAM_A}", tpm: 10}]\n`);
    const result = checkConfig(path, { TEAM_A: "team-a-secret" }, {});
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("api_keys: 2 keys: key-1, team-a (from the file, and the file's keys:)");
    // Regression: the keys: section left out a key with no limits of its own.
    expect(result.stdout).toContain("keys:\n  key-1: rpm: the global rate limit; every model\n  team-a: rpm: the global rate limit; tpm 10; every model\n");
    expect(result.stdout).not.toContain("secret");
  });

  test("regression: check-config says keys that come only from the file's keys: come from there, not (default)", () => {
    const path = file(`${MOCK}keys: [{id: team-a, key: "sha256:${hex("a")}", rpm: 5}, {id: ci, key: "\${CI_KEY}"}]\n`);
    const result = checkConfig(path, { CI_KEY: "ci-key-123" }, {});
    expect(result.stdout).toContain("api_keys: 2 keys: team-a, ci (from the file's keys:)");
    expect(result.stdout).toContain("  ci: rpm: the global rate limit; every model");
    expect(checkConfig(path, { CI_KEY: "ci-key-123", CHATGATE_API_KEYS: "env-key" }, {}).stdout).toContain("(from CHATGATE_API_KEYS, and the file's keys:)");
  });

  test("check-config prints each key's limits, budget and models, the reserve, the cache and the targets' prices", () => {
    const doc = `${MOCK}models:\n  smart: {targets: [{provider: mock, model: m, price: {input: 0.15, output: 0.6, cached_input: 0.075}}], cache: {ttl: 1h}}\ncache: {ttl: 10m, max_entries: 50}\nreserve_completion_tokens: 256\nkeys: [{id: team-a, key: "\${TEAM_A}", rpm: 10, tpm: 1000, budget: {usd: 5, period: day}, models: [smart]}]\n`;
    const { code, stdout } = checkConfig(file(doc), { TEAM_A: "team-a-secret" }, {});
    expect(code).toBe(0);
    expect(stdout).toContain("smart (priority, cache ttl 1h): mock/m (price $0.15 in, $0.6 out, $0.075 cached per 1M)");
    expect(stdout).toContain("cache: ttl 10m (from cache.ttl), max_entries 50, max_bytes");
    expect(stdout).toContain("  team-a: rpm 10; tpm 1000; budget $5 a day; models smart\n  reserve_completion_tokens: 256");
    expect(checkConfig(file(doc), { TEAM_A: "team-a-secret", CHATGATE_CACHE_TTL: "2h" }, {}).stdout).toContain("cache: ttl 2h (from CHATGATE_CACHE_TTL)");
    expect(stdout).not.toContain("secret");
  });
});

test("the README's client keys example is valid", () => {
  const readme = readFileSync(join(import.meta.dir, "..", "..", "README.md"), "utf8");
  const yaml = /## Client keys[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(yaml).toBeDefined();
  const models = "mock: true\nmodels:\n  smart: {targets: [{provider: mock, model: m}]}\n  cheap: {targets: [{provider: mock, model: m}]}\n";
  const config = load(models + yaml!, { CI_CLIENT_KEY: "ck-ci" });
  expect(config.clientKeys).toEqual([
    { id: "team-a", rpm: 60, tpm: 100_000, budget: { usd: 20, period: "day" }, models: ["smart", "cheap"] },
    { id: "ci" },
  ]);
});
