// The processes under test: the mock upstream (also the `direct` target), the passthrough floor and
// the compiled chatgate, alone and with Redis (how each is started: commands.ts; start-up timing:
// startup.ts; the redis-server: redis.ts).
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { type GatewayFront, PATHS, TRANSLATED_MODEL, type UpstreamApi, clientRequest, clientWire, verifierFor } from "./client.ts";
import { ANTHROPIC_PROVIDER, type Backends, CHATGATE_BIN, CLIENT_KEY, KEY_LIMITS, type TargetName, isChatgate } from "./commands.ts";
import { type Child, onCpu, readPort, spawnTracked, treeOf, treeRssSplit, treeUsage, type RssSplit } from "./proc.ts";
import { spawnTimed } from "./startup.ts";
import type { TargetLog } from "./target-log.ts";
import { UPSTREAM_KEY } from "./upstream.ts";
import { DEFAULT_ANSWER_BYTES, MODEL, answerPieces, expectedPromptChars } from "./wire.ts";

export { CLIENT_KEY, type TargetName } from "./commands.ts";
export { TARGET_CPU } from "./startup.ts";
export const TARGET_NAMES: readonly TargetName[] = ["direct", "passthrough", "chatgate", "chatgate-redis"];

/** Load generator and upstream share this core; the target has the other to itself. */
export const LOAD_CPU = 0;

const ROOT = join(import.meta.dir, "..");

export interface Target {
  name: TargetName;
  /** The process this harness owns for the target; direct uses the upstream, owned elsewhere. */
  proc: Child | null;
  pid: number;
  base: string;
  apiKey: string;
  rssAfterStartBytes: number;
  rssSplitAfterStart: RssSplit;
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
  const bin = CHATGATE_BIN;
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

export async function startUpstream(): Promise<Upstream> {
  const proc = spawnTracked(onCpu(LOAD_CPU, [process.execPath, join(import.meta.dir, "upstream.ts")]), { ...process.env, PORT: "0" });
  return { proc, port: await readPort(proc, 10_000) };
}

/**
 * Starts the target that the runs use (its start-ups are timed apart, by startup.ts). `direct` is
 * the shared upstream; nothing is started for it. chatgate writes into `log`.
 */
export async function startTarget(name: TargetName, upstream: Upstream, backends: Backends, log: TargetLog | null): Promise<Target> {
  const kept = name === "direct" ? null : await spawnTimed(name, backends, log);
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
    rssAfterStartBytes: treeUsage(treeOf(pid)).rssBytes,
    rssSplitAfterStart: treeRssSplit(treeOf(pid)),
  };
}

/** One non-stream answer on the wire a scenario with this upstream API uses, checked fully. */
async function probeChat(t: Target, api: UpstreamApi, front: GatewayFront = "openai"): Promise<string | null> {
  const { wire, model } = clientWire(api, t.name, front);
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
    if (isChatgate(t.name)) return keyLimitsOn(what, res.headers);
  } catch (e) {
    return `${what}: ${e instanceof Error ? e.message : String(e)}`;
  }
  return null;
}

/** chatgate counted the request against the key's own rpm and tpm (its limit headers say which), not the global limit. */
function keyLimitsOn(what: string, headers: Headers): string | null {
  const requests = headers.get("x-ratelimit-limit-requests");
  const tokens = headers.get("x-ratelimit-limit-tokens");
  if (requests !== String(KEY_LIMITS.rpm) || tokens !== String(KEY_LIMITS.tpm)) {
    return `${what}: x-ratelimit-limit-requests ${requests}, x-ratelimit-limit-tokens ${tokens}: expected the bench key's rpm ${KEY_LIMITS.rpm} and tpm ${KEY_LIMITS.tpm}`;
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
    if (isChatgate(t.name) && !text.includes(TRANSLATED_MODEL)) return `GET /v1/models: no ${TRANSLATED_MODEL}: ${text.slice(0, 200)}`;
  } catch (e) {
    return `GET /v1/models: ${e instanceof Error ? e.message : String(e)}`;
  }
  return (
    (await probeChat(t, "openai")) ??
    (await probeChat(t, "anthropic")) ??
    // chatgate's /v1/messages (the Messages scenarios); direct and passthrough were asked just above.
    (isChatgate(t.name) ? await probeChat(t, "anthropic", "anthropic") : null)
  );
}
