// How each target is started: its command line and environment. chatgate runs as in production:
// the systemd unit's BUN_CONFIG_MAX_HTTP_REQUESTS, logging and metrics at their defaults, output
// into a real file (target-log.ts); "by hand" is the same without the variable.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TRANSLATED_MODEL } from "./client.ts";
import { UPSTREAM_KEY } from "./upstream.ts";
import { ANTHROPIC_MODEL } from "./wire-anthropic.ts";

export type TargetName = "direct" | "passthrough" | "chatgate";
/** What is started: a target, or chatgate as a person starts it by hand (start-up timing only). */
export type StartKind = TargetName | "chatgate-by-hand";
export const CLIENT_KEY = "cg-bench-client-0001";
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
 * Anthropic side as a provider and one public name routed to it. The OpenAI side stays env-only
 * (OPENAI_BASE_URL makes the implicit provider `openai`, which takes any other model name), so the
 * OpenAI scenarios are served as without the file; listing the model keeps chatgate from asking
 * the mock for Anthropic's model list.
 */
function chatgateConfig(upstreamPort: number): string {
  const file = join(benchDir(), "chatgate.yaml");
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
  ${TRANSLATED_MODEL}:
    targets:
      - { provider: ${ANTHROPIC_PROVIDER}, model: ${ANTHROPIC_MODEL} }
`,
  );
  return file;
}

export function commandFor(kind: StartKind, upstreamPort: number, port: number): { cmd: string[]; env: Record<string, string | undefined> } {
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
  if (kind === "chatgate" || kind === "chatgate-by-hand") {
    env.NODE_ENV = "production";
    env.CHATGATE_API_KEYS = `${CLIENT_KEY},cg-bench-client-0002`;
    // Limiting on, as in production, with a ceiling no run can reach.
    env.CHATGATE_RATE_LIMIT_MAX = "1000000000";
    env.CHATGATE_RATE_LIMIT_WINDOW_MS = "60000";
    // Logging (one line per request) and metrics keep their defaults: on. State (the usage
    // ledger) goes where systemd's StateDirectory= puts it, $STATE_DIRECTORY: a temporary one here.
    env.STATE_DIRECTORY = join(benchDir(), "state");
    mkdirSync(env.STATE_DIRECTORY, { recursive: true });
    if (kind === "chatgate") env.BUN_CONFIG_MAX_HTTP_REQUESTS = productionMaxHttpRequests();
    else delete env.BUN_CONFIG_MAX_HTTP_REQUESTS;
    return { cmd: [CHATGATE_BIN, "--config", chatgateConfig(upstreamPort)], env };
  }
  return { cmd: [process.execPath, join(import.meta.dir, "upstream.ts")], env };
}
