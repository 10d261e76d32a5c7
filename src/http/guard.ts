import type { Server } from "bun";
import { Elysia } from "elysia";
import { clientAddress } from "../auth/client-address.ts";
import { bearerToken, matchKey } from "../auth/keys.ts";
import { invalidApiKey, rateLimited } from "../errors.ts";
import type { Stats } from "../obs/stats.ts";
import type { Limiter } from "../state/limiter.ts";

export interface GuardOptions {
  /** Digests of the client keys; empty turns client auth off. */
  keyDigests: readonly Uint8Array[];
  /** Undefined turns rate limiting off. */
  limiter: Limiter | undefined;
  /** Read `X-Forwarded-For` for the client address (only behind a proxy you run). */
  trustProxy: boolean;
  stats: Stats;
  server: () => Server<unknown> | null;
}

/** Routes anyone may call: liveness and the API docs. */
export const isPublic = (path: string) => path === "/health" || path === "/docs" || path.startsWith("/docs/");

function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start === -1) return "/";
  const query = url.indexOf("?", start);
  return url.substring(start, query === -1 ? undefined : query);
}

/**
 * Auth and limits run on `onRequest`, before the body is even read, so a bad key is a 401 whatever
 * the body (as on OpenAI) and a client over its limit costs us no parsing.
 */
export function guard(options: GuardOptions) {
  const { keyDigests, limiter, trustProxy, stats, server } = options;
  const authOn = keyDigests.length > 0;
  return new Elysia({ name: "guard" }).onRequest(({ request, set }) => {
    stats.total++;
    if (isPublic(pathOf(request.url))) return;
    let client: string;
    if (authOn) {
      const token = bearerToken(request.headers.get("authorization"));
      if (token === undefined) throw invalidApiKey("Missing API key: send it as 'Authorization: Bearer <key>'.");
      const index = matchKey(keyDigests, token);
      if (index === -1) throw invalidApiKey("Incorrect API key provided.");
      client = `key:${index}`;
    } else {
      const peer = server()?.requestIP(request)?.address ?? "unknown";
      client = `ip:${clientAddress(trustProxy ? request.headers.get("x-forwarded-for") : null, peer)}`;
    }
    if (limiter === undefined) return;
    const decision = limiter.hit(client);
    set.headers["x-ratelimit-limit"] = String(decision.limit);
    set.headers["x-ratelimit-remaining"] = String(decision.remaining);
    set.headers["x-ratelimit-reset"] = String(Math.ceil(decision.resetMs / 1000));
    if (!decision.allowed) throw rateLimited(decision.limit, decision.resetMs);
  });
}
