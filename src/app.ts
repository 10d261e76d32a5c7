import { Elysia } from "elysia";
import type { Config } from "./config.ts";
import { ModelEntry } from "./config/file-schema.ts";
import { Gateway } from "./gateway/gateway.ts";
import { TargetHealth } from "./gateway/health.ts";
import { RouteTable } from "./gateway/route-table.ts";
import { Router } from "./gateway/router.ts";
import { sleep } from "./gateway/sleep.ts";
import { chatRoutes } from "./http/chat.ts";
import { ConnectionTimeouts } from "./http/connection.ts";
import { Answering } from "./http/tracked.ts";
import { docs } from "./http/docs.ts";
import { guard } from "./http/guard.ts";
import { onError, unrouted, type KnownRoute } from "./http/on-error.ts";
import { opsRoutes, publicRoutes } from "./http/ops.ts";
import { simpleChatRoutes } from "./http/simple-chat.ts";
import { Stats } from "./obs/stats.ts";
import { createProviders } from "./providers/registry.ts";
import { AuthFailures } from "./auth/failures.ts";
import { MemoryCounters } from "./state/counters.ts";
import { Limiter } from "./state/limiter.ts";

/** What tests inject: the upstream `fetch`, and the clock, sleep and random source of every policy. */
export interface AppOverrides {
  fetch?: typeof fetch;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
}

/**
 * The composition root: builds every dependency once and mounts the HTTP layer in pipeline order
 * (errors → auth and limits → routes). Nothing here listens; `main.ts` does.
 */
export function createApp(config: Config, overrides: AppOverrides = {}) {
  const stats = new Stats();
  const now = overrides.now ?? Date.now;
  const providers = createProviders(config, overrides.fetch);
  const routes = new Map(Object.entries(config.models).map(([name, route]) => [name, { name, ...route }]));
  const health = new TargetHealth({ after: config.cooldownAfter > 0 ? config.cooldownAfter : Number.POSITIVE_INFINITY, cooldownMs: config.cooldownMs }, now);
  const direct = { implicit: config.resume, maxResumes: ModelEntry.properties.max_resumes.default as number };
  const router = new Router(providers, new RouteTable(providers, routes, direct), {
    providers, health, retries: config.retries, maxRetryWaitMs: config.maxRetryWaitMs, now,
    sleep: overrides.sleep ?? sleep, random: overrides.random ?? Math.random,
  });
  const gateway = new Gateway(router, stats, now, config.timeoutMs);
  const limiter =
    config.rateLimitMax > 0 ? new Limiter(new MemoryCounters({ limit: config.rateLimitMax }), config.rateLimitMax, config.rateLimitWindowMs, overrides.now) : undefined;
  const failures =
    config.authFailureLimit > 0 && config.apiKeyDigests.length > 0
      ? new AuthFailures(new MemoryCounters({ limit: config.authFailureLimit }), config.authFailureLimit, overrides.now)
      : undefined;
  const answering = new Answering(new ConnectionTimeouts(() => app.server, config.idleConnectionTimeoutS), config.streamHeartbeatMs, config.streamIdleTimeoutMs);
  const app = new Elysia({
    // Bodies are parsed and checked by our own parser; Elysia must neither strip unknown fields
    // nor refuse big bodies before we can answer with an OpenAI-shaped 413.
    normalize: false,
    // Bun's own limit answers 413 with an empty body; ours (in the parser) answers OpenAI-shaped,
    // checking Content-Length before reading and counting chunked bodies as they arrive.
    // Bun's router matches every route (Elysia registers them in `routes`); what it does not match
    // goes to our catch-all, never to Elysia's fallback router (see `unrouted`).
    // reusePort off (Elysia turns it on): a second chatgate on a busy port must fail to start,
    // not silently take half the connections.
    serve: { reusePort: false, idleTimeout: config.idleConnectionTimeoutS, maxRequestBodySize: Math.max(config.maxBodyBytes * 4, 1 << 30), routes: { "/*": unrouted((): readonly KnownRoute[] => app.routes, stats, gateway.finishes) } },
    // Elysia otherwise takes the path to start after the 11th character of the URL, wrong for a
    // short Host (`Host: a`); with the catch-all above this matters only for the context's path.
    handler: { standardHostname: false },
  });
  app
    .use(onError(stats, gateway.finishes))
    // Public: mounted before the guard. Every route mounted after it needs a key (when keys are set).
    .use(publicRoutes())
    .use(docs())
    .use(guard({ keyDigests: config.apiKeyDigests, limiter, failures, trustProxy: config.trustProxy, stats, server: () => app.server }))
    .use(opsRoutes(gateway, router, stats))
    .use(chatRoutes(gateway, answering, config.maxBodyBytes))
    .use(simpleChatRoutes(gateway, answering, config.maxBodyBytes, config.defaultModel));
  return { app, stats, gateway, router };
}

export type App = ReturnType<typeof createApp>;
