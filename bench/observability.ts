// What chatgate logged and counted while the bench ran it as in production: the lines its log
// file received, and one /metrics scrape at the end, parsed as Prometheus would; for
// chatgate-redis also whether Redis answered every command and how many it served.
import type { RedisStats } from "./redis.ts";
import type { Target } from "./targets.ts";

export interface MetricsCheck {
  /** HTTP status of GET /metrics (0: no answer). */
  status: number;
  /** Metric families in the scrape; 0 when it did not parse. */
  families: number;
  /** Sum of chatgate_requests_total over its labels; null when absent. */
  requestsTotal: number | null;
  /** chatgate_redis_up and chatgate_redis_errors_total; null when absent (no Redis configured). */
  redisUp: number | null;
  redisErrors: number | null;
  problem: string | null;
}

/** What chatgate-redis did besides what chatgate does: its log and scrape, and the commands Redis served. */
export interface RedisTargetCheck {
  log?: LogCheck;
  metrics?: MetricsCheck;
  /** What the redis-server did over the whole bench (redis.ts); null when it did not answer. */
  redis: RedisStats | null;
}

export interface LogCheck {
  path: string;
  lines: number;
  bytes: number;
}

interface Family {
  name: string;
  metrics: { value?: string }[];
}

/** parse-prometheus-text-format, a devDependency without types of its own (test/ declares its shape). */
async function parser(): Promise<(text: string) => Family[]> {
  const name = "parse-prometheus-text-format";
  const mod = (await import(name)) as { default: (text: string) => Family[] };
  return mod.default;
}

/** GET /metrics with the client key (chatgate lets the client keys scrape when no metrics key is set). */
export async function scrapeMetrics(t: Target): Promise<MetricsCheck> {
  let status = 0;
  try {
    const res = await fetch(`${t.base}/metrics`, { headers: { authorization: `Bearer ${t.apiKey}` }, signal: AbortSignal.timeout(5000) });
    status = res.status;
    const text = await res.text();
    if (status !== 200) return { status, families: 0, requestsTotal: null, redisUp: null, redisErrors: null, problem: `GET /metrics: ${status} ${text.slice(0, 200)}` };
    const families = (await parser())(text);
    const sum = (name: string) => {
      const family = families.find((f) => f.name === name);
      return family ? family.metrics.reduce((total, m) => total + Number(m.value ?? 0), 0) : null;
    };
    const requestsTotal = sum("chatgate_requests_total");
    return {
      status,
      families: families.length,
      requestsTotal,
      redisUp: sum("chatgate_redis_up"),
      redisErrors: sum("chatgate_redis_errors_total"),
      problem: requestsTotal !== null ? null : "no chatgate_requests_total in the scrape",
    };
  } catch (e) {
    return { status, families: 0, requestsTotal: null, redisUp: null, redisErrors: null, problem: `GET /metrics: ${e instanceof Error ? e.message : String(e)}` };
  }
}

const count = (v: number) => v.toLocaleString("en-US");

function logLine(log: LogCheck, requests: number): string {
  const verdict = log.lines >= requests ? "ok, at least one per request" : "MISS: fewer lines than requests";
  return `- log lines written: ${count(log.lines)} (${(log.bytes / 1024 / 1024).toFixed(1)} MB into ${log.path}, emptied before each run): ${verdict}`;
}

function metricsLine(metrics: MetricsCheck, requests: number): string {
  const ok = metrics.problem === null && metrics.requestsTotal !== null && metrics.requestsTotal >= requests;
  const what = metrics.problem ?? `${metrics.families} metric families, chatgate_requests_total ${count(metrics.requestsTotal ?? 0)}`;
  return `- /metrics scraped once at the end: ${what}: ${ok ? "ok" : "MISS"}`;
}

/** How chatgate ran: its cap on upstream requests, what it logged, what /metrics counted, against the requests it completed. */
export function productionMarkdown(requests: number, maxHttpRequests: string | undefined, log: LogCheck | undefined, metrics: MetricsCheck | undefined): string {
  const lines = [
    `chatgate ran as in production: BUN_CONFIG_MAX_HTTP_REQUESTS=${maxHttpRequests ?? "?"} (as deploy/chatgate.service sets it), logging and metrics at their defaults (on), stdout and stderr into a file.`,
    "",
    `- requests chatgate completed in the measured runs: ${count(requests)} (warm-ups and probes not included)`,
  ];
  if (log) lines.push(logLine(log, requests));
  if (metrics) lines.push(metricsLine(metrics, requests));
  return lines.join("\n");
}

/** chatgate-redis: the same checks, and that Redis answered every command (up, no errors) and served each request. */
export function redisMarkdown(requests: number, check: RedisTargetCheck): string {
  const lines = [
    "chatgate-redis: the same, with CHATGATE_REDIS_URL pointing at the bench's redis-server (no persistence, pinned to the load generator's core): the key's rpm, tpm and budget counted in Redis.",
    "",
    `- requests chatgate-redis completed in the measured runs: ${count(requests)} (warm-ups and probes not included)`,
  ];
  if (check.log) lines.push(logLine(check.log, requests));
  const m = check.metrics;
  if (m) {
    lines.push(metricsLine(m, requests));
    const ok = m.redisUp === 1 && m.redisErrors === 0;
    lines.push(`- Redis as chatgate saw it: chatgate_redis_up ${m.redisUp ?? "absent"}, chatgate_redis_errors_total ${m.redisErrors ?? "absent"}: ${ok ? "ok, every command answered in time" : "MISS"}`);
  }
  const r = check.redis;
  // Everything chatgate-redis served was counted in Redis: warm-ups and probes too, which /metrics counted.
  const served = m?.requestsTotal ?? requests;
  if (r) {
    const ok = r.increments >= served;
    const per = (n: number) => (served ? ` (${(n / served).toFixed(2)} per request of chatgate_requests_total)` : "");
    lines.push(
      `- redis-server ran ${count(r.scripts)} Lua scripts (EVALSHA/EVAL, one round trip each, carrying the requests of one event-loop turn)${per(r.scripts)}, which added to ${count(r.increments)} windows (INCRBY)${per(r.increments)}, and ${count(r.commands)} commands in all, the scripts' own included: ${ok ? "ok, every request counted in Redis" : "MISS: fewer windows added to than requests"}`,
    );
  } else lines.push("- redis-server's INFO commandstats: no answer: MISS");
  return lines.join("\n");
}
