import type { Server } from "bun";
import { Elysia } from "elysia";
import { clientAddress } from "../auth/client-address.ts";
import { tooManyFailures, type AuthFailures } from "../auth/failures.ts";
import { bearerToken, matchKey } from "../auth/keys.ts";
import { invalidApiKey, rateLimited } from "../errors.ts";
import type { Stats } from "../obs/stats.ts";
import type { Live } from "../live.ts";
import type { Limiter } from "../state/limiter.ts";

/** What a config reload replaces: the keys and limits a new request is checked against. */
export interface GuardPolicy {
  /** Digests of the client keys; empty turns client auth off. */
  keyDigests: readonly Uint8Array[];
  /** Undefined turns rate limiting off. */
  limiter: Limiter | undefined;
  /** Failed key attempts per client address; undefined turns that limit off. */
  failures: AuthFailures | undefined;
  /** Read `X-Forwarded-For` for the client address (only behind a proxy you run). */
  trustProxy: boolean;
}

/** A policy with its principal ids built once, so a request with a good key allocates none. */
export interface GuardRules extends GuardPolicy {
  keyIds: readonly string[];
}

/**
 * A client key's id in logs, metrics and limits: the first 12 hex digits of its SHA-256 digest. It
 * names the key without revealing it, and stays the same across reloads and reorderings.
 */
export const keyIdOfDigest = (digest: Uint8Array): string => Buffer.from(digest.subarray(0, 6)).toString("hex");

export function guardRules(policy: GuardPolicy): GuardRules {
  return { ...policy, keyIds: policy.keyDigests.map(keyIdOfDigest) };
}

export interface GuardOptions {
  /** Read once per request: a reload swaps it. */
  rules: Live<GuardRules>;
  stats: Stats;
  server: () => Server<unknown> | null;
}

/**
 * Set on a request's `set` once the guard has run, so it runs once whichever hook comes first. On
 * `set`, not the context: a hook that takes the whole context makes Elysia build every part of it
 * (headers, query, cookies) for every request.
 */
const GUARDED = Symbol("chatgate.guarded");
/** The id of the client key the request was let in with, on `set` like GUARDED. */
const KEY_ID = Symbol("chatgate.key-id");

interface ResponseSet {
  headers: Record<string, unknown>;
  [GUARDED]?: true;
  [KEY_ID]?: string;
}

/** The id of the client key this request came in with; null without client keys (or before the guard ran). */
export const keyIdOf = (set: object): string | null => (set as ResponseSet)[KEY_ID] ?? null;

const MISSING_KEY = "Missing API key: send it as 'Authorization: Bearer <key>'.";
const WRONG_KEY = "Incorrect API key provided.";

/**
 * Client keys, failed-key and request limits, for every route mounted after this plugin: the routes
 * mounted before it (`/`, `/health`, the docs) are the public ones.
 *
 * Which routes need a key is decided by the route the router matched, not by a parse of the URL of
 * our own: the checks are hooks of each protected route, compiled into that route's handler, so a
 * request reaches a protected handler only through them, whatever its Host header or request target
 * looked like. They run before the body is read: on `parse` for routes with a body (the first
 * parser, which reads nothing and passes on) and on `transform` for the others (GET, HEAD), so a bad
 * key is a 401 whatever the body — a huge one is never read — and a client over its limit costs us
 * no parsing.
 */
export function guard(options: GuardOptions) {
  const { rules, stats, server } = options;
  const addressOf = (r: GuardRules, request: Request) =>
    clientAddress(r.trustProxy ? request.headers.get("x-forwarded-for") : null, server()?.requestIP(request)?.address ?? "unknown");

  function authenticate(r: GuardRules, request: Request): string {
    const failures = r.failures;
    if (failures !== undefined && failures.anyBlocked()) {
      const wait = failures.blockedFor(addressOf(r, request));
      if (wait > 0) throw tooManyFailures(failures.limit, wait);
    }
    const token = bearerToken(request.headers.get("authorization"));
    const index = token === undefined ? -1 : matchKey(r.keyDigests, token);
    if (index === -1) {
      failures?.fail(addressOf(r, request));
      throw invalidApiKey(token === undefined ? MISSING_KEY : WRONG_KEY);
    }
    return r.keyIds[index]!;
  }

  function check(request: Request, set: ResponseSet): void {
    if (set[GUARDED]) return;
    set[GUARDED] = true;
    const r = rules.current;
    let client: string;
    if (r.keyDigests.length > 0) client = set[KEY_ID] = authenticate(r, request);
    else client = `ip:${addressOf(r, request)}`;
    const limiter = r.limiter;
    if (limiter === undefined) return;
    const decision = limiter.hit(client);
    set.headers["x-ratelimit-limit"] = String(decision.limit);
    set.headers["x-ratelimit-remaining"] = String(decision.remaining);
    set.headers["x-ratelimit-reset"] = String(Math.ceil(decision.resetMs / 1000));
    if (!decision.allowed) throw rateLimited(decision.limit, decision.resetMs);
  }

  return (
    new Elysia({ name: "guard" })
      // Every request that reaches a route, public ones included.
      .onRequest(() => {
        stats.total++;
      })
      // A parse hook that returns nothing lets the route's own parser read the body.
      .onParse({ as: "scoped" }, ({ request, set }) => check(request, set))
      .onTransform({ as: "scoped" }, ({ request, set }) => check(request, set))
  );
}
