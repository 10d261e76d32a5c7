import type { Server } from "bun";
import { Type } from "@sinclair/typebox";
import { Elysia } from "elysia";
import { clientAddress } from "../auth/client-address.ts";
import { AuthFailures, tooManyFailures } from "../auth/failures.ts";
import { bearerToken, matchKey } from "../auth/keys.ts";
import { GatewayError, invalidApiKey, invalidRequest, notFound } from "../errors.ts";
import type { Ledger } from "../ledger/ledger.ts";
import { isUsageParamError, parseUsageQuery, type UsageParams } from "../ledger/usage-query.ts";
import { GROUP_BYS, usageJson, usageReport } from "../ledger/usage-report.ts";
import type { Live } from "../live.ts";
import { MemoryCounters } from "../state/counters.ts";
import type { GuardRules } from "./guard.ts";
import { errorResponse, jsonContent } from "./openapi-doc.ts";
import { RECORDS_WAIT_MS, type Stats } from "../obs/stats.ts";

export interface UsageRouteOptions {
  /** This instance's ledger; undefined when it is off (CHATGATE_LEDGER=0). */
  ledger: Ledger | undefined;
  /** Digests of CHATGATE_ADMIN_KEY: the only keys the report takes. Empty: the report is off. */
  adminKeys: readonly Uint8Array[];
  /** The guard's current rules: the client keys (told apart from wrong keys) and the failed-key limit. */
  rules: Live<GuardRules>;
  server: () => Server<unknown> | null;
  /** Records still waiting for their usage count: a report waits a moment for them (RECORDS_WAIT_MS). */
  stats: Stats;
  /**
   * Failed key attempts per address per minute when the guard counts none (no client keys): the
   * admin key is guarded either way. 0 turns that off, as CHATGATE_AUTH_FAILURE_LIMIT=0 does.
   */
  authFailureLimit: number;
  now?: () => number;
}

const PARAMS = ["from", "to", "group_by"] as const;

const forbidden = (code: string, message: string) => new GatewayError({ status: 403, type: "invalid_request_error", code, message });

const NO_ADMIN_KEY = forbidden(
  "admin_key_not_configured",
  "The usage report is off: it needs an admin key. Set CHATGATE_ADMIN_KEY (a key of its own, or sha256:<hex> of it) and restart chatgate, then send it as 'Authorization: Bearer <admin key>'.",
);
const CLIENT_KEY = forbidden(
  "insufficient_permissions",
  "This is a client key: GET /v1/usage takes the admin key (CHATGATE_ADMIN_KEY) only.",
);
const LEDGER_OFF = notFound(
  "The usage ledger is off (CHATGATE_LEDGER=0), so there is no usage to report. Unset CHATGATE_LEDGER and restart chatgate to record usage.",
  "usage_ledger_off",
);

/** Totals, as `usageJson` writes them: for the OpenAPI document only. */
const Totals = {
  requests: Type.Integer(),
  errors: Type.Integer({ description: "outcome error or truncated" }),
  aborted: Type.Integer({ description: "the client went away" }),
  cache_hits: Type.Integer(),
  usage_estimated: Type.Integer({ description: "requests whose token counts are a tokenizer's estimate" }),
  prompt_tokens: Type.Integer(),
  completion_tokens: Type.Integer(),
  cached_prompt_tokens: Type.Integer(),
  cost_usd: Type.Number({ description: "the sum of the known costs" }),
  cost_unknown: Type.Integer({ description: "requests whose cost is unknown (a model without a price): not in cost_usd" }),
};
const UsageReport = Type.Object({
  object: Type.Literal("usage_report"),
  from: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  to: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  group_by: Type.Union(GROUP_BYS.map((g) => Type.Literal(g))),
  rows: Type.Array(Type.Object({ group: Type.Union([Type.String(), Type.Null()]), ...Totals })),
  total: Type.Object(Totals),
});

/**
 * GET /v1/usage: this instance's ledger, summed per key, model, provider or day. Mounted before the
 * guard (a report never counts against a client's rate limit) with a key check of its own: the
 * admin key only. No key is a 401, as on every route that takes one. Without CHATGATE_ADMIN_KEY a
 * request with a key gets 403 saying how to turn the report on; a client key gets 403 (it is a good
 * key, for other routes); any other key 401, counted as a failed key attempt from its address as on
 * every route that takes a key. Pending rows are written first, so a request that has finished is
 * in the report.
 */
export function usageRoute(options: UsageRouteOptions) {
  const { ledger, adminKeys, rules, server, authFailureLimit, stats } = options;
  const own = adminKeys.length > 0 && authFailureLimit > 0 ? new AuthFailures(new MemoryCounters({ limit: authFailureLimit }), authFailureLimit, options.now) : undefined;

  function authorize(request: Request): void {
    const r = rules.current;
    const address = () => clientAddress(r.trustProxy ? request.headers.get("x-forwarded-for") : null, server()?.requestIP(request)?.address ?? "unknown");
    const failures = r.failures ?? own;
    if (failures !== undefined && failures.anyBlocked()) {
      const wait = failures.blockedFor(address());
      if (wait > 0) throw tooManyFailures(failures.limit, wait);
    }
    const token = bearerToken(request.headers.get("authorization"));
    // No key is a 401 as on every route that takes one; a key, when none could be right, is told how to turn the report on.
    if (token !== undefined && adminKeys.length === 0) throw NO_ADMIN_KEY;
    if (token !== undefined && matchKey(adminKeys, token) !== -1) return;
    if (token !== undefined && r.keyDigests.length > 0 && matchKey(r.keyDigests, token) !== -1) throw CLIENT_KEY;
    failures?.fail(address());
    throw invalidApiKey(token === undefined ? "Missing admin key: send CHATGATE_ADMIN_KEY as 'Authorization: Bearer <key>'." : "Incorrect admin key provided.");
  }

  return new Elysia({ name: "usage" }).get(
    "/v1/usage",
    async ({ request }) => {
      authorize(request);
      if (ledger === undefined) throw LEDGER_OFF;
      const query = parseUsageQuery(queryParams(request.url));
      if (isUsageParamError(query)) throw invalidRequest(`Invalid value for '${query.param}': ${query.message}.`, query.param);
      await stats.recordsOut(RECORDS_WAIT_MS);
      ledger.flush();
      return Response.json(usageJson(query, usageReport(ledger.db, query)));
    },
    {
      detail: {
        summary: "Usage report: requests, errors, tokens and cost from this instance's ledger",
        description:
          "Sums the usage ledger of this chatgate instance (each instance keeps its own) over [from, to), per client key id, public model, provider or UTC day. Takes the admin key (CHATGATE_ADMIN_KEY) only: without one configured, a request with a key gets 403. Costs of requests whose model has no price are left out of cost_usd and counted in cost_unknown. Rows still pending are written first.",
        tags: ["chatgate"],
        parameters: [
          { name: "from", in: "query", schema: { type: "string" }, description: "first day or time included: 2026-12-01 or 2026-12-01T09:30:00Z (default: the oldest row kept)" },
          { name: "to", in: "query", schema: { type: "string" }, description: "last day included (2026-12-07), or the time the period ends before (default: now)" },
          { name: "group_by", in: "query", schema: { type: "string", enum: [...GROUP_BYS], default: "model" } },
        ],
        responses: {
          200: { description: "One row per group, and the total", content: jsonContent(UsageReport) },
          400: errorResponse("A parameter that cannot be read (named in `param`)"),
          401: errorResponse("No key, or a wrong one"),
          403: errorResponse("A client key, or any key while no CHATGATE_ADMIN_KEY is configured"),
          404: errorResponse("The usage ledger is off (CHATGATE_LEDGER=0)"),
          429: errorResponse("Too many failed key attempts from this address"),
        },
      },
    },
  );
}

/** The query string's parameters; an unknown or repeated one is a 400 rather than silently ignored. */
function queryParams(url: string): UsageParams {
  const at = url.indexOf("?");
  const params: UsageParams = {};
  if (at === -1) return params;
  for (const [name, value] of new URLSearchParams(url.slice(at + 1))) {
    if (!(PARAMS as readonly string[]).includes(name)) {
      throw invalidRequest(`Unrecognized query parameter: '${name}' (the parameters are from, to and group_by).`, name);
    }
    const key = name as (typeof PARAMS)[number];
    if (params[key] !== undefined) throw invalidRequest(`Parameter '${name}' given more than once.`, name);
    params[key] = value;
  }
  return params;
}
