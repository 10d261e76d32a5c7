// Loaded lazily (see metrics.ts): this module is where prom-client comes in.
import Counter from "prom-client/lib/counter.js";
import Gauge from "prom-client/lib/gauge.js";
import Registry from "prom-client/lib/registry.js";
import type { Config } from "../config.ts";
import type { FinishRecord } from "../gateway/finish.ts";
import type { CooldownEvent, TargetHealth } from "../gateway/health.ts";
import { MetricLabels, reasonLabel, routeLabel } from "./metrics-labels.ts";
import { processMetrics } from "./metrics-process.ts";
import { TalliedHistogram } from "./metrics-histogram.ts";
import { TalliedCounter } from "./metrics-tally.ts";
import type { Stats } from "./stats.ts";

/** What the metrics read besides finish records: all read at scrape time, or once per config. */
export interface MetricsDeps {
  stats: Stats;
  /** The running config (a reload replaces it): which model and provider names are labels. */
  config: () => Pick<Config, "models" | "providers" | "defaultModel">;
  /** The current router's target health, for the targets cooling down. */
  health: () => TargetHealth;
  /** The Redis connection (CHATGATE_REDIS_URL), read at scrape time; absent: no redis metrics. */
  redis?: { readonly up: boolean; readonly errors: number };
}

/** Whole requests: from a few ms (refusals, the mock) to minutes (long streams). */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Time to the first byte: the upstream's own first-token latency plus ours. */
const TTFB_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * A token count as an upstream reported it, which is not always a number (usage passed through
 * from an OpenAI-compatible server): anything else counts 0, never NaN, which would fail every
 * later scrape.
 */
const count = (n: unknown): number => (typeof n === "number" && Number.isFinite(n) && n > 0 ? n : 0);

/**
 * The registry and the counting: each finish record becomes a few increments on label-bound
 * tallies and histogram children found by Map lookups; text is built only when scraped.
 */
export class MetricsSink {
  readonly registry = new Registry();
  private readonly requests = this.counter("chatgate_requests_total", "Requests by API route, public model, provider that answered (or was tried last) and HTTP status.", ["route", "model", "provider", "status"]);
  private readonly duration = this.histogram("chatgate_request_duration_seconds", "Time from the request's arrival to its last byte, for requests the gateway routed.", ["route", "model", "stream"], DURATION_BUCKETS);
  private readonly ttfb = this.histogram("chatgate_time_to_first_byte_seconds", "Time from the request's arrival to the first byte of its answer.", ["route", "model", "stream"], TTFB_BUCKETS);
  private readonly tokens = this.counter("chatgate_tokens_total", "Tokens by public model and provider, as the usage reported: type is prompt (in) or completion (out).", ["model", "provider", "type"]);
  private readonly attempts = this.counter("chatgate_upstream_attempts_total", "Calls to upstream providers, retries, fallbacks and stream continuations included.", ["provider"]);
  private readonly failures = this.counter("chatgate_upstream_failures_total", "Upstream calls that failed, by provider and reason (chatgate's error code; other for an upstream's own).", ["provider", "reason"]);
  private readonly retries = this.counter("chatgate_retries_total", "Attempts on the same target as the attempt before (after a failure).", ["provider"]);
  private readonly fallbacks = this.counter("chatgate_fallbacks_total", "Attempts on a different target than the attempt before, by public model.", ["model"]);
  private readonly cooldowns = this.counter("chatgate_cooldowns_total", "Times a target was put into cooldown after failures in a row.", ["provider"]);
  private readonly truncated = this.counter("chatgate_streams_truncated_total", "Streams that ended without their end (an error event after the first chunk, no [DONE]).", ["model", "provider"]);
  private readonly rateLimited = this.counter("chatgate_rate_limited_total", "Requests refused by chatgate's own limits (429): the request rate, or failed key attempts.", ["route"]);

  private labelsOf: { config: object; labels: MetricLabels } | undefined;

  constructor(private readonly deps: MetricsDeps) {
    const { stats } = deps;
    new Gauge({
      name: "chatgate_in_flight_requests",
      help: "Requests being answered now, by kind: json (a whole answer) or stream.",
      labelNames: ["kind"],
      registers: [this.registry],
      collect() {
        this.set({ kind: "json" }, stats.inFlightJson);
        this.set({ kind: "stream" }, stats.inFlightStreams);
      },
    });
    const labels = () => this.labels();
    new Gauge({
      name: "chatgate_targets_cooling_down",
      help: "Targets (provider and model) in cooldown now, by provider.",
      labelNames: ["provider"],
      registers: [this.registry],
      collect() {
        const names = labels();
        // From zero each scrape: a provider gone in a reload leaves the list.
        this.reset();
        for (const spec of deps.config().providers) this.set({ provider: spec.id }, 0);
        for (const target of deps.health().snapshot()) if (target.state === "cooling_down") this.inc({ provider: names.provider(target.provider) });
      },
    });
    if (deps.redis !== undefined) this.redisMetrics(deps.redis);
    processMetrics(this.registry);
  }

  /** Whether Redis answers now, and the commands that got no answer (each is a fail_open or fail_closed decision). */
  private redisMetrics(redis: NonNullable<MetricsDeps["redis"]>): void {
    new Gauge({
      name: "chatgate_redis_up",
      help: "1 while the shared Redis (CHATGATE_REDIS_URL) answers, 0 during an outage.",
      registers: [this.registry],
      collect() {
        this.set(redis.up ? 1 : 0);
      },
    });
    new Counter({
      name: "chatgate_redis_errors_total",
      help: "Redis commands that failed or got no answer in time; limits and budgets then followed their on_error policy.",
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(redis.errors);
      },
    });
  }

  /** The text a scrape gets. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  record(r: FinishRecord): void {
    const names = this.labels();
    const route = routeLabel(r.route);
    const model = names.model(r.model);
    const provider = names.provider(r.provider);
    this.requests.get(route, model, provider, r.status).n++;
    // Only a request the gateway routed (an upstream asked, or the cache answered) has a duration
    // worth a bucket; one refused before (a key, a limit, a model nothing serves) has none, and its
    // 429 is one of chatgate's own limits.
    if (r.attempts.length > 0 || r.cached) {
      const stream = r.stream ? "true" : "false";
      this.duration.get(route, model, stream).observe(r.durationMs / 1000);
      if (r.ttfbMs !== undefined) this.ttfb.get(route, model, stream).observe(r.ttfbMs / 1000);
    } else if (r.status === 429) {
      this.rateLimited.get(route).n++;
    }
    if (r.usage !== undefined) {
      this.tokens.get(model, provider, "prompt").n += count(r.usage.prompt_tokens);
      this.tokens.get(model, provider, "completion").n += count(r.usage.completion_tokens);
    }
    if (r.outcome === "truncated") this.truncated.get(model, provider).n++;
    this.countAttempts(r, names, model);
  }

  countCooldown(event: CooldownEvent): void {
    if (event.kind === "entered") this.cooldowns.get(this.labels().provider(event.provider)).n++;
  }

  /** Each attempt after the first is a retry (same target as the one before) or a fallback (another). */
  private countAttempts(r: FinishRecord, names: MetricLabels, model: string): void {
    const attempts = r.attempts;
    for (let i = 0; i < attempts.length; i++) {
      const a = attempts[i]!;
      const provider = names.provider(a.provider);
      this.attempts.get(provider).n++;
      if (isFailure(a.reason)) this.failures.get(provider, reasonLabel(a.reason)).n++;
      if (i === 0) continue;
      const before = attempts[i - 1]!;
      if (before.provider === a.provider && before.model === a.model) this.retries.get(provider).n++;
      else this.fallbacks.get(model).n++;
    }
  }

  /** The label sets of the running config, rebuilt only when a reload has replaced it. */
  private labels(): MetricLabels {
    const config = this.deps.config();
    if (this.labelsOf?.config !== config) this.labelsOf = { config, labels: new MetricLabels(config) };
    return this.labelsOf.labels;
  }

  private counter(name: string, help: string, labelNames: string[]): TalliedCounter {
    return new TalliedCounter(this.registry, name, help, labelNames);
  }

  private histogram(name: string, help: string, labelNames: string[], buckets: number[]): TalliedHistogram {
    return new TalliedHistogram(this.registry, name, help, labelNames, buckets);
  }
}

/**
 * Whether an attempt's end was the provider's failure: not an answer, and not a client that left
 * or a shutdown that stopped it, which say nothing of the provider (an alert on failures must not
 * fire because clients cancel).
 */
const isFailure = (reason: string): boolean => reason !== "ok" && reason !== "resumed" && reason !== "client_closed_request" && reason !== "server_shutting_down";
