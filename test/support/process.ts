// Runs chatgate as its own process (source via bun, or the compiled binary) on a free port, for
// what only a process shows: signals, exit codes, start-up output, the standalone binary.
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface GatewayProcess {
  url: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Everything the process printed so far, stdout then stderr. */
  output(): string;
  /** Resolves with the first match of `pattern` in what the process printed (now or later). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** The JSON log lines printed on stdout so far, parsed (the lines that are not JSON are left out). */
  logs(): LogLine[];
  /** Resolves with the first JSON log line (now or later) that `match` accepts. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  exited: Promise<number>;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** One line of chatgate's JSON log. */
export type LogLine = Record<string, unknown> & { level: string; time: string; msg: string };

/** The JSON lines in a process's stdout, parsed. */
export function parseLogLines(stdout: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      // a line still being written
    }
  }
  return lines;
}

export const SOURCE_CMD = [process.execPath, "src/main.ts"];

/** Collects a stream's text and resolves `match` with the first line that matches. */
function collect(stream: ReadableStream<Uint8Array>, sink: string[], pattern: RegExp, found: (m: RegExpMatchArray) => void, onChunk: () => void = () => {}) {
  const decoder = new TextDecoder();
  void (async () => {
    for await (const chunk of stream) {
      sink.push(decoder.decode(chunk, { stream: true }));
      const match = sink.join("").match(pattern);
      if (match) found(match);
      onChunk();
    }
  })();
}

/** `whileStarting` runs as soon as the process is spawned, before it listens (a test's signal sent during start-up). */
export async function spawnGateway(cmd: string[], env: Record<string, string> = {}, cwd?: string, whileStarting?: (proc: Subprocess) => unknown): Promise<GatewayProcess> {
  // The usage ledger (on by default) goes to a directory of this process's own, removed when it exits.
  const dataDir = env.CHATGATE_DATA_DIR === undefined ? mkdtempSync(join(tmpdir(), "chatgate-data-")) : undefined;
  const proc = Bun.spawn(cmd, {
    cwd: cwd ?? process.cwd(),
    // Retries and cooldown off unless a test turns them on: each upstream failure is one attempt.
    env: { PATH: "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", PORT: "0", CHATGATE_RETRIES: "0", CHATGATE_COOLDOWN_AFTER: "0", ...(dataDir ? { CHATGATE_DATA_DIR: dataDir } : {}), ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const out: string[] = [];
  const err: string[] = [];
  const listening = Promise.withResolvers<string>();
  const output = () => out.join("") + err.join("");
  const waiters = new Set<{ pattern: RegExp; resolve: (m: RegExpMatchArray) => void }>();
  const logWaiters = new Set<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();
  const logs = () => parseLogLines(out.join(""));
  const check = () => {
    for (const waiter of waiters) {
      const match = output().match(waiter.pattern);
      if (match) (waiters.delete(waiter), waiter.resolve(match));
    }
    if (logWaiters.size === 0) return;
    const lines = logs();
    for (const waiter of logWaiters) {
      const line = lines.find(waiter.match);
      if (line) (logWaiters.delete(waiter), waiter.resolve(line));
    }
  };
  const waitForLog = (match: (line: LogLine) => boolean, timeoutMs = 10_000) => {
    const { promise, resolve, reject } = Promise.withResolvers<LogLine>();
    const timer = setTimeout(() => reject(new Error(`no log line as expected within ${timeoutMs} ms:\n${output()}`)), timeoutMs);
    logWaiters.add({ match, resolve: (line) => (clearTimeout(timer), resolve(line)) });
    check();
    return promise;
  };
  const waitForOutput = (pattern: RegExp, timeoutMs = 10_000) => {
    const { promise, resolve, reject } = Promise.withResolvers<RegExpMatchArray>();
    const timer = setTimeout(() => reject(new Error(`no output matching ${pattern} within ${timeoutMs} ms:\n${output()}`)), timeoutMs);
    waiters.add({ pattern, resolve: (m) => (clearTimeout(timer), resolve(m)) });
    check();
    return promise;
  };
  void whileStarting?.(proc);
  collect(proc.stdout, out, /listening on (http:\/\/\S+)/, (m) => listening.resolve(m[1]!), check);
  collect(proc.stderr, err, /$^/, () => {}, check);
  const exited = proc.exited;
  if (dataDir) void exited.then(() => rmSync(dataDir, { recursive: true, force: true }));
  void exited.then((code) => listening.reject(new Error(`chatgate exited with ${code} before listening:\n${out.join("")}${err.join("")}`)));
  const deadline = setTimeout(() => listening.reject(new Error("chatgate did not start within 10 s")), 10_000);
  const url = await listening.promise.finally(() => clearTimeout(deadline));
  const stop = async () => {
    proc.kill("SIGKILL");
    await exited;
  };
  return { url, proc, output, waitForOutput, logs, waitForLog, exited, stop, [Symbol.asyncDispose]: stop };
}

/** Runs chatgate to completion (e.g. --help) and returns what it printed. */
export async function runGateway(cmd: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn(cmd, { env: { PATH: "/usr/bin:/bin", ...env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}
