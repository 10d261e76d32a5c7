import { Elysia } from "elysia";
import type { Finishes } from "../gateway/finish.ts";
import { answeredRecord } from "../gateway/run.ts";
import { requestPath } from "./on-error.ts";
import { REQUEST_ID, requestIdFor } from "./request-id.ts";

/**
 * Request headers a browser page may send: the ones our API reads, and every one the official
 * `openai` SDK adds (node_modules/openai: client.ts `buildHeaders`, internal/detect-platform.ts,
 * the polling helpers; `x-stainless-async` and `-read-timeout` are the Python SDK's, for pages
 * built on its wire traces). A preflight asking for others gets them too (see `allowHeaders`).
 */
export const CORS_ALLOW_HEADERS: readonly string[] = [
  "authorization", "content-type", "accept", "x-request-id",
  "x-stainless-arch", "x-stainless-async", "x-stainless-custom-poll-interval", "x-stainless-helper-method",
  "x-stainless-lang", "x-stainless-os", "x-stainless-package-version", "x-stainless-poll-helper",
  "x-stainless-read-timeout", "x-stainless-retry-count", "x-stainless-runtime", "x-stainless-runtime-version",
  "x-stainless-timeout",
  "openai-organization", "openai-project", "openai-beta", "idempotency-key",
];

/** Response headers a page may read: a cross-origin page sees none but the safelisted few unless named here. */
export const CORS_EXPOSE_HEADERS: readonly string[] = [
  "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
  "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
  "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens",
  "x-request-id",
  "x-chatgate-provider", "x-chatgate-model", "x-chatgate-attempts", "x-chatgate-dropped-params", "x-chatgate-cache",
  "retry-after",
];

/** Every method the API serves; a preflight for another (DELETE) is refused by the browser, as it should be. */
export const CORS_ALLOW_METHODS = "GET, HEAD, POST, OPTIONS";

/**
 * How long a browser may reuse a preflight's answer: 2 h, Chromium's cap (Firefox allows 24 h).
 * A longer cache means fewer preflights; an origin removed later is still refused, since every
 * actual response is checked again.
 */
const MAX_AGE_S = "7200";

/** A header name as Fetch's `token` production has it: what may be echoed back into a header. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

type CorsHeaders = Record<string, string>;

/**
 * Which browser origins may call the gateway, and the CORS headers each answer gets. Every header
 * object is built here, once: a request costs one `Origin` lookup and a few header sets.
 *
 * Any origin (`*`) answers `Access-Control-Allow-Origin: *`, which browsers honour only for
 * requests without credentials (cookies): ours carry a bearer key in a header instead, which is not
 * a credential in that sense, so `*` is enough and Allow-Credentials is never sent. A list answers
 * an allowed request's own Origin and `Vary: Origin` on every response (allowed or not), so a cache
 * never hands one origin's answer to another.
 */
export class CorsPolicy {
  private readonly any: boolean;
  /** Origin → the headers of an actual (not preflight) response to it. */
  private readonly allowed = new Map<string, CorsHeaders>();
  private readonly anyHeaders: CorsHeaders;

  constructor(origins: readonly string[]) {
    this.any = origins.includes("*");
    const expose = CORS_EXPOSE_HEADERS.join(", ");
    this.anyHeaders = { "access-control-allow-origin": "*", "access-control-expose-headers": expose };
    for (const origin of origins) {
      this.allowed.set(origin, { "access-control-allow-origin": origin, "access-control-expose-headers": expose, vary: "Origin" });
    }
  }

  /**
   * The CORS headers for a response to a request from `origin` (its `Origin` header). `*` answers
   * every request, even one without `Origin` (curl, a server): that costs nothing and helps a
   * cache. A list answers only its own origins; anyone else gets `Vary: Origin` alone, so the
   * browser refuses the page the response.
   */
  headersFor(origin: string | null): CorsHeaders {
    if (this.any) return this.anyHeaders;
    return (origin !== null && this.allowed.get(origin)) || VARY_ONLY;
  }

  /**
   * The answer to a CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`),
   * or undefined for any other request. It needs no key (browsers never send one on a preflight)
   * and is never counted against a rate limit. Every path gets it, unknown ones too, so the page's
   * actual request then reads the real 404 or 405 instead of an opaque CORS failure. A disallowed
   * origin gets 204 without `Access-Control-Allow-Origin`: the browser stops there.
   */
  preflight(request: Request): Response | undefined {
    if (request.method !== "OPTIONS") return undefined;
    const origin = request.headers.get("origin");
    const method = request.headers.get("access-control-request-method");
    if (origin === null || method === null) return undefined;
    const allow = this.headersFor(origin)["access-control-allow-origin"];
    if (allow === undefined) return new Response(null, { status: 204, headers: VARY_ONLY });
    const headers: CorsHeaders = {
      "access-control-allow-origin": allow,
      "access-control-allow-methods": CORS_ALLOW_METHODS,
      "access-control-allow-headers": allowHeaders(request.headers.get("access-control-request-headers")),
      "access-control-max-age": MAX_AGE_S,
    };
    if (!this.any) headers.vary = "Origin";
    return new Response(null, { status: 204, headers });
  }
}

const VARY_ONLY: CorsHeaders = { vary: "Origin" };
const ALLOW_HEADERS = CORS_ALLOW_HEADERS.join(", ");

/**
 * Our list, plus whatever else the preflight asks for: a newer SDK may add a header we have not
 * listed, and refusing it would break every request that page makes. Letting any header through
 * costs no safety here: nothing in the gateway trusts a request more for carrying a custom header.
 */
function allowHeaders(requested: string | null): string {
  if (requested === null) return ALLOW_HEADERS;
  let extra = "";
  for (const raw of requested.split(",")) {
    const name = raw.trim().toLowerCase();
    if (TOKEN.test(name) && !CORS_ALLOW_HEADERS.includes(name)) extra += `, ${name}`;
  }
  return ALLOW_HEADERS + extra;
}

/**
 * Puts the CORS headers on every answer Elysia gives: routes, streams, and errors (`onError` copies
 * them onto the response it builds). Preflights never reach Elysia (no route takes OPTIONS): the
 * catch-all `unrouted` answers them, with `CorsPolicy.preflight`. Undefined (CORS off) mounts an
 * empty plugin, with no hook at all, so the hot path pays nothing.
 */
export function cors(policy: CorsPolicy | undefined) {
  const plugin = new Elysia({ name: "cors" });
  if (policy === undefined) return plugin;
  return plugin.onRequest(({ request, set }) => {
    Object.assign(set.headers, policy.headersFor(request.headers.get("origin")));
  });
}

/**
 * Wraps the catch-all that answers what Bun's router did not match (`unrouted`: 404, 405, 308), where
 * no Elysia hook runs: it answers preflights, and puts the CORS headers on everything else it
 * answers. Undefined (CORS off) gives the handler back as it is.
 */
export function withCors(handler: (request: Request) => Response, policy: CorsPolicy | undefined, finishes: Finishes): (request: Request) => Response {
  if (policy === undefined) return handler;
  return (request) => {
    const preflight = policy.preflight(request);
    if (preflight !== undefined) {
      // Every answer carries an id, a preflight too (it never reaches the hook that gives the others theirs).
      const id = requestIdFor(request.headers.get(REQUEST_ID));
      preflight.headers.set(REQUEST_ID, id);
      // And its one finish record, as every answer has: no key is looked at, nothing is routed.
      finishes.emit(answeredRecord(requestPath(request.url), preflight.status, id, null, 0));
      return preflight;
    }
    const response = handler(request);
    for (const [name, value] of Object.entries(policy.headersFor(request.headers.get("origin")))) response.headers.set(name, value);
    return response;
  };
}
