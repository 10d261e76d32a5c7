// How each target is started: its command line and environment. chatgate runs as in production:
// the systemd unit's BUN_CONFIG_MAX_HTTP_REQUESTS, logging and metrics at their defaults, output
// into a real file (target-log.ts), the usage ledger on and the load generator's key metered
// (rpm, tpm, budget); "by hand" is the same without the variable.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MESSAGES_MODEL, TRANSLATED_MODEL } from "./client.ts";
import { UPSTREAM_KEY } from "./upstream.ts";
import { ANTHROPIC_MODEL } from "./wire-anthropic.ts";
import { MODEL } from "./wire.ts";

export type TargetName = "direct" | "passthrough" | "chatgate" | "chatgate-redis";
/** What is started: a target, or chatgate as a person starts it by hand (start-up timing only). */
export type StartKind = TargetName | "chatgate-by-hand";

/** The kinds that run dist/chatgate (with the same config file, key and ledger). */
export function isChatgate(kind: StartKind): kind is "chatgate" | "chatgate-redis" | "chatgate-by-hand" {
  return kind === "chatgate" || kind === "chatgate-redis" || kind === "chatgate-by-hand";
}

/** What the targets are pointed at: the mock upstream, and the bench's redis-server when it runs. */
export interface Backends {
  upstreamPort: number;
  /** `redis://127.0.0.1:<port>` for chatgate-redis; null when no redis-server runs. */
  redisUrl: string | null;
}
/** The key the load generator sends: a `keys:` entry of chatgate's config file, with limits. */
export const CLIENT_KEY = "cg-bench-client-0001";
/** Its id in chatgate's log lines and ledger rows. */
export const CLIENT_KEY_ID = "bench";
/** A second, plain key (CHATGATE_API_KEYS, id key-1, under the global limit): both kinds of key are configured. */
const PLAIN_KEY = "cg-bench-client-0002";
/**
 * The metered key's limits: on, so every request pays for their check-and-reserve and settlement,
 * but out of reach. A full run sends ~1 M requests, well under a million in any minute; each
 * reserves ~1,040 tokens (a 40-character prompt, reserve_completion_tokens 1024) and at most
 * ~0.6 milli-USD at BENCH_PRICE until it settles to its real usage. Spend is counted in nano-USD,
 * so the budget stays under 2^53 of them (exact in a double and in Redis).
 */
export const KEY_LIMITS = { rpm: 1_000_000_000, tpm: 1_000_000_000_000, budgetUsd: 1_000_000 } as const;
/**
 * USD per 1M tokens for the mock's models, which the shipped price table does not know: a key with
 * a budget may use only priced models (else 403 model_not_priced). gpt-4o-mini's list price.
 */
const BENCH_PRICE = "{ input: 0.15, output: 0.6 }";
/** The provider id of the mock's Anthropic side in chatgate's config file. */
export const ANTHROPIC_PROVIDER = "bench-anthropic";

const ROOT = join(import.meta.dir, "..");
const BIN_DIR = join(import.meta.dir, "results", ".bin");
export const CHATGATE_BIN = join(ROOT, "dist", "chatgate");
const UNIT_FILE = join(ROOT, "deploy", "chatgate.service");

/**
 * BUN_CONFIG_MAX_HTTP_REQUESTS as deploy/chatgate.service sets it. Bun reads it once, before any
 * JavaScript runs; with it set, chatgate skips the re-exec that raises the cap for itself (src/main.ts).
 */
export function productionMaxHttpRequests(): string {
  const value = /^Environment=BUN_CONFIG_MAX_HTTP_REQUESTS=(\d+)\s*$/m.exec(readFileSync(UNIT_FILE, "utf8"))?.[1];
  if (!value) throw new Error(`${UNIT_FILE} sets no Environment=BUN_CONFIG_MAX_HTTP_REQUESTS=…; the bench runs chatgate as that unit does`);
  return value;
}

/** The passthrough compiled like chatgate is, so start-up and CPU compare like with like. */
function passthroughCommand(): string[] {
  const src = join(import.meta.dir, "passthrough.ts");
  const bin = join(BIN_DIR, "passthrough");
  if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs) {
    mkdirSync(BIN_DIR, { recursive: true });
    const b = Bun.spawnSync([process.execPath, "build", "--compile", "--minify", src, "--outfile", bin], { stdout: "pipe", stderr: "pipe" });
    if (!b.success) {
      console.error(`bench: compiling the passthrough failed, running it from source: ${b.stderr.toString().slice(-500)}`);
      return [process.execPath, src];
    }
  }
  return [bin];
}

let tempDir: string | null = null;
/** chatgate's config file and state directory live here; removed when the bench exits. */
function benchDir(): string {
  if (!tempDir) {
    const dir = mkdtempSync(join(tmpdir(), "chatgate-bench-"));
    tempDir = dir;
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  return tempDir;
}

/**
 * chatgate's config file, written once to a temporary directory (removed on exit): the mock's
 * Anthropic side as a provider and two public names routed to it (the translated scenarios' name,
 * and the Messages scenarios' one spelled as the Anthropic model, so `model` goes upstream
 * unreplaced and carries a price); the OpenAI side's provider stays
 * env-only (OPENAI_BASE_URL makes the implicit provider `openai`), and its model gets a public name
 * of the same spelling only to carry a price. Listing the Anthropic model keeps chatgate from
 * asking the mock for Anthropic's model list. The load generator's key is a `keys:` entry, given
 * as its digest as `chatgate key new` prints it, with its limits and a monthly budget.
 */
function chatgateConfig(upstreamPort: number): string {
  const file = join(benchDir(), "chatgate.yaml");
  const digest = createHash("sha256").update(CLIENT_KEY).digest("hex");
  writeFileSync(
    file,
    `# Written by chatgate's bench (bench/commands.ts).
providers:
  - id: ${ANTHROPIC_PROVIDER}
    type: anthropic
    base_url: http://127.0.0.1:${upstreamPort}
    api_key: ${UPSTREAM_KEY}
    models: [${ANTHROPIC_MODEL}]
models:
  ${MODEL}:
    targets:
      - { provider: openai, model: ${MODEL}, price: ${BENCH_PRICE} }
  ${TRANSLATED_MODEL}:
    targets:
      - { provider: ${ANTHROPIC_PROVIDER}, model: ${ANTHROPIC_MODEL}, price: ${BENCH_PRICE} }
  ${MESSAGES_MODEL}:
    targets:
      - { provider: ${ANTHROPIC_PROVIDER}, model: ${ANTHROPIC_MODEL}, price: ${BENCH_PRICE} }
keys:
  - id: ${CLIENT_KEY_ID}
    key: "sha256:${digest}"
    rpm: ${KEY_LIMITS.rpm}
    tpm: ${KEY_LIMITS.tpm}
    budget: { usd: ${KEY_LIMITS.budgetUsd}, period: month }
`,
  );
  return file;
}

export function commandFor(kind: StartKind, backends: Backends, port: number): { cmd: string[]; env: Record<string, string | undefined> } {
  const { upstreamPort } = backends;
  const env: Record<string, string | undefined> = {
    ...process.env,
    HOST: "127.0.0.1",
    PORT: String(port),
    OPENAI_BASE_URL: `http://127.0.0.1:${upstreamPort}/v1`,
    OPENAI_API_KEY: UPSTREAM_KEY,
  };
  if (kind === "passthrough") {
    // The floor must not queue behind Bun's default cap of 256 upstream requests in flight (a
    // setting, not a cost): raised here as production raises chatgate's, or 500 streams cannot all be open.
    env.BUN_CONFIG_MAX_HTTP_REQUESTS = env.BUN_CONFIG_MAX_HTTP_REQUESTS ?? "4096";
    env.ANTHROPIC_BASE_URL = `http://127.0.0.1:${upstreamPort}`;
    env.ANTHROPIC_API_KEY = UPSTREAM_KEY;
    return { cmd: passthroughCommand(), env };
  }
  if (isChatgate(kind)) {
    env.NODE_ENV = "production";
    // The file's key comes on top of these (one key may not be both: chatgate refuses a duplicate).
    env.CHATGATE_API_KEYS = PLAIN_KEY;
    // The global limit on, as in production, with a ceiling no run can reach. It counts the plain
    // key; the load generator's key is counted by its own rpm instead.
    env.CHATGATE_RATE_LIMIT_MAX = "1000000000";
    env.CHATGATE_RATE_LIMIT_WINDOW_MS = "60000";
    // Logging (one line per request) and metrics keep their defaults: on. State (the usage
    // ledger) goes where systemd's StateDirectory= puts it, $STATE_DIRECTORY: a temporary one here.
    // Each instance keeps a ledger of its own, with Redis too (README, "Many instances: Redis").
    env.STATE_DIRECTORY = join(benchDir(), kind === "chatgate-redis" ? "state-redis" : "state");
    mkdirSync(env.STATE_DIRECTORY, { recursive: true });
    if (kind === "chatgate-by-hand") delete env.BUN_CONFIG_MAX_HTTP_REQUESTS;
    else env.BUN_CONFIG_MAX_HTTP_REQUESTS = productionMaxHttpRequests();
    if (kind === "chatgate-redis") {
      // Limits and the budget in Redis, with its defaults: 100 ms a command, limits fail open,
      // budgets fail closed (a Redis that stops answering shows as 503s, not as silent passes).
      if (!backends.redisUrl) throw new Error("chatgate-redis needs the bench's redis-server");
      env.CHATGATE_REDIS_URL = backends.redisUrl;
    } else delete env.CHATGATE_REDIS_URL;
    return { cmd: [CHATGATE_BIN, "--config", chatgateConfig(upstreamPort)], env };
  }
  return { cmd: [process.execPath, join(import.meta.dir, "upstream.ts")], env };
}
