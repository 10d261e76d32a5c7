// The ledger's settings as parseConfig reads them (data dir, CHATGATE_LEDGER, retention, the admin
// key, per-target prices) and the price lookup the ledger charges with.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig, type Env } from "../src/config.ts";
import { priceLookup } from "../src/cost/target-prices.ts";
import { PRICE_TABLE } from "../src/cost/price-table.ts";
import { parseCommand } from "../src/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "chatgate-ledger-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const DAY = 86_400_000;

/** parseConfig on `yaml` written to a fresh file. */
function load(yaml: string, env: Env = {}) {
  const path = join(dir, `c${n++}.yaml`);
  writeFileSync(path, yaml);
  return parseConfig(env, { config: path });
}

const PRICED = `providers: [{id: up, type: openai, base_url: "http://127.0.0.1:9/v1"}, {id: mock, type: mock}]
models:
  fast: {targets: [{provider: up, model: house-model, price: {input: 2, output: 8, cached_input: 0.5}}, {provider: up, model: gpt-4o-mini}]}
  same: {targets: [{provider: up, model: house-model, price: {input: 2, output: 8, cached_input: 0.5}}]}
  play: {targets: [{provider: mock, model: gpt-4o}]}
`;

describe("ledger settings", () => {
  test("the data dir: --data-dir, then CHATGATE_DATA_DIR, then systemd's STATE_DIRECTORY, then XDG under HOME", () => {
    expect(parseConfig({ CHATGATE_DATA_DIR: "/env", HOME: "/home/ada" }, { dataDir: "/flag" }).dataDir).toBe("/flag");
    expect(parseConfig({ CHATGATE_DATA_DIR: "/env", STATE_DIRECTORY: "/var/lib/chatgate" }).dataDir).toBe("/env");
    expect(parseConfig({ STATE_DIRECTORY: "/var/lib/chatgate", HOME: "/home/ada" }).dataDir).toBe("/var/lib/chatgate");
    expect(parseConfig({ HOME: "/home/ada" }).dataDir).toBe("/home/ada/.local/share/chatgate");
    expect(parseCommand(["--data-dir", "/flag"])).toEqual({ kind: "serve", flags: expect.objectContaining({ dataDir: "/flag" }) });
  });

  test("the ledger is on unless CHATGATE_LEDGER=0", () => {
    expect(parseConfig({}).ledger).toBe(true);
    expect(parseConfig({ CHATGATE_LEDGER: "0" }).ledger).toBe(false);
  });

  test("retention: 90 days by default, the file's duration (days allowed), or CHATGATE_RETENTION_DAYS, which wins", () => {
    expect(parseConfig({}).retentionMs).toBe(90 * DAY);
    expect(load("retention: 30d\n").retentionMs).toBe(30 * DAY);
    expect(load("retention: 12h\n").retentionMs).toBe(DAY / 2);
    expect(load("retention: 30d\n", { CHATGATE_RETENTION_DAYS: "7" }).retentionMs).toBe(7 * DAY);
    expect(() => load("retention: 30\n")).toThrow("retention: expected a duration with a unit");
    expect(() => parseConfig({ CHATGATE_RETENTION_DAYS: "0" })).toThrow("CHATGATE_RETENTION_DAYS: expected a number from 1");
  });

  test("CHATGATE_ADMIN_KEY is read like a client key, and refused when it is one", () => {
    expect(parseConfig({}).adminKeyDigests).toEqual([]);
    expect(parseConfig({ CHATGATE_ADMIN_KEY: "adm-1" }).adminKeyDigests).toHaveLength(1);
    expect(() => parseConfig({ CHATGATE_ADMIN_KEY: " " })).toThrow("CHATGATE_ADMIN_KEY: is set but holds no key; unset it to leave GET /v1/usage off");
    expect(() => parseConfig({ CHATGATE_API_KEYS: "ck-a,shared", CHATGATE_ADMIN_KEY: "shared" })).toThrow(
      "CHATGATE_ADMIN_KEY: entry 1 is also a client key; give the admin key a value of its own",
    );
  });

  test("two targets pricing one provider's model differently are refused, naming the second", () => {
    const conflicting = PRICED.replace("same: {targets: [{provider: up, model: house-model, price: {input: 2,", "same: {targets: [{provider: up, model: house-model, price: {input: 3,");
    expect(() => load(conflicting)).toThrow('models.same.targets[0].price: up/house-model is already priced differently at models.fast.targets[0].price');
    expect(() => load(PRICED.replace("output: 8, cached_input: 0.5}}, {", "output: -1}}, {"))).toThrow("models.fast.targets[0].price.output");
  });
});

describe("the ledger's prices", () => {
  const prices = priceLookup(load(PRICED));

  test("a target's price: wins for that provider's model, whichever route reached it", () => {
    expect(prices("up", "house-model")).toEqual({ input: 2, output: 8, cachedInput: 0.5 });
  });

  test("without one, the shipped table; a model it does not know has no price (never 0)", () => {
    expect(prices("up", "gpt-4o-mini")).toEqual(PRICE_TABLE["gpt-4o-mini"]!);
    expect(prices("up", "llama-3.1-70b")).toBeNull();
    expect(prices(null, "gpt-4o-mini")).toEqual(PRICE_TABLE["gpt-4o-mini"]!);
  });

  test("the built-in mock bills nothing, whatever model name it answers to", () => {
    expect(prices("mock", "gpt-4o")).toEqual({ input: 0, output: 0 });
  });

  test("a price: without cached_input charges cached tokens at the input price", () => {
    const plain = priceLookup(load("providers: [{id: up, type: openai}]\nmodels: {x: {targets: [{provider: up, model: m, price: {input: 1, output: 2}}]}}\n"));
    expect(plain("up", "m")).toEqual({ input: 1, output: 2 });
  });
});
