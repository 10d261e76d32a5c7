// The redis-server behind the chatgate-redis target: started by the bench on a free port, with no
// persistence, pinned to the load generator's core (so its work is never in the target's CPU
// figures, as a Redis on another machine would not be), tracked and stopped like every child.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RedisClient } from "bun";
import { type Child, freePort, onCpu, spawnTracked, stderrTail } from "./proc.ts";

export interface BenchRedis {
  proc: Child;
  url: string;
}

/**
 * redis-server on PATH; as root with apt-get, installed (`redis-server`, as .ci/run installs it for
 * the tests) unless `install` is false. Returns why the chatgate-redis target cannot run, or null.
 */
export function ensureRedis(install: boolean, log: (msg: string) => void): string | null {
  if (Bun.which("redis-server")) return null;
  if (!install) return "redis-server is not installed (smoke mode installs nothing)";
  if (process.getuid?.() !== 0 || !Bun.which("apt-get")) return "redis-server is not installed and this is not root with apt-get (apt-get install redis-server)";
  log("redis-server is missing: apt-get install -y redis-server");
  const tryInstall = () =>
    Bun.spawnSync(["apt-get", "install", "-y", "-qq", "redis-server"], { stdout: "ignore", stderr: "pipe", timeout: 180_000, env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } }).success;
  if (!tryInstall()) {
    Bun.spawnSync(["apt-get", "update", "-qq"], { stdout: "ignore", stderr: "ignore", timeout: 180_000 });
    tryInstall();
  }
  return Bun.which("redis-server") ? null : "installing redis-server with apt-get failed";
}

/** A new connection for one look at the server (no offline queue: connected first); the caller closes it. */
async function client(url: string): Promise<RedisClient> {
  const c = new RedisClient(url, { autoReconnect: false, enableOfflineQueue: false, connectionTimeout: 500 });
  try {
    await c.connect();
  } catch (e) {
    c.close();
    throw e;
  }
  return c;
}

/** Waits until the server answers PING (it listens a few ms after it starts). */
async function waitReady(url: string, p: Child, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (let i = 0; i < 10_000 && performance.now() < deadline; i++) {
    if (p.exitCode !== null || p.signalCode !== null) throw new Error(`redis-server exited with ${p.exitCode ?? p.signalCode}: ${stderrTail(p.pid)}`);
    try {
      const c = await client(url);
      const answer = await c.send("PING", []).finally(() => c.close());
      if (answer === "PONG") return;
    } catch {
      // not listening yet
    }
    await Bun.sleep(20);
  }
  throw new Error(`redis-server did not answer PING within ${timeoutMs} ms: ${stderrTail(p.pid)}`);
}

/**
 * Starts redis-server on 127.0.0.1 and a free port: no RDB snapshots, no AOF, its (empty) working
 * directory in a temporary one removed on exit, logging to stdout, which the bench drops.
 */
export async function startRedis(cpu: number): Promise<BenchRedis> {
  const dir = mkdtempSync(join(tmpdir(), "chatgate-bench-redis-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const port = freePort();
  const cmd = ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", ""];
  const proc = spawnTracked(onCpu(cpu, cmd), { ...process.env }, "ignore");
  const url = `redis://127.0.0.1:${port}`;
  await waitReady(url, proc, 10_000);
  return { proc, url };
}

/** What the server did since it started: Lua scripts run, the windows they added to, and commands in all. */
export interface RedisStats {
  /** EVALSHA and EVAL calls: chatgate's round trips for the key limits and budget (one carries every request of an event-loop turn). */
  scripts: number;
  /** INCRBY calls, the scripts' own: one per window a reservation added to (a request's rpm, tpm and spend). */
  increments: number;
  /** Every command, the scripts' own calls included (and the bench's PINGs and INFO). */
  commands: number;
}

/** INFO commandstats, summed; null when the server does not answer. */
export async function redisStats(url: string): Promise<RedisStats | null> {
  try {
    const c = await client(url);
    const info = String(await c.send("INFO", ["commandstats"]).finally(() => c.close()));
    const stats: RedisStats = { scripts: 0, increments: 0, commands: 0 };
    for (const m of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) {
      const calls = Number(m[2]);
      stats.commands += calls;
      if (m[1] === "evalsha" || m[1] === "eval") stats.scripts += calls;
      if (m[1] === "incrby") stats.increments += calls;
    }
    return stats;
  } catch {
    return null;
  }
}
