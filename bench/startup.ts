// Start-up timing: spawn to the first 200 on /health, each kind of start taking turns round by
// round (as the load runs do), so the ratio to the passthrough compares starts the machine made
// at the same moment.
import { type Backends, type StartKind, commandFor, isChatgate } from "./commands.ts";
import { type Child, type Output, freePort, onCpu, spawnTracked, stderrTail, stopProcess } from "./proc.ts";
import type { TargetLog } from "./target-log.ts";

/** The target has this core to itself (the load generator and the upstream share the other). */
export const TARGET_CPU = 1;

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

/** chatgate writes into its log file (stdout and stderr, as under systemd); the others' stdout is dropped. */
function outputFor(kind: StartKind, log: TargetLog | null): Output {
  return log && isChatgate(kind) ? { fd: log.fd, tail: () => log.tail() } : "ignore";
}

/** The log file each kind of chatgate writes into (null: none, or not chatgate). */
export type LogOf = (kind: StartKind) => TargetLog | null;

/** Spawns one start of `kind` on the target's core and times spawn to the first 200 on /health. */
export async function spawnTimed(kind: StartKind, backends: Backends, log: TargetLog | null): Promise<{ proc: Child; port: number; ms: number }> {
  const port = freePort();
  const { cmd, env } = commandFor(kind, backends, port);
  const t0 = performance.now();
  const proc = spawnTracked(onCpu(TARGET_CPU, cmd), env, outputFor(kind, log));
  try {
    await waitHealthy(`http://127.0.0.1:${port}`, proc, 15_000);
  } catch (e) {
    await stopProcess(proc);
    throw new Error(`${kind}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { proc, port, ms: performance.now() - t0 };
}

/**
 * Times `starts` start-ups of each kind, in rounds: every kind once per round, the order rotating
 * (A B C, B C A, …). Each process is stopped before the next starts. Entry i of every list is from
 * round i. `direct` is the mock upstream itself, started apart from the shared one. A kind that
 * fails to start is dropped from the rounds after, with the reason in `failed`. `beforeRound`
 * (the quiet-gate) runs before each round.
 */
export async function timeStartups(
  kinds: readonly StartKind[],
  backends: Backends,
  starts: number,
  logOf: LogOf,
  beforeRound: () => Promise<unknown> = async () => {},
): Promise<{ times: Map<StartKind, number[]>; failed: Map<StartKind, string> }> {
  const times = new Map<StartKind, number[]>(kinds.map((k) => [k, []]));
  const failed = new Map<StartKind, string>();
  for (let round = 0; round < starts; round++) {
    await beforeRound();
    const order = [...kinds.slice(round % kinds.length), ...kinds.slice(0, round % kinds.length)];
    for (const kind of order.filter((k) => !failed.has(k))) {
      try {
        const s = await spawnTimed(kind, backends, logOf(kind));
        await stopProcess(s.proc);
        times.get(kind)?.push(s.ms);
      } catch (e) {
        failed.set(kind, e instanceof Error ? e.message : String(e));
      }
    }
  }
  return { times, failed };
}
