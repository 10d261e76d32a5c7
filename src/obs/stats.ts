/** The longest a scrape or a usage report waits for the records of requests that just ended. */
export const RECORDS_WAIT_MS = 2_000;

/** Counters behind /status: in-flight requests by kind and totals since start. */
export class Stats {
  readonly startedAt = performance.now();
  inFlightJson = 0;
  inFlightStreams = 0;
  total = 0;
  completions = 0;
  streams = 0;
  errors4xx = 0;
  errors5xx = 0;
  /** Requests that have ended and whose finish record waits for its usage to be counted. */
  recordsPending = 0;
  private idleWaiters: (() => void)[] = [];
  private recordWaiters: (() => void)[] = [];

  countError(status: number): void {
    if (status >= 500) this.errors5xx++;
    else if (status >= 400) this.errors4xx++;
  }

  beginJson(): void {
    this.inFlightJson++;
  }

  endJson(): void {
    this.inFlightJson--;
    this.notifyIfIdle();
  }

  beginStream(): void {
    this.inFlightStreams++;
  }

  endStream(): void {
    this.inFlightStreams--;
    this.notifyIfIdle();
  }

  beginRecord(): void {
    this.recordsPending++;
  }

  endRecord(): void {
    this.recordsPending--;
    if (this.recordsPending === 0 && this.recordWaiters.length > 0) {
      const waiters = this.recordWaiters;
      this.recordWaiters = [];
      for (const resolve of waiters) resolve();
    }
    this.notifyIfIdle();
  }

  /**
   * Resolves once no ended request's record waits for its usage count, or after `maxWaitMs`: a
   * scrape or a usage report just after a request that ended without usage (a cut, an abort) counts
   * it, rather than missing it for the ~0.3–1 s its count takes.
   */
  recordsOut(maxWaitMs: number): Promise<void> {
    if (this.recordsPending === 0) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(resolve, maxWaitMs);
    this.recordWaiters.push(() => {
      clearTimeout(timer);
      resolve();
    });
    return promise;
  }

  /** Resolves once nothing is in flight and every finish record is out: what a graceful shutdown waits for. */
  idle(): Promise<void> {
    if (this.busy() === 0) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.idleWaiters.push(resolve);
    return promise;
  }

  uptimeSeconds(): number {
    return Math.round((performance.now() - this.startedAt) / 10) / 100;
  }

  private busy(): number {
    return this.inFlightJson + this.inFlightStreams + this.recordsPending;
  }

  private notifyIfIdle(): void {
    if (this.busy() !== 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
