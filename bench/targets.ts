// The processes under test: the mock upstream (also the `direct` target), the passthrough floor and
// the compiled chatgate, with the start-up timing (spawn to first 200 on /health) of each.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PATHS, TRANSLATED_MODEL, type UpstreamApi, clientRequest, clientWire, verifierFor } from "./client.ts";
import { type Child, freePort, onCpu, readPort, spawnTracked, stderrTail, stopProcess, treeOf, treeUsage } from "./proc.ts";
import { UPSTREAM_KEY } from "./upstream.ts";
import { ANTHROPIC_MODEL } from "./wire-anthropic.ts";
import { DEFAULT_ANSWER_BYTES, MODEL, answerPieces, expectedPromptChars } from "./wire.ts";

export type TargetName = "direct" | "passthrough" | "chatgate";
export const TARGET_NAMES: readonly TargetName[] = ["direct", "passthrough", "chatgate"];
export const CLIENT_KEY = "cg-bench-client-0001";

/** Load generator and upstream share this core; the target has the other to itself. */
export const LOAD_CPU = 0;
export const TARGET_CPU = 1;

const ROOT = join(import.meta.dir, "..");
const BIN_DIR = join(import.meta.dir, "results", ".bin");

export interface Target {
  name: TargetName;
  /** The process this harness owns for the target; direct uses the upstream, owned elsewhere. */
  proc: Child | null;
  pid: number;
  base: string;
  apiKey: string;
  startupMs: number[];
  rssAfterStartBytes: number;
}

export interface Upstream {
  proc: Child;
  port: number;
}

function newestMtime(dir: string, depth = 0): number {
  let newest = 0;
  if (depth > 6 || !existsSync(dir)) return newest;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p, depth + 1) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Ensures dist/chatgate exists and is newer than src/; returns a reason when chatgate cannot run. */
export function ensureChatgate(allowBuild: boolean): string | null {
  const bin = join(ROOT, "dist", "chatgate");
  if (!existsSync(join(ROOT, "src", "main.ts"))) {
    return existsSync(bin) ? null : "src/main.ts does not exist yet and there is no dist/chatgate";
  }
  const stale = !existsSync(bin) || statSync(bin).mtimeMs < newestMtime(join(ROOT, "src"));
  if (!stale || !allowBuild) return existsSync(bin) ? null : "dist/chatgate is missing (--no-build given)";
  console.error(`bench: ${existsSync(bin) ? "dist/chatgate is older than src/" : "dist/chatgate is missing"}: npm run build`);
  const b = Bun.spawnSync(["npm", "run", "build"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (!b.success) return `npm run build failed:\n${b.stderr.toString().slice(-2000)}${b.stdout.toString().slice(-1000)}`;
  return existsSync(bin) ? null : "npm run build did not produce dist/chatgate";
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

export async function startUpstream(): Promise<Upstream> {
  const proc = spawnTracked(onCpu(LOAD_CPU, [process.execPath, join(import.meta.dir, "upstream.ts")]), { ...process.env, PORT: "0" });
  return { proc, port: await readPort(proc, 10_000) };
}

/** The provider id of the mock's Anthropic side in chatgate's config file. */
const ANTHROPIC_PROVIDER = "bench-anthropic";

let configDir: string | null = null;
/**
 * chatgate's config file, written once to a temporary directory (removed on exit): the mock's
 * Anthropic side as a provider and one public name routed to it. The OpenAI side stays env-only
 * (OPENAI_BASE_URL makes the implicit provider `openai`, which takes any other model name), so the
 * OpenAI scenarios are served as without the file; listing the model keeps chatgate from asking
 * the mock for Anthropic's model list.
 */
function chatgateConfig(upstream: Upstream): string {
  if (!configDir) {
    const dir = mkdtempSync(join(tmpdir(), "chatgate-bench-config-"));
    configDir = dir;
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  const file = join(configDir, "chatgate.yaml");
  writeFileSync(
    file,
    `# Written by chatgate's bench (bench/targets.ts).
providers:
  - id: ${ANTHROPIC_PROVIDER}
    type: anthropic
    base_url: http://127.0.0.1:${upstream.port}
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

function commandFor(name: TargetName, upstream: Upstream, port: number): { cmd: string[]; env: Record<string, string | undefined> } {
  const env: Record<string, string | undefined> = {
    ...process.env,
    HOST: "127.0.0.1",
    PORT: String(port),
    OPENAI_BASE_URL: `http://127.0.0.1:${upstream.port}/v1`,
    OPENAI_API_KEY: UPSTREAM_KEY,
  };
  if (name === "passthrough") {
    // The floor must not queue behind Bun's default cap of 256 upstream requests in flight (a
    // setting, not a cost): raised here as chatgate raises it for itself, or 500 streams cannot all be open.
    env.BUN_CONFIG_MAX_HTTP_REQUESTS = env.BUN_CONFIG_MAX_HTTP_REQUESTS ?? "4096";
    env.ANTHROPIC_BASE_URL = `http://127.0.0.1:${upstream.port}`;
    env.ANTHROPIC_API_KEY = UPSTREAM_KEY;
    return { cmd: passthroughCommand(), env };
  }
  if (name === "chatgate") {
    env.NODE_ENV = "production";
    env.CHATGATE_API_KEYS = `${CLIENT_KEY},cg-bench-client-0002`;
    // Limiting on, as in production, with a ceiling no run can reach.
    env.CHATGATE_RATE_LIMIT_MAX = "1000000000";
    env.CHATGATE_RATE_LIMIT_WINDOW_MS = "60000";
    return { cmd: [join(ROOT, "dist", "chatgate"), "--config", chatgateConfig(upstream)], env };
  }
  return { cmd: [process.execPath, join(import.meta.dir, "upstream.ts")], env };
}

async function waitHealthy(base: string, p: Child, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (let i = 0; i < 100_000 && performance.now() < deadline; i++) {
    if (p.exitCode !== null || p.signalCode !== null) throw new Error(`exited with ${p.exitCode ?? p.signalCode}: ${stderrTail(p.pid)}`);
    try {
      const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await Bun.sleep(1);
  }
  throw new Error(`no 200 on /health within ${timeoutMs} ms: ${stderrTail(p.pid)}`);
}

/** Spawns the target on its core and times spawn to the first 200 on /health. */
async function spawnTimed(name: TargetName, upstream: Upstream): Promise<{ proc: Child; port: number; ms: number }> {
  const port = freePort();
  const { cmd, env } = commandFor(name, upstream, port);
  // The binary's children log per request in production too: stdout goes to /dev/null, not a pipe that could fill.
  const t0 = performance.now();
  const proc = spawnTracked(onCpu(TARGET_CPU, cmd), env, "ignore");
  try {
    await waitHealthy(`http://127.0.0.1:${port}`, proc, 15_000);
  } catch (e) {
    await stopProcess(proc);
    throw new Error(`${name}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { proc, port, ms: performance.now() - t0 };
}

/**
 * Starts a target `starts` times to time start-up, keeping the last one running. `direct` is timed
 * on a throwaway upstream, then served by the shared one.
 */
export async function startTarget(name: TargetName, upstream: Upstream, starts: number): Promise<Target> {
  const startupMs: number[] = [];
  let kept: { proc: Child; port: number } | null = null;
  for (let i = 0; i < Math.max(1, starts); i++) {
    const s = await spawnTimed(name, upstream);
    startupMs.push(s.ms);
    const last = i === Math.max(1, starts) - 1 && name !== "direct";
    if (last) kept = s;
    else await stopProcess(s.proc);
  }
  const proc = kept?.proc ?? null;
  const pid = proc?.pid ?? upstream.proc.pid;
  // A moment for start-up allocations to settle before "RSS after start" is read.
  await Bun.sleep(200);
  return {
    name,
    proc,
    pid,
    base: `http://127.0.0.1:${kept?.port ?? upstream.port}`,
    // Every target gets a bearer header, so header handling costs the same; the mock wants its own key.
    apiKey: name === "direct" ? UPSTREAM_KEY : CLIENT_KEY,
    startupMs,
    rssAfterStartBytes: treeUsage(treeOf(pid)).rssBytes,
  };
}

/** One non-stream answer on the wire a scenario with this upstream API uses, checked fully. */
async function probeChat(t: Target, api: UpstreamApi): Promise<string | null> {
  const { wire, model } = clientWire(api, t.name);
  const what = `POST ${PATHS[wire]} (${model})`;
  const { body, headers } = clientRequest({ wire, model, apiKey: t.apiKey, stream: false, promptBytes: 40, knobs: {} });
  try {
    const res = await fetch(t.base + PATHS[wire], { method: "POST", headers, body, signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    if (res.status !== 200) return `${what}: ${res.status} ${text.slice(0, 200)}`;
    const bad = verifierFor(wire, false, "full")(text, { pieces: answerPieces(DEFAULT_ANSWER_BYTES), promptChars: expectedPromptChars(40) });
    if (bad) return `${what}: ${bad}`;
    // The mock never fails, so chatgate's retries must never fire: one attempt, on the expected provider.
    const attempts = res.headers.get("x-chatgate-attempts");
    if (attempts !== null && attempts !== "1") return `${what}: x-chatgate-attempts ${attempts}, expected 1`;
    const provider = res.headers.get("x-chatgate-provider");
    const want = api === "openai" ? "openai" : ANTHROPIC_PROVIDER;
    if (provider !== null && provider !== want) return `${what}: served by ${provider}, expected ${want}`;
  } catch (e) {
    return `${what}: ${e instanceof Error ? e.message : String(e)}`;
  }
  return null;
}

/** Asks a target once for each route the bench relies on, so a mis-wired one fails loudly and early. */
export async function probe(t: Target): Promise<string | null> {
  const headers: Record<string, string> = t.apiKey ? { authorization: `Bearer ${t.apiKey}` } : {};
  try {
    const res = await fetch(`${t.base}/v1/models`, { headers, signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    if (res.status !== 200 || !text.includes(MODEL)) return `GET /v1/models: ${res.status} ${text.slice(0, 200)}`;
    if (t.name === "chatgate" && !text.includes(TRANSLATED_MODEL)) return `GET /v1/models: no ${TRANSLATED_MODEL}: ${text.slice(0, 200)}`;
  } catch (e) {
    return `GET /v1/models: ${e instanceof Error ? e.message : String(e)}`;
  }
  return (await probeChat(t, "openai")) ?? (await probeChat(t, "anthropic"));
}
