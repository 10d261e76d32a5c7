import type { Server } from "bun";
import { Elysia } from "elysia";
import { clientAddress } from "../auth/client-address.ts";
import { tooManyFailures, type AuthFailures } from "../auth/failures.ts";
import { bearerToken, matchKey } from "../auth/keys.ts";
import { invalidApiKey, rateLimited } from "../errors.ts";
import type { Client } from "../gateway/gateway.ts";
import type { ClientKey } from "../keys/client-key.ts";
import { keyRequestsLimited } from "../keys/key-errors.ts";
import { requestHeaders } from "../keys/rate-headers.ts";
import type { Stats } from "../obs/stats.ts";
import type { Live } from "../live.ts";
import type { MaybePromise, WindowCount } from "../state/counters.ts";
import type { LimitDecision, Limiter } from "../state/limiter.ts";

/** What a config reload replaces: the keys and limits a new request is checked against. */
export interface GuardPolicy {
  /** Digests of the client keys; empty turns client auth off. */
  keyDigests: readonly Uint8Array[];
  /** The key of each digest, index for index: its id (in logs and the ledger), limits and models. */
  keys: readonly ClientKey[];
  /** The global per-client request limit; undefined turns it off. A key with its own rpm is counted by that instead. */
  limiter: Limiter<MaybePromise<WindowCount>> | undefined;
  /** Failed key attempts per client address; undefined turns that limit off. */
  failures: AuthFailures | undefined;
  /** Read `X-Forwarded-For` for the client address (only behind a proxy you run). */
  trustProxy: boolean;
}

/** The policy as the guard (and /metrics' key check) reads it. */
export type GuardRules = GuardPolicy;

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
/** The client key the request was let in with, on `set` like GUARDED. */
const KEY = Symbol("chatgate.key");

interface ResponseSet {
  headers: Record<string, unknown>;
  [GUARDED]?: true;
  [KEY]?: ClientKey;
}

/** The id of the client key this request came in with (`team-a`, `key-1`); null without client keys (or before the guard ran). */
export const keyIdOf = (set: object): string | null => (set as ResponseSet)[KEY]?.id ?? null;

/** Names the client key a route that checks keys itself (/metrics) let the request in with: its id goes in the finish record. */
export const letInWith = (set: object, key: ClientKey): void => void ((set as ResponseSet)[KEY] = key);

/** The models the request's key may use; undefined: any (or no client keys). */
export const keyModelsOf = (set: object): ReadonlySet<string> | undefined => (set as ResponseSet)[KEY]?.models;

/**
 * Who the gateway serves this request for: its key, with this response's headers when the key's
 * tokens or spend are metered (admission writes the token limits there); null without client keys.
 */
export function clientOf(set: object): Client | null {
  const r = set as ResponseSet;
  return r[KEY]?.forRequest(r.headers) ?? null;
}

/** The headers of a key's own request limit, and its 429 when over. */
function admitRequest(headers: Record<string, unknown>, decision: LimitDecision, key: ClientKey): void | Promise<void> {
  requestHeaders(headers, decision);
  if (!decision.allowed) return refuse(headers, keyRequestsLimited(key.id, decision.limit, decision.resetMs), key);
}

/** The headers of the global per-client limit, and its 429 when over. */
function admitClient(headers: Record<string, unknown>, decision: LimitDecision, key: ClientKey | undefined): void | Promise<void> {
  requestHeaders(headers, decision);
  if (!decision.allowed) return refuse(headers, rateLimited(decision.limit, decision.resetMs), key);
}

/** Throws `refused`, after writing the key's token headers when it has a tpm: OpenAI's 429s carry all six. */
function refuse(headers: Record<string, unknown>, refused: Error, key: ClientKey | undefined): void | Promise<void> {
  const told = key?.tpm === undefined ? undefined : key.limits.tokenWindow(key, headers);
  if (told instanceof Promise) return told.finally(() => Promise.reject(refused));
  throw refused;
}

const MISSING_KEY = "Missing API key: send it as 'Authorization: Bearer <key>' (or 'x-api-key: <key>').";

/**
 * The client key a request carries: `Authorization: Bearer <key>`, else `x-api-key: <key>`, the
 * header Anthropic's SDKs and Claude Code send it in. Either is compared in constant time.
 */
function clientToken(headers: Headers): string | undefined {
  const bearer = bearerToken(headers.get("authorization"));
  if (bearer !== undefined) return bearer;
  const key = headers.get("x-api-key")?.trim();
  return key === undefined || key === "" ? undefined : key;
}
const WRONG_KEY = "Incorrect API key provided.";
/** An Authorization header that is not one bearer token (two headers joined, a key with a space, another scheme). */
const MALFORMED_KEY = "Malformed Authorization header: send one key as 'Authorization: Bearer <key>'.";

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
  const { stats } = options;
  const check = admission(options);
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

/**
 * The guard's checks as a function of a request and its `set`: the client key (when keys are set),
 * then the key's own rpm or the global per-client limit. For a route mounted before the guard that
 * takes a client key only sometimes (a webhook without a secret); afterwards `clientOf(set)` and
 * `keyIdOf(set)` answer as on a guarded route. Returns a promise only when Redis holds the counts.
 */
export function admission(options: Pick<GuardOptions, "rules" | "server">): (request: Request, set: { headers: Record<string, unknown> }) => void | Promise<void> {
  const { rules, server } = options;
  const addressOf = (r: GuardRules, request: Request) =>
    clientAddress(r.trustProxy ? request.headers.get("x-forwarded-for") : null, server()?.requestIP(request)?.address ?? "unknown");

  function authenticate(r: GuardRules, request: Request): ClientKey {
    const failures = r.failures;
    if (failures !== undefined && failures.anyBlocked()) {
      const wait = failures.blockedFor(addressOf(r, request));
      if (wait > 0) throw tooManyFailures(failures.limit, wait);
    }
    const token = clientToken(request.headers);
    const index = token === undefined ? -1 : matchKey(r.keyDigests, token);
    if (index === -1) {
      failures?.fail(addressOf(r, request));
      throw invalidApiKey(token !== undefined ? WRONG_KEY : request.headers.has("authorization") ? MALFORMED_KEY : MISSING_KEY);
    }
    return r.keys[index]!;
  }

  /** Returns a promise only when a networked store (Redis) holds the request counts. */
  function check(request: Request, set: ResponseSet): void | Promise<void> {
    if (set[GUARDED]) return;
    set[GUARDED] = true;
    const r = rules.current;
    let client: string;
    let key: ClientKey | undefined;
    if (r.keyDigests.length > 0) {
      const keyed = (key = set[KEY] = authenticate(r, request));
      // A key with its own rpm is counted by it, instead of the global per-client limit.
      if (keyed.rpm !== undefined) {
        const decision = keyed.limits.requests(keyed);
        if (decision instanceof Promise) return decision.then((d) => admitRequest(set.headers, d, keyed));
        return admitRequest(set.headers, decision, keyed);
      }
      client = keyed.limitedAs;
    } else client = `ip:${addressOf(r, request)}`;
    const limiter = r.limiter;
    if (limiter === undefined) return;
    const decision = limiter.hit(client);
    if (decision instanceof Promise) return decision.then((d) => admitClient(set.headers, d, key));
    return admitClient(set.headers, decision, key);
  }

  return check;
}
