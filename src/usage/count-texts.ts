// Token counts from a worker thread: the main thread never loads a tokenizer (a load blocked its
// event loop for ~0.3–0.6 s and kept ~70 MB of RSS for the life of the process).
import { COUNT_WORKER_URL } from "../count-worker-url.ts";
import type { CountReply, CountRequest } from "./count-worker.ts";
import type { Encoding } from "./encoding.ts";
import { roughCount, sampleOf, scaledCount } from "./tokenizer.ts";

/**
 * How long the worker outlives its last count. A burst of aborts (a client going away, a deploy)
 * reuses one load of the encoding; after it the worker exits and its ~70 MB go back to the system.
 */
export const IDLE_MS = 1_500;

export interface CountWorkerOptions {
  idleMs?: number;
  /** The worker's module (a test's own, to see a worker fail); count-worker.ts when not given. */
  url?: string;
  /** Told once, the first time the worker cannot count; the counts fall back to roughCount. */
  onFailure?: (err: unknown) => void;
}

interface Waiting {
  texts: readonly string[];
  resolve: (counts: number[]) => void;
}

/**
 * One worker, started on the first count and ended `idleMs` after the last. Never rejects: a
 * worker that cannot start, fails, or exits with counts pending has them answered by roughCount.
 */
export class CountWorker {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  private idleTimer: Timer | undefined;
  private reported = false;
  /** Workers started so far (each one loads its encodings anew). */
  started = 0;
  private readonly idleMs: number;
  private readonly url: string;
  private readonly onFailure: (err: unknown) => void;

  constructor(options: CountWorkerOptions = {}) {
    this.idleMs = options.idleMs ?? IDLE_MS;
    this.url = options.url ?? COUNT_WORKER_URL;
    this.onFailure = options.onFailure ?? reportFailure;
  }

  /** Whether a worker is running. */
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
      worker.postMessage(request);
    }).then((counts) => counts.map((tokens, i) => scaledCount(tokens, samples[i]!, texts[i]!)));
  }

  /** The running worker, or a new one, held for as long as counts wait on it; undefined when none starts. */
  private start(): Worker | undefined {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.worker === undefined) {
      try {
        const worker = new Worker(this.url);
        worker.onmessage = (event: MessageEvent<CountReply>) => this.answer(event.data);
        worker.onerror = (event) => this.fail(worker, event.error ?? new Error(event.message));
        worker.onmessageerror = () => this.fail(worker, new Error("a count could not be read from the worker"));
        worker.addEventListener("close", () => this.fail(worker, new Error("the worker exited with counts pending")));
        this.worker = worker;
        this.started++;
      } catch (err) {
        this.fail(undefined, err);
        return undefined;
      }
    }
    // An unref'd worker's replies would not keep the process up: a shutdown waiting on a record
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
      this.report(new Error(reply.error ?? "the worker answered the wrong number of counts"));
      waiting.resolve(waiting.texts.map(roughCount));
    }
    if (this.waiting.size === 0) this.idle();
  }

  /** Nothing waits: the worker may not keep the process up, and ends if nothing comes within idleMs. */
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
  private fail(worker: Worker | undefined, err: unknown): void {
    if (worker !== undefined && worker !== this.worker) return;
    if (worker !== undefined) this.stop(worker);
    if (this.waiting.size === 0) return;
    this.report(err);
    for (const { texts, resolve } of this.waiting.values()) resolve(texts.map(roughCount));
    this.waiting.clear();
  }

  private stop(worker: Worker): void {
    this.worker = undefined;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    worker.terminate();
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

/** The tokens of each of `texts` with `encoding`, counted off the main thread; never rejects. */
export function countTexts(encoding: Encoding, texts: readonly string[]): Promise<number[]> {
  return countWorker.count(encoding, texts);
}
