// What chatgate logged and counted while the bench ran it as in production: the lines its log
// file received, and one /metrics scrape at the end, parsed as Prometheus would.
import type { Target } from "./targets.ts";

export interface MetricsCheck {
  /** HTTP status of GET /metrics (0: no answer). */
  status: number;
  /** Metric families in the scrape; 0 when it did not parse. */
  families: number;
  /** Sum of chatgate_requests_total over its labels; null when absent. */
  requestsTotal: number | null;
  problem: string | null;
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
    if (status !== 200) return { status, families: 0, requestsTotal: null, problem: `GET /metrics: ${status} ${text.slice(0, 200)}` };
    const families = (await parser())(text);
    const requests = families.find((f) => f.name === "chatgate_requests_total");
    const requestsTotal = requests ? requests.metrics.reduce((sum, m) => sum + Number(m.value ?? 0), 0) : null;
    return { status, families: families.length, requestsTotal, problem: requests ? null : "no chatgate_requests_total in the scrape" };
  } catch (e) {
    return { status, families: 0, requestsTotal: null, problem: `GET /metrics: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** How chatgate ran: its cap on upstream requests, what it logged, what /metrics counted, against the requests it completed. */
export function productionMarkdown(requests: number, maxHttpRequests: string | undefined, log: LogCheck | undefined, metrics: MetricsCheck | undefined): string {
  const count = (v: number) => v.toLocaleString("en-US");
  const lines = [
    `chatgate ran as in production: BUN_CONFIG_MAX_HTTP_REQUESTS=${maxHttpRequests ?? "?"} (as deploy/chatgate.service sets it), logging and metrics at their defaults (on), stdout and stderr into a file.`,
    "",
    `- requests chatgate completed in the measured runs: ${count(requests)} (warm-ups and probes not included)`,
  ];
  if (log) {
    const verdict = log.lines >= requests ? "ok, at least one per request" : "MISS: fewer lines than requests";
    lines.push(`- log lines written: ${count(log.lines)} (${(log.bytes / 1024 / 1024).toFixed(1)} MB into ${log.path}, emptied before each run): ${verdict}`);
  }
  if (metrics) {
    const ok = metrics.problem === null && metrics.requestsTotal !== null && metrics.requestsTotal >= requests;
    const what = metrics.problem ?? `${metrics.families} metric families, chatgate_requests_total ${count(metrics.requestsTotal ?? 0)}`;
    lines.push(`- /metrics scraped once at the end: ${what}: ${ok ? "ok" : "MISS"}`);
  }
  return lines.join("\n");
}
