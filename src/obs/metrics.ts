import type { FinishRecord } from "../gateway/finish.ts";
import type { CooldownEvent } from "../gateway/health.ts";
import type { MetricsDeps, MetricsSink } from "./metrics-sink.ts";

/** Loads the counting half (prom-client and the metric definitions); a parameter for tests. */
export type LoadSink = () => Promise<typeof import("./metrics-sink.ts")>;

const loadSink: LoadSink = () => import("./metrics-sink.ts");

/**
 * What /metrics serves, counted from the gateway's finish records and the targets' cooldown events.
 *
 * prom-client is loaded lazily, off the start-up path: in the compiled binary loading it and
 * building the metrics took ~9 ms (~5.5 ms the import, ~3–5 ms the setup), against a start-up
 * budget of 1.5 × a bare Bun proxy. The load starts with the first event to count (or the first
 * scrape); until it is done the events wait in a queue that is then replayed into the counters,
 * so none is lost. The queue lives only for the milliseconds of the load; a gateway that never
 * serves a request never loads it.
 */
export class Metrics {
  private sink: MetricsSink | undefined;
  private loading: Promise<MetricsSink> | undefined;
  private waiting: FinishRecord[] = [];
  private waitingCooldowns: CooldownEvent[] = [];
  /** The load failed (a broken build): nothing is queued any more, and a scrape is a 500. */
  private failed = false;

  constructor(
    private readonly deps: MetricsDeps,
    private readonly load: LoadSink = loadSink,
  ) {}

  /** Counts one request (subscribe it to `gateway.finishes`). */
  readonly record = (record: FinishRecord): void => {
    if (this.sink !== undefined) return this.sink.record(record);
    if (this.failed) return;
    this.waiting.push(record);
    this.startLoading();
  };

  /** Counts a target entering its cooldown (leaving is not counted). */
  readonly countCooldown = (event: CooldownEvent): void => {
    if (this.sink !== undefined) return this.sink.countCooldown(event);
    if (this.failed) return;
    this.waitingCooldowns.push(event);
    this.startLoading();
  };

  /** The Prometheus text exposition of every metric, read now. */
  async scrape(): Promise<string> {
    return (await this.ready()).exposition();
  }

  /** The sink, loaded once; the events that came before it are counted as it arrives. */
  ready(): Promise<MetricsSink> {
    this.loading ??= this.load()
      .then(({ MetricsSink }) => {
        const sink = new MetricsSink(this.deps);
        for (const record of this.waiting) sink.record(record);
        for (const event of this.waitingCooldowns) sink.countCooldown(event);
        this.sink = sink;
        this.drop();
        return sink;
      })
      .catch((err: unknown) => {
        this.failed = true;
        this.drop();
        console.error("chatgate: metrics could not be loaded:", err);
        throw err;
      });
    return this.loading;
  }

  private drop(): void {
    this.waiting = [];
    this.waitingCooldowns = [];
  }

  private startLoading(): void {
    // A failure is logged once, above, and answered to scrapes; here it must not go unhandled.
    if (this.loading === undefined) this.ready().catch(() => {});
  }
}
