// Process plumbing: spawning pinned and tracked children, killing them on every exit path, and
// reading CPU time and RSS from /proc (the kernel's accounting, not the process's own word).
import { readFileSync, readdirSync } from "node:fs";
import type { Subprocess } from "bun";

const TICK_US = 1_000_000 / 100; // USER_HZ is 100 on Linux whatever the kernel's HZ
const PAGE = 4096;

let pinning = Bun.which("taskset") !== null;
export function pinningAvailable(): boolean {
  return pinning;
}
export function disablePinning(): void {
  pinning = false;
}

/** Prefixes a command with taskset so it and every thread it starts stay on one CPU. */
export function onCpu(cpu: number, cmd: string[]): string[] {
  return pinning ? ["taskset", "-c", String(cpu), ...cmd] : cmd;
}

/** Moves this process (all its threads) to one CPU, so the harness never runs on the target's core. */
export function pinSelf(cpu: number): void {
  if (pinning) Bun.spawnSync(["taskset", "-a", "-p", "-c", String(cpu), String(process.pid)], { stdout: "ignore" });
}

const tracked = new Map<number, Subprocess>();
const stderrTails = new Map<number, string>();
const fileTails = new Map<number, () => string>();

export type Child = Subprocess<"ignore", "pipe" | "ignore" | number, "pipe" | number>;

/**
 * Where a child's output goes: stdout piped to the caller or dropped, stderr piped and its end kept
 * for error messages; or both into a file (an fd the child inherits), whose end is the tail.
 */
export type Output = "pipe" | "ignore" | { fd: number; tail: () => string };

/**
 * Reads a child's pipe to its end so a chatty child never blocks on a full pipe. Bounded by the
 * child's life (every child is killed by the time the bench ends), not by a count: stopping early
 * is exactly what would block it.
 */
async function drain(stream: ReadableStream<Uint8Array>, onText: (t: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  try {
    for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
  } catch {
    // the child died; nothing more to read
  }
}

export function spawnTracked(cmd: string[], env: Record<string, string | undefined>, output: Output = "pipe"): Child {
  const file = typeof output === "object" ? output : null;
  const stdout = typeof output === "object" ? output.fd : output;
  const p: Child = Bun.spawn({ cmd, env, stdin: "ignore", stdout, stderr: file ? file.fd : "pipe" });
  tracked.set(p.pid, p);
  if (file) fileTails.set(p.pid, file.tail);
  else {
    stderrTails.set(p.pid, "");
    if (p.stderr instanceof ReadableStream) void drain(p.stderr, (t) => stderrTails.set(p.pid, ((stderrTails.get(p.pid) ?? "") + t).slice(-4000)));
  }
  void p.exited.then(() => tracked.delete(p.pid));
  return p;
}

/** The last few KB a child wrote to stderr (or to its log file), for error messages. */
export function stderrTail(pid: number): string {
  return (fileTails.get(pid)?.() ?? stderrTails.get(pid) ?? "").trim();
}

interface PidStat {
  ppid: number;
  cpuTicks: number;
  rssPages: number;
}

function readStat(pid: number): PidStat | null {
  let s: string;
  try {
    s = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null; // gone between listing and reading
  }
  // comm (field 2) may hold spaces and parentheses: fields are counted from the last ')'.
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  const n = (i: number) => Number(f[i - 3] ?? 0);
  return { ppid: n(4), cpuTicks: n(14) + n(15) + n(16) + n(17), rssPages: n(24) };
}

/** Pids of the tree rooted at `root`, root first; empty when root is gone. */
export function treeOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const st = readStat(pid);
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(pid);
    children.set(st.ppid, list);
  }
  if (!readStat(root)) return [];
  const out = [root];
  for (let i = 0; i < out.length && i < 10_000; i++) out.push(...(children.get(out[i] as number) ?? []));
  return out;
}

export interface TreeUsage {
  cpuUs: number;
  rssBytes: number;
}

/** utime+stime (plus reaped children's) and RSS summed over a process tree. */
export function treeUsage(pids: readonly number[]): TreeUsage {
  let ticks = 0;
  let pages = 0;
  for (const pid of pids) {
    const st = readStat(pid);
    if (!st) continue;
    ticks += st.cpuTicks;
    pages += st.rssPages;
  }
  return { cpuUs: ticks * TICK_US, rssBytes: pages * PAGE };
}

/**
 * RSS split as the kernel counts it (/proc/PID/status), summed over a process tree: anonymous
 * memory (heap, stacks: what the process keeps) and file-backed pages (mostly the executable's own
 * code and bytecode, touched the first time a path runs: clean, shared with the page cache).
 */
export interface RssSplit {
  anonBytes: number;
  fileBytes: number;
}

export function treeRssSplit(pids: readonly number[]): RssSplit {
  let anon = 0;
  let file = 0;
  for (const pid of pids) {
    let s: string;
    try {
      s = readFileSync(`/proc/${pid}/status`, "utf8");
    } catch {
      continue;
    }
    anon += Number(/^RssAnon:\s+(\d+) kB/m.exec(s)?.[1] ?? 0) * 1024;
    file += Number(/^RssFile:\s+(\d+) kB/m.exec(s)?.[1] ?? 0) * 1024;
  }
  return { anonBytes: anon, fileBytes: file };
}

/** Busy CPU time of the whole machine (all cores), µs. Steal counts: a hypervisor's theft disturbs too. */
export function machineBusyUs(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const busy = (v[0] ?? 0) + (v[1] ?? 0) + (v[2] ?? 0) + (v[5] ?? 0) + (v[6] ?? 0) + (v[7] ?? 0);
  return busy * TICK_US;
}

function signalTree(pid: number, signal: "SIGTERM" | "SIGKILL"): void {
  for (const p of treeOf(pid).reverse()) {
    try {
      process.kill(p, signal);
    } catch {
      // already gone
    }
  }
}

/** SIGTERM the tree, then SIGKILL whatever is left after `graceMs`. */
export async function stopProcess(p: Subprocess, graceMs = 1500): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  signalTree(p.pid, "SIGTERM");
  const exited = await Promise.race([p.exited.then(() => true), Bun.sleep(graceMs).then(() => false)]);
  if (!exited) signalTree(p.pid, "SIGKILL");
  await Promise.race([p.exited, Bun.sleep(graceMs)]);
  tracked.delete(p.pid);
}

/** Stops every tracked child, gracefully where it lets itself be. */
export async function stopAll(): Promise<void> {
  await Promise.all([...tracked.values()].map((p) => stopProcess(p, 1000)));
}

/** Synchronous, for exit handlers: SIGKILL every tracked child and its descendants. */
export function killAllSync(): void {
  for (const pid of [...tracked.keys()]) signalTree(pid, "SIGKILL");
  tracked.clear();
}

export function installCleanup(): void {
  process.on("exit", killAllSync);
  for (const [sig, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
    process.on(sig, () => {
      console.error(`\nbench: ${sig}, stopping children`);
      killAllSync();
      process.exit(code);
    });
  }
  const die = (e: unknown) => {
    console.error("bench: fatal:", e);
    killAllSync();
    process.exit(1);
  };
  process.on("uncaughtException", die);
  process.on("unhandledRejection", die);
}

/** A child's stdout, which must have been spawned with it piped. */
export function stdoutOf(p: Child): ReadableStream<Uint8Array> {
  const out = p.stdout;
  if (!(out instanceof ReadableStream)) throw new Error(`child ${p.pid}: stdout is not piped`);
  return out;
}

/** First stdout line of a child that announces `{"port":N}`; throws after `timeoutMs`. */
export async function readPort(p: Child, timeoutMs: number): Promise<number> {
  const out = stdoutOf(p);
  let buf = "";
  let announce: (port: number) => void = () => {};
  const announced = new Promise<number>((resolve) => (announce = resolve));
  void drain(out, (t) => {
    if (buf.length > 4000) return;
    buf += t;
    const nl = buf.indexOf("\n");
    if (nl !== -1) announce((JSON.parse(buf.slice(0, nl)) as { port: number }).port);
  });
  const port = await Promise.race([announced, Bun.sleep(timeoutMs).then(() => null), p.exited.then(() => null)]);
  if (port === null) {
    throw new Error(`child ${p.pid} did not announce its port within ${timeoutMs} ms: ${stderrTail(p.pid) || buf.slice(0, 200)}`);
  }
  return port;
}

/** A port the kernel just handed out, for a child that must be told its port up front. */
export function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}
