import type { Server } from "bun";
import { Elysia } from "elysia";
import { clientAddress } from "../auth/client-address.ts";
import { tooManyFailures } from "../auth/failures.ts";
import { bearerToken, matchKey } from "../auth/keys.ts";
import { invalidApiKey } from "../errors.ts";
import type { Live } from "../live.ts";
import type { Metrics } from "../obs/metrics.ts";
import { RECORDS_WAIT_MS, type Stats } from "../obs/stats.ts";
import { letInWith, type GuardRules } from "./guard.ts";
import { errorResponse } from "./openapi-doc.ts";

/** Prometheus' text format, as prom-client writes it. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface MetricsRouteOptions {
  metrics: Metrics;
  /** Digests of CHATGATE_METRICS_KEY: when set, the only key a scrape is let in with. */
  metricsKeys: readonly Uint8Array[];
  /** The guard's current rules: the client keys (when there is no metrics key) and the failed-key limit. */
  rules: Live<GuardRules>;
  server: () => Server<unknown> | null;
  /** Records still waiting for their usage count: a scrape waits a moment for them (RECORDS_WAIT_MS). */
  stats: Stats;
}

const MISSING_KEY = "Missing API key: send it as 'Authorization: Bearer <key>'.";
const WRONG_KEY = "Incorrect API key provided.";

/**
 * GET /metrics. Mounted before the guard, so a scrape never counts against a client's rate limit,
 * with a key check of its own: the metrics key when one is set, else the client keys, else none
 * (a gateway without keys is open, /metrics too). A wrong key counts as a failed key attempt from
 * its address, as on the guarded routes: /metrics must not be a way to guess client keys unlimited.
 */
export function metricsRoute(options: MetricsRouteOptions) {
  const { metrics, metricsKeys, rules, server, stats } = options;

  function authorize(request: Request, set: object): void {
    const r = rules.current;
    const digests = metricsKeys.length > 0 ? metricsKeys : r.keyDigests;
    if (digests.length === 0) return;
    const address = () => clientAddress(r.trustProxy ? request.headers.get("x-forwarded-for") : null, server()?.requestIP(request)?.address ?? "unknown");
    const failures = r.failures;
    if (failures !== undefined && failures.anyBlocked()) {
      const wait = failures.blockedFor(address());
      if (wait > 0) throw tooManyFailures(failures.limit, wait);
    }
    const token = bearerToken(request.headers.get("authorization"));
    const index = token === undefined ? -1 : matchKey(digests, token);
    if (index !== -1) {
      // A client key's id goes in the scrape's finish record, as on the routes the guard checks.
      if (digests === r.keyDigests) letInWith(set, r.keys[index]!);
      return;
    }
    failures?.fail(address());
    throw invalidApiKey(token === undefined ? MISSING_KEY : WRONG_KEY);
  }

  return new Elysia({ name: "metrics" }).get(
    "/metrics",
    async ({ request, set }) => {
      authorize(request, set);
      await stats.recordsOut(RECORDS_WAIT_MS);
      return new Response(await metrics.scrape(), { headers: { "content-type": METRICS_CONTENT_TYPE } });
    },
    {
      detail: {
        summary: "Prometheus metrics",
        description:
          "Requests, latency, tokens, upstream attempts, retries, fallbacks, cooldowns, truncated streams, rate-limited requests, requests in flight, memory and event-loop lag, in Prometheus' text format. Needs CHATGATE_METRICS_KEY when it is set, else a client key when there are any. A scrape does not count against any rate limit.",
        tags: ["chatgate"],
        responses: {
          200: { description: "Every metric, read now", content: { [METRICS_CONTENT_TYPE]: { schema: { type: "string" } } } },
          401: errorResponse("Missing or wrong metrics key (or client key)"),
          429: errorResponse("Too many failed key attempts from this address"),
        },
      },
    },
  );
}
