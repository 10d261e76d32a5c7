// An injected clock for the router's waits (Retry-After, backoff, cooldown, the overall deadline):
// createApp takes its `now`, `sleep` and `random`, so a test reads the waits the router asked for
// instead of sleeping through them.

/** `random` values in [0, 1) from a fixed seed (mulberry32): the same sequence on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Time that moves only when told: `sleep(ms)` records `ms`, moves the clock on by it and resolves
 * at once, unless `hold` is set, when it waits until the request's signal aborts (what a client
 * disconnect during a backoff does). `sleeping()` resolves when the router starts a wait.
 */
export class TestClock {
  /** Every wait the router asked for, in order. */
  readonly sleeps: number[] = [];
  /** Sleeps wait for their signal to abort instead of returning at once. */
  hold = false;
  private time: number;
  private waiters: ((ms: number) => void)[] = [];

  constructor(
    start = Date.now(),
    /** The random source of the same app (backoff jitter, weighted draws); default 0.5. */
    readonly random: () => number = () => 0.5,
  ) {
    this.time = start;
  }

  readonly now = (): number => this.time;

  advance(ms: number): void {
    this.time += ms;
  }

  readonly sleep = (ms: number, signal: AbortSignal): Promise<void> => {
    this.sleeps.push(ms);
    for (const waiter of this.waiters.splice(0)) waiter(ms);
    if (signal.aborted) return Promise.reject(signal.reason);
    if (!this.hold) {
      this.time += ms;
      return Promise.resolve();
    }
    const { promise, reject } = Promise.withResolvers<void>();
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    return promise;
  };

  /** Resolves with the length of the next wait the router starts. */
  sleeping(): Promise<number> {
    const { promise, resolve } = Promise.withResolvers<number>();
    this.waiters.push(resolve);
    return promise;
  }

  /** What createApp takes. */
  get overrides() {
    return { now: this.now, sleep: this.sleep, random: this.random };
  }
}
