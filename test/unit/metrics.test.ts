// The metrics' counting, without HTTP: the lazy load loses nothing, retries and fallbacks are read
// from the attempts list, a reload relabels, and the process gauges read real values.
import { describe, expect, spyOn, test } from "bun:test";
import { parseConfig, type Config } from "../../src/config.ts";
import type { Attempt, FinishRecord } from "../../src/gateway/finish.ts";
import { TargetHealth, type CooldownEvent } from "../../src/gateway/health.ts";
import { Metrics, type LoadSink } from "../../src/obs/metrics.ts";
import { MetricsSink } from "../../src/obs/metrics-sink.ts";
import { Stats } from "../../src/obs/stats.ts";
import { writeConfig } from "../support/config-file.ts";
import { Scrape } from "../metrics-scrape.ts";

const configWith = (models: string[]): Config =>
  parseConfig({
    CHATGATE_CONFIG: writeConfig({
      providers: [
        { id: "a", type: "openai", base_url: "http://127.0.0.1:9/v1", api_key: "sk-a", models: ["m1"] },
        { id: "b", type: "openai", base_url: "http://127.0.0.1:9/v1", api_key: "sk-b", models: ["m2"] },
      ],
      models: Object.fromEntries(models.map((name) => [name, { targets: [{ provider: "a", model: "m1" }, { provider: "b", model: "m2" }] }])),
    }),
  });

const CONFIG = configWith(["smart"]);
const deps = (config: () => Config = () => CONFIG) => ({ stats: new Stats(), config, health: () => new TargetHealth({ after: 3, cooldownMs: 1000 }, Date.now) });

const attempt = (provider: string, model: string, reason = "ok"): Attempt => ({ provider, model, status: reason === "ok" || reason === "resumed" ? 200 : 503, reason, durationMs: 1 });

/** A finish record of a request for `smart` that `b` answered; the patch changes what a test needs. */
const record = (patch: Partial<FinishRecord> = {}): FinishRecord =>
  ({
    route: "/v1/chat/completions", stream: false, model: "smart", provider: "b", upstreamModel: "m2", status: 200, outcome: "ok",
    attempts: [attempt("b", "m2")], resumed: false, usage: undefined, ttfbMs: 5, durationMs: 9, errorCode: null, ...patch,
  }) as FinishRecord;

const entered: CooldownEvent = { provider: "a", model: "m1", kind: "entered", reason: "503 upstream_error", until: 1 };
const left: CooldownEvent = { provider: "a", model: "m1", kind: "left", reason: null, until: null };

const scrapeOf = async (metrics: Metrics | MetricsSink) => new Scrape(metrics instanceof Metrics ? await metrics.scrape() : await metrics.exposition());

describe("the lazy load", () => {
  test("records and cooldowns that come before prom-client has loaded are all counted once it has", async () => {
    const load = Promise.withResolvers<Awaited<ReturnType<LoadSink>>>();
    let loads = 0;
    const metrics = new Metrics(deps(), () => (loads++, load.promise));
    for (let i = 0; i < 3; i++) metrics.record(record());
    metrics.countCooldown(entered);
    metrics.countCooldown(left);
    expect(loads).toBe(1);
    load.resolve(await import("../../src/obs/metrics-sink.ts"));
    const m = await scrapeOf(metrics);
    expect(m.value("chatgate_requests_total")).toBe(3);
    expect(m.series("chatgate_cooldowns_total")).toEqual({ "provider=a": 1 });
    // Loaded: counted at once, and nothing counted twice.
    metrics.record(record());
    expect((await scrapeOf(metrics)).value("chatgate_requests_total")).toBe(4);
    expect(loads).toBe(1);
  });

  test("a scrape before any request loads it too", async () => {
    const m = await scrapeOf(new Metrics(deps()));
    expect(m.value("chatgate_requests_total")).toBe(0);
    expect(m.family("chatgate_requests_total")?.type).toBe("COUNTER");
  });

  test("a load that fails is logged once, makes scrapes fail, and stops the queueing", async () => {
    const logged = spyOn(console, "error").mockImplementation(() => {});
    try {
      const metrics = new Metrics(deps(), () => Promise.reject(new Error("no chunk")));
      metrics.record(record());
      await expect(metrics.scrape()).rejects.toThrow("no chunk");
      for (let i = 0; i < 3; i++) metrics.record(record());
      expect(logged).toHaveBeenCalledTimes(1);
    } finally {
      logged.mockRestore();
    }
  });
});

describe("what one record counts", () => {
  test("each attempt after the first is a retry on the same target or a fallback to another; failures by reason", async () => {
    const sink = new MetricsSink(deps());
    sink.record(record({ attempts: [attempt("a", "m1", "upstream_error"), attempt("a", "m1", "upstream_timeout"), attempt("b", "m2", "upstream_error"), attempt("b", "m2")] }));
    const m = await scrapeOf(sink);
    expect(m.series("chatgate_upstream_attempts_total")).toEqual({ "provider=a": 2, "provider=b": 2 });
    expect(m.series("chatgate_retries_total")).toEqual({ "provider=a": 1, "provider=b": 1 });
    expect(m.series("chatgate_fallbacks_total")).toEqual({ "model=smart": 1 });
    expect(m.series("chatgate_upstream_failures_total")).toEqual({
      "provider=a,reason=upstream_error": 1, "provider=a,reason=upstream_timeout": 1, "provider=b,reason=upstream_error": 1,
    });
  });

  test("a resumed stream: the broken part is a failure, its continuation on another target a fallback, and the stream is not truncated", async () => {
    const sink = new MetricsSink(deps());
    sink.record(record({ stream: true, resumed: true, attempts: [attempt("a", "m1", "upstream_stream_truncated"), attempt("b", "m2", "resumed")] }));
    const m = await scrapeOf(sink);
    expect(m.series("chatgate_upstream_failures_total")).toEqual({ "provider=a,reason=upstream_stream_truncated": 1 });
    expect(m.series("chatgate_fallbacks_total")).toEqual({ "model=smart": 1 });
    expect(m.value("chatgate_streams_truncated_total")).toBe(0);
  });

  test("tokens add up by model and provider; a refusal counts as a request without latency; only our own 429s are rate limited", async () => {
    const sink = new MetricsSink(deps());
    sink.record(record({ usage: { prompt_tokens: 7, completion_tokens: 11, total_tokens: 18 } }));
    sink.record(record({ usage: { prompt_tokens: 3, completion_tokens: 0, total_tokens: 3 } }));
    sink.record(record({ model: null, provider: null, attempts: [], status: 429, outcome: "error", ttfbMs: undefined }));
    // An upstream's 429 passed on is an upstream failure, not our limit.
    sink.record(record({ status: 429, outcome: "error", attempts: [attempt("b", "m2", "rate_limit_exceeded")] }));
    const m = await scrapeOf(sink);
    expect(m.series("chatgate_tokens_total")).toEqual({ "model=smart,provider=b,type=prompt": 10, "model=smart,provider=b,type=completion": 11 });
    expect(m.value("chatgate_requests_total")).toBe(4);
    expect(m.value("chatgate_request_duration_seconds")).toBe(3);
    expect(m.series("chatgate_rate_limited_total")).toEqual({ "route=/v1/chat/completions": 1 });
  });

  test("usage that is not a number (an upstream's own JSON, passed on) counts no tokens and never breaks a scrape", async () => {
    const sink = new MetricsSink(deps());
    const odd = { prompt_tokens: null, completion_tokens: "12", total_tokens: Number.NaN } as unknown as FinishRecord["usage"];
    sink.record(record({ usage: odd }));
    sink.record(record({ usage: { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 } }));
    const m = await scrapeOf(sink);
    expect(m.series("chatgate_tokens_total")).toEqual({ "model=smart,provider=b,type=prompt": 2, "model=smart,provider=b,type=completion": 3 });
  });

  test("after a reload, names are labelled by the new config: a route that is gone is `other`", async () => {
    let config = configWith(["smart"]);
    const sink = new MetricsSink(deps(() => config));
    sink.record(record());
    config = configWith(["clever"]);
    sink.record(record());
    sink.record(record({ model: "clever" }));
    const m = await scrapeOf(sink);
    expect(m.value("chatgate_requests_total", { model: "smart" })).toBe(1);
    expect(m.value("chatgate_requests_total", { model: "other" })).toBe(1);
    expect(m.value("chatgate_requests_total", { model: "clever" })).toBe(1);
  });
});

describe("the process", () => {
  test("memory, CPU and start time are the process's own", async () => {
    const m = await scrapeOf(new MetricsSink(deps()));
    expect(m.value("process_resident_memory_bytes")).toBeGreaterThan(10 * 1024 * 1024);
    expect(m.value("chatgate_heap_used_bytes")).toBeGreaterThan(0);
    expect(m.value("process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(Math.abs(m.value("process_start_time_seconds") - (Date.now() / 1000 - process.uptime()))).toBeLessThan(5);
  });

  test("event-loop lag reads a blocked loop, and starts again from zero after each scrape", async () => {
    const sink = new MetricsSink(deps());
    // The monitor samples on its own timer (every 20 ms) and its first tick only sets a baseline:
    // real waits, since real time is the one thing it measures.
    // The block is long against the scheduling delays of a loaded machine (a full suite on 2 cores).
    await Bun.sleep(30);
    expect((await scrapeOf(sink)).value("chatgate_event_loop_lag_max_seconds")).toBeLessThan(0.2);
    const until = performance.now() + 400;
    while (performance.now() < until);
    await Bun.sleep(30);
    const blocked = await scrapeOf(sink);
    // At least the block less one sampling interval: the timer may have fired just before it began.
    expect(blocked.value("chatgate_event_loop_lag_max_seconds")).toBeGreaterThanOrEqual(0.38);
    expect(blocked.value("chatgate_event_loop_lag_p99_seconds")).toBeGreaterThanOrEqual(0.38);
    expect((await scrapeOf(sink)).value("chatgate_event_loop_lag_max_seconds")).toBeLessThan(0.2);
  });
});
