// One measured run of one scenario against one target: wait for a quiet machine, run the load
// generator as its own pinned process, and read the target's CPU and RSS from /proc around it.
// CPU that belongs to none of our processes ("foreign") marks the run disturbed; it is retried.
import type { LoadResult, LoadSpec } from "./load.ts";
import { machineBusyUs, onCpu, spawnTracked, stderrTail, stdoutOf, stopProcess, treeOf, treeUsage } from "./proc.ts";
import type { Summary } from "./stats.ts";
import { LOAD_CPU } from "./targets.ts";
import { wrkRun } from "./wrk.ts";

export interface GateOptions {
  /** Foreign load, in cores, above which the machine is not quiet. */
  maxForeignCores: number;
  maxWaitMs: number;
  retries: number;
}

export interface RunFigures {
  completed: number;
  errors: number;
  errorSamples: string[];
  wallMs: number;
  rps: number;
  latency: Summary;
  ttfc: Summary | null;
  maxOpen: number;
  concurrency: number;
  /** Target process tree's utime+stime over the run, per completed request. */
  cpuUsPerReq: number;
  targetCpuCores: number;
  loaderCpuCores: number;
  peakRssBytes: number;
  foreignCores: number;
  attempts: number;
  noisy: boolean;
}

/** All CPU our own processes have used: the harness itself plus the trees of its long-lived children. */
function oursUs(rootPids: readonly number[]): number {
  const self = process.cpuUsage();
  let us = self.user + self.system;
  for (const root of rootPids) us += treeUsage(treeOf(root)).cpuUs;
  return us;
}

/**
 * Waits (bounded) until the CPU used outside our processes stays under the limit for a window, and
 * so does the CPU of `target` (the one about to be measured), if given: what its last run left
 * behind when the load generator stopped (the usage estimates of the requests it cut, batched
 * writes) is that run's tail, not part of the next run's steady state.
 */
export async function quietGate(rootPids: readonly number[], opts: GateOptions, target?: number): Promise<number> {
  if (opts.maxWaitMs <= 0) return Number.NaN; // gate off (smoke, warm-up)
  const windowMs = 400;
  const deadline = Date.now() + opts.maxWaitMs;
  const targetUs = () => (target === undefined ? 0 : treeUsage(treeOf(target)).cpuUs);
  let foreign = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 1000; i++) {
    const m0 = machineBusyUs();
    const o0 = oursUs(rootPids);
    const c0 = targetUs();
    const t0 = performance.now();
    await Bun.sleep(windowMs);
    const wallUs = (performance.now() - t0) * 1000;
    foreign = Math.max(0, machineBusyUs() - m0 - (oursUs(rootPids) - o0)) / wallUs;
    const targetBusy = (targetUs() - c0) / wallUs;
    if ((foreign <= opts.maxForeignCores && targetBusy <= opts.maxForeignCores) || Date.now() > deadline) break;
  }
  return foreign;
}

/** Called with each RSS sample of the target (every ~100 ms) during a run. */
export type RssSampler = (elapsedMs: number, rssBytes: number) => void;

async function attempt(spec: LoadSpec, targetPid: number, rootPids: readonly number[], onSample?: RssSampler): Promise<RunFigures> {
  const targetPids = treeOf(targetPid);
  if (targetPids.length === 0) throw new Error(`target process ${targetPid} is gone`);
  const m0 = machineBusyUs();
  const o0 = oursUs(rootPids);
  const c0 = treeUsage(targetPids).cpuUs;
  const t0 = performance.now();
  // Past its duration the loader only finishes requests in flight; this is the hard stop.
  const hardStopMs = spec.durationMs + spec.timeoutMs + 30_000;
  const wrk = spec.tool === "wrk" ? wrkRun(spec) : null;
  const cmd = wrk ? wrk.cmd : [process.execPath, `${import.meta.dir}/load.ts`, JSON.stringify(spec)];
  const loader = spawnTracked(onCpu(LOAD_CPU, cmd), {
    ...process.env,
    // Bun's fetch holds at most 256 requests in flight by default; the client must never be the cap.
    BUN_CONFIG_MAX_HTTP_REQUESTS: "4096",
  });
  const output = new Response(stdoutOf(loader)).text().finally(() => wrk?.cleanup());
  let peak = 0;
  let done = false;
  void loader.exited.then(() => (done = true));
  for (let i = 0; !done && i < 100_000 && performance.now() - t0 < hardStopMs; i++) {
    // The tree found at the start: re-listing /proc every sample would cost the shared core more.
    const rss = treeUsage(targetPids).rssBytes;
    peak = Math.max(peak, rss);
    onSample?.(performance.now() - t0, rss);
    await Promise.race([loader.exited, Bun.sleep(100)]);
  }
  if (!done) await stopProcess(loader);
  const wallUs = (performance.now() - t0) * 1000;
  const targetUs = treeUsage(targetPids).cpuUs - c0;
  peak = Math.max(peak, treeUsage(treeOf(targetPid)).rssBytes);
  const loaderUs = Number(loader.resourceUsage()?.cpuTime.total ?? 0n);
  const foreign = Math.max(0, machineBusyUs() - m0 - (oursUs(rootPids) - o0) - loaderUs) / wallUs;
  const text = await output;
  if (loader.exitCode !== 0 || !text.trim()) {
    throw new Error(`load generator failed (exit ${loader.exitCode ?? loader.signalCode}): ${stderrTail(loader.pid)}`);
  }
  const r = wrk ? wrk.parse(text) : (JSON.parse(text.trim().split("\n").pop() ?? "{}") as LoadResult);
  return {
    completed: r.completed,
    errors: r.errors,
    errorSamples: r.errorSamples,
    wallMs: r.wallMs,
    rps: r.completed / (r.wallMs / 1000),
    latency: r.latency,
    ttfc: r.ttfc,
    maxOpen: r.maxOpen,
    concurrency: spec.concurrency,
    cpuUsPerReq: r.completed > 0 ? targetUs / r.completed : Number.NaN,
    targetCpuCores: targetUs / wallUs,
    loaderCpuCores: loaderUs / wallUs,
    peakRssBytes: peak,
    foreignCores: foreign,
    attempts: 1,
    noisy: false,
  };
}

/**
 * Runs the spec against the target after the quiet gate; a run disturbed by foreign load is run
 * again (bounded), and the least disturbed attempt is kept.
 */
export async function measure(
  spec: LoadSpec,
  targetPid: number,
  rootPids: readonly number[],
  gate: GateOptions,
  onSample?: RssSampler,
): Promise<RunFigures> {
  let best: RunFigures | null = null;
  let attempts = 0;
  for (let i = 0; i <= gate.retries; i++) {
    await quietGate(rootPids, gate, targetPid);
    const r = await attempt(spec, targetPid, rootPids, onSample);
    attempts++;
    if (!best || r.foreignCores < best.foreignCores) best = r;
    if (r.foreignCores <= gate.maxForeignCores || i === gate.retries) break;
    console.error(`bench:   disturbed (${(r.foreignCores * 100).toFixed(0)} % of a core of foreign load), again`);
  }
  if (!best) throw new Error("no attempt ran");
  return { ...best, attempts, noisy: best.foreignCores > gate.maxForeignCores };
}
