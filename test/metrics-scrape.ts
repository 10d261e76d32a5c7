// Reading /metrics the way Prometheus does: fetch, check the content type, parse the text with a
// Prometheus text parser, then look samples up by name and labels.
import { expect } from "bun:test";
import parsePrometheusTextFormat, { type MetricFamily, type Sample } from "parse-prometheus-text-format";

/**
 * One scrape, parsed. parse-prometheus-text-format reads every line (and throws on one it cannot),
 * but folds a histogram's label sets into one sample without labels; so the text is parsed a
 * second time with histograms typed `untyped`, which makes each `_bucket`, `_sum` and `_count`
 * series a family (or several) of its own with its labels kept: what the counts are read from.
 */
export class Scrape {
  readonly families: MetricFamily[];
  private readonly flat: MetricFamily[];

  constructor(readonly text: string) {
    this.families = parsePrometheusTextFormat(text);
    this.flat = parsePrometheusTextFormat(text.replace(/^# TYPE (\S+) histogram$/gm, "# TYPE $1 untyped"));
  }

  family(name: string): MetricFamily | undefined {
    return this.families.find((f) => f.name === name);
  }

  /** The samples of `name` (for a histogram, `name_count`) whose labels include `labels`. */
  samples(name: string, labels: Record<string, string> = {}): Sample[] {
    const series = this.family(name)?.type === "HISTOGRAM" ? `${name}_count` : name;
    const matches = (s: Sample) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v);
    // prom-client writes each label set's buckets, sum and count together: untyped, every run of
    // `_count` lines is a family of its own.
    return this.flat.filter((f) => f.name === series).flatMap((f) => f.metrics).filter(matches);
  }

  /** The sum of the values of `name` (a histogram's: its counts) whose labels include `labels`; 0 when none. */
  value(name: string, labels: Record<string, string> = {}): number {
    return this.samples(name, labels).reduce((sum, s) => sum + Number(s.value), 0);
  }

  /** Every label set of `name` with its value, `k=v,…` → value: for comparing whole metrics. */
  series(name: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.samples(name)) {
      const key = Object.entries(s.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(",");
      out[key] = Number(s.value);
    }
    return out;
  }
}

/** GET /metrics with `key` (if any) as a bearer key; the raw response. */
export function getMetrics(url: string, key?: string): Promise<Response> {
  return fetch(`${url}/metrics`, { headers: key === undefined ? {} : { authorization: `Bearer ${key}` } });
}

/** Scrapes `url`, expecting a 200 in Prometheus' text format, and parses it. */
export async function scrape(url: string, key?: string): Promise<Scrape> {
  const res = await getMetrics(url, key);
  const text = await res.text();
  expect({ status: res.status, type: res.headers.get("content-type") }).toEqual({ status: 200, type: "text/plain; version=0.0.4; charset=utf-8" });
  return new Scrape(text);
}
