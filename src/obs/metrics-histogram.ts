import type Registry from "prom-client/lib/registry.js";
import { Children } from "./metrics-children.ts";

/** One label set's observations: a count per bucket (the last is above every bound), their sum and number. */
export class Observations {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  clear(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

interface Series {
  labels: Record<string, string>;
  observations: Observations;
}

/**
 * A histogram counted in plain numbers and written by prom-client's registry at scrape time. An
 * observation is a bucket search and three additions on its label set's Observations (found by a
 * few Map lookups); prom-client's own `observe` validates and hashes the labels on every call. The
 * registry writes what `get()` returns exactly as it writes its own histograms (`_bucket` with a
 * cumulative `le` up to `+Inf`, `_sum`, `_count`).
 */
export class TalliedHistogram {
  private readonly children: Children<Observations>;
  private readonly series: Series[] = [];

  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[], bounds: readonly number[]) {
    this.children = new Children((...values) => {
      const observations = new Observations(bounds);
      this.series.push({ labels: Object.fromEntries(labelNames.map((label, i) => [label, values[i]!])), observations });
      return observations;
    });
    const series = this.series;
    registry.registerMetric({
      name, help, type: "histogram", aggregator: "sum",
      get: () => ({ name, help, type: "histogram", aggregator: "sum", values: exported(name, bounds, series) }),
      reset: () => {
        for (const { observations } of series) observations.clear();
      },
    } as never);
  }

  /** The observations of one label set, its values in label-name order. */
  get(...values: (string | number)[]): Observations {
    return this.children.get(...values);
  }
}

/** The samples prom-client writes for a histogram: cumulative `_bucket`s up to `+Inf`, `_sum`, `_count`. */
function exported(name: string, bounds: readonly number[], series: readonly Series[]): unknown[] {
  const out: unknown[] = [];
  const bucket = `${name}_bucket`;
  for (const { labels, observations } of series) {
    let total = 0;
    bounds.forEach((le, i) => {
      total += observations.counts[i]!;
      out.push({ labels: { ...labels, le }, value: total, metricName: bucket });
    });
    out.push({ labels: { ...labels, le: "+Inf" }, value: observations.count, metricName: bucket });
    out.push({ labels, value: observations.sum, metricName: `${name}_sum` });
    out.push({ labels, value: observations.count, metricName: `${name}_count` });
  }
  return out;
}
