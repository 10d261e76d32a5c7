// Token counts from a process of their own: the gateway never loads a tokenizer (a load blocked its
// event loop for ~0.3–0.6 s and kept ~40 MB of RSS for the life of the process; in a worker thread
// ~13 MB of a thread's allocator pages stayed after it exited, a process returns all of it).
import type { Subprocess } from "bun";
import { countCommand } from "./count-command.ts";
import type { CountReply, CountRequest } from "./count-worker.ts";
import type { Encoding } from "./encoding.ts";
import { roughCount, sampleOf, scaledCount } from "./tokenizer.ts";

/**
 * How long the counting process outlives its last count. A burst of aborts (a client going away,
 * a deploy) reuses one load of the encoding; after it the process exits and its ~70 MB go back to
 * the system.
 */
export const IDLE_MS = 1_500;

export interface CountWorkerOptions {
  idleMs?: number;
  /** The command that starts the counting process (a test's own, to see one fail); countCommand() when not given. */
  command?: string[];
  /** Told once, the first time the counting process cannot count; the counts fall back to roughCount. */
  onFailure?: (err: unknown) => void;
}

interface Waiting {
  texts: readonly string[];
  resolve: (counts: number[]) => void;
}

/**
 * One counting process, started on the first count and ended `idleMs` after the last. Never
 * rejects: a process that cannot start, fails, or exits with counts pending has them answered by
 * roughCount.
 */
export class CountWorker {
  private worker: Subprocess | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  private idleTimer: Timer | undefined;
  private reported = false;
  /** Processes started so far (each one loads its encodings anew). */
  started = 0;
  private readonly idleMs: number;
  private readonly command: string[];
  private readonly onFailure: (err: unknown) => void;

  constructor(options: CountWorkerOptions = {}) {
    this.idleMs = options.idleMs ?? IDLE_MS;
    this.command = options.command ?? countCommand();
    this.onFailure = options.onFailure ?? reportFailure;
  }

  /** Whether a counting process is running. */
  get alive(): boolean {
    return this.worker !== undefined;
  }

  /** The tokens of each of `texts` with `encoding`; a long text is counted on its sample, scaled. */
  count(encoding: Encoding, texts: readonly string[]): Promise<number[]> {
    if (texts.length === 0) return Promise.resolve([]);
    const samples = texts.map(sampleOf);
    return new Promise<number[]>((resolve) => {
      const id = this.nextId++;
      this.waiting.set(id, { texts, resolve });
      const worker = this.start();
      if (worker === undefined) return;
      const request: CountRequest = { id, encoding, texts: samples };
      try {
        worker.send(request);
      } catch (err) {
        this.fail(worker, err);
      }
    }).then((counts) => counts.map((tokens, i) => scaledCount(tokens, samples[i]!, texts[i]!)));
  }

  /** The running process, or a new one, held for as long as counts wait on it; undefined when none starts. */
  private start(): Subprocess | undefined {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.worker === undefined) {
      try {
        // No environment: it needs none, and the gateway's (provider keys) has no business there.
        const worker: Subprocess = Bun.spawn({
          cmd: this.command,
          env: {},
          stdio: ["ignore", "ignore", "inherit"],
          serialization: "json",
          ipc: (reply: CountReply) => this.answer(reply),
        });
        void worker.exited.then(() => this.fail(worker, new Error("the counting process exited with counts pending")));
        this.worker = worker;
        this.started++;
      } catch (err) {
        this.fail(undefined, err);
        return undefined;
      }
    }
    // An unref'd process's replies would not keep the gateway up: a shutdown waiting on a record
    // (stats.idle()) could end before its count came.
    this.worker.ref();
    return this.worker;
  }

  private answer(reply: CountReply): void {
    const waiting = this.waiting.get(reply.id);
    if (waiting === undefined) return;
    this.waiting.delete(reply.id);
    if (reply.counts !== undefined && reply.counts.length === waiting.texts.length) waiting.resolve(reply.counts);
    else {
      this.report(new Error(reply.error ?? "the counting process answered the wrong number of counts"));
      waiting.resolve(waiting.texts.map(roughCount));
    }
    if (this.waiting.size === 0) this.idle();
  }

  /** Nothing waits: the process may not keep the gateway up, and ends if nothing comes within idleMs. */
  private idle(): void {
    const worker = this.worker;
    if (worker === undefined) return;
    worker.unref();
    this.idleTimer = setTimeout(() => {
      if (this.worker === worker && this.waiting.size === 0) this.stop(worker);
    }, this.idleMs);
    this.idleTimer.unref();
  }

  /** `worker` (undefined: none started) failed: every count waiting is answered by roughCount. */
  private fail(worker: Subprocess | undefined, err: unknown): void {
    if (worker !== undefined && worker !== this.worker) return;
    if (worker !== undefined) this.stop(worker);
    if (this.waiting.size === 0) return;
    this.report(err);
    for (const { texts, resolve } of this.waiting.values()) resolve(texts.map(roughCount));
    this.waiting.clear();
  }

  private stop(worker: Subprocess): void {
    this.worker = undefined;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    worker.kill();
  }

  private report(err: unknown): void {
    if (this.reported) return;
    this.reported = true;
    this.onFailure(err);
  }
}

function reportFailure(err: unknown): void {
  console.error("chatgate: the tokenizer could not count; usage estimates fall back to 4 bytes a token:", err);
}

/** The process's counting worker. */
export const countWorker = new CountWorker();

/** The tokens of each of `texts` with `encoding`, counted by the counting process; never rejects. */
export function countTexts(encoding: Encoding, texts: readonly string[]): Promise<number[]> {
  return countWorker.count(encoding, texts);
}
