// The opt-in soak: non-stream load at c16 for minutes, watching whether RSS keeps growing once
// warmed up (a leak) and whether any request fails. One long run, never retried.
import type { LoadSpec } from "./load.ts";
import { type GateOptions, measure } from "./measure.ts";
import type { SoakOptions } from "./scenarios.ts";
import type { Summary } from "./stats.ts";
import type { TargetLog } from "./target-log.ts";
import type { Target } from "./targets.ts";
import { MODEL } from "./wire.ts";

export interface SoakResult {
  target: string;
  seconds: number;
  concurrency: number;
  completed: number;
  errors: number;
  errorSamples: string[];
  rps: number;
  latency: Summary;
  cpuUsPerReq: number;
  rssAfterWarmupBytes: number;
  rssEndBytes: number;
  rssPeakBytes: number;
  /** RSS every ~10 s, MB, for the JSON. */
  rssTimeline: { s: number; mb: number }[];
}

/** `log`: chatgate's log file, emptied every 10 s (minutes of request lines would fill gigabytes). */
export async function soak(t: Target, rootPids: readonly number[], gate: GateOptions, o: SoakOptions, log: TargetLog | null = null): Promise<SoakResult> {
  const spec: LoadSpec = {
    url: `${t.base}/v1/chat/completions`,
    wire: "openai",
    model: MODEL,
    apiKey: t.apiKey,
    stream: false,
    promptBytes: 40,
    knobs: {},
    concurrency: o.concurrency,
    durationMs: o.seconds * 1000,
    maxRequests: 1_000_000_000,
    verify: "full",
    timeoutMs: 30_000,
    // The Bun generator checks every answer fully and keeps percentiles in fixed memory.
    tool: "bun",
  };
  const timeline: { s: number; mb: number }[] = [];
  let afterWarmup = 0;
  let last = 0;
  const sampler = (ms: number, rss: number) => {
    last = rss;
    if (afterWarmup === 0 && ms >= o.warmupSeconds * 1000) afterWarmup = rss;
    if (ms / 1000 >= timeline.length * 10) {
      timeline.push({ s: Math.round(ms / 1000), mb: rss / 1024 / 1024 });
      log?.rotate();
    }
  };
  console.error(`bench: soak ${t.name}: c${o.concurrency} non-stream for ${o.seconds} s (warm-up ${o.warmupSeconds} s)`);
  const f = await measure(spec, t.pid, rootPids, { ...gate, retries: 0 }, sampler);
  return {
    target: t.name,
    seconds: o.seconds,
    concurrency: o.concurrency,
    completed: f.completed,
    errors: f.errors,
    errorSamples: f.errorSamples,
    rps: f.rps,
    latency: f.latency,
    cpuUsPerReq: f.cpuUsPerReq,
    rssAfterWarmupBytes: afterWarmup,
    rssEndBytes: last,
    rssPeakBytes: f.peakRssBytes,
    rssTimeline: timeline,
  };
}

/** The soak's budget: RSS may grow less than this from the end of warm-up to the end. */
const SOAK_GROWTH_LIMIT_BYTES = 10 * 1024 * 1024;

export function soakMarkdown(results: readonly SoakResult[]): string {
  const mb = (b: number) => (b / 1024 / 1024).toFixed(1);
  const lines = [
    "| soak target | duration s | requests | req/s | p50 ms | p99 ms | CPU µs/req | RSS after warm-up MB | RSS at end MB | growth MB | peak MB | errors | budget: growth < 10 MB, 0 errors |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const r of results) {
    const growth = r.rssAfterWarmupBytes ? r.rssEndBytes - r.rssAfterWarmupBytes : Number.NaN;
    const verdict = !r.target.startsWith("chatgate") ? "–" : growth < SOAK_GROWTH_LIMIT_BYTES && r.errors === 0 ? "ok" : "MISS";
    lines.push(
      `| ${r.target} | ${r.seconds} | ${r.completed.toLocaleString("en-US")} | ${Math.round(r.rps)} | ${r.latency.p50.toFixed(2)} | ${r.latency.p99.toFixed(2)} | ${Math.round(r.cpuUsPerReq)} | ${mb(r.rssAfterWarmupBytes)} | ${mb(r.rssEndBytes)} | ${Number.isNaN(growth) ? "–" : `${growth >= 0 ? "+" : ""}${mb(growth)}`} | ${mb(r.rssPeakBytes)} | ${r.errors}${r.errorSamples[0] ? ` (${r.errorSamples[0]})` : ""} | ${verdict} |`,
    );
  }
  return lines.join("\n");
}
