import { Elysia } from "elysia";
import { buildCache } from "./cache/build-cache.ts";
import { refuseOpenExposure, type Config } from "./config.ts";
import { Gateway } from "./gateway/gateway.ts";
import type { CooldownEvent } from "./gateway/health.ts";
import { chatRoutes } from "./http/chat.ts";
import { embeddingsRoutes } from "./http/embeddings.ts";
import { ConnectionTimeouts } from "./http/connection.ts";
import { cors, CorsPolicy, withCors } from "./http/cors.ts";
import { Answering } from "./http/tracked.ts";
import { docs } from "./http/docs.ts";
import { admission, guard } from "./http/guard.ts";
import { hooksRoute } from "./http/hooks-route.ts";
import { Channels } from "./hooks/channels.ts";
import { countTokensRoute, messagesRoutes } from "./http/messages.ts";
import { metricsRoute } from "./http/metrics-route.ts";
import { responsesRoutes } from "./http/responses.ts";
import { usageRoute } from "./http/usage-route.ts";
import { attachLedger } from "./ledger/attach.ts";
import type { Ledger } from "./ledger/ledger.ts";
import { spendSince } from "./ledger/spend.ts";
import { onError, unrouted, type KnownRoute } from "./http/on-error.ts";
import { opsRoutes, publicRoutes } from "./http/ops.ts";
import { recorded } from "./http/recorded.ts";
import { requestIds } from "./http/request-id.ts";
import { simpleChatRoutes } from "./http/simple-chat.ts";
import { attachTracing } from "./obs/attach-tracing.ts";
import { Metrics } from "./obs/metrics.ts";
import { traceStarter } from "./obs/trace-context.ts";
import { Stats } from "./obs/stats.ts";
import { raiseSpend, seedSpend } from "./keys/key-limits.ts";
import { periodStart, type BudgetPeriod } from "./keys/periods.ts";
import { MemoryCounters, type Counters } from "./state/counters.ts";
import { redisShared } from "./state/redis-shared.ts";
import { carried, generation, type AppOverrides } from "./generation.ts";
import { Live } from "./live.ts";
import { keepRestartOnly, reloadSummary, type ReloadState } from "./reload.ts";

/**
 * The composition root: builds every dependency once and mounts the HTTP layer in pipeline order
 * (errors → auth and limits → routes). Nothing here listens; `main.ts` does.
 */
export function createApp(config: Config, overrides: AppOverrides = {}) {
  const stats = new Stats();
  const now = overrides.now ?? Date.now;
  let running = config;
  /** Who hears of targets entering and leaving cooldown (the log, metrics), whichever health object is current: add to it. */
  const cooldowns = new Set<(event: CooldownEvent) => void>();
  const onCooldown = (event: CooldownEvent) => {
    for (const listener of cooldowns) listener(event);
  };
  // The client keys' request, token and spend counters: one store for the process's life, which
  // every config generation reads (a counter carries over a reload while its key's limit stays).
  // CHATGATE_REDIS_URL: those counters, the global per-client limit's and the cache's answers live
  // in Redis instead, shared by every instance; the ledger stays this instance's own.
  const redis = config.redisUrl !== undefined ? redisShared(config) : undefined;
  const keyCounters: Counters = redis?.counters ?? new MemoryCounters({ limit: Number.POSITIVE_INFINITY });
  const start = generation(config, overrides, { keyCounters, shared: redis?.counters }, onCooldown);
  const gateway = new Gateway(start.router, stats, now, config.timeoutMs);
  gateway.cache = buildCache(config, undefined, now, redis?.cacheStore);
  // metrics: counted from the same finish records and cooldown events as the log, served at /metrics.
  const metrics = new Metrics({ stats, config: () => running, health: () => gateway.router.health, redis: redis?.connection });
  gateway.finishes.subscribe(metrics.record);
  cooldowns.add(metrics.countCooldown);
  // The usage ledger: a row per finish record, written off the request path. Off: not opened, no listener.
  const ledger = config.ledger ? attachLedger({ finishes: gateway.finishes, config: () => running, now }) : undefined;
  // Tracing: a span per finish record, exported off the request path. Off: nothing loaded, no listener.
  const tracing = config.otlpEndpoint === undefined ? undefined
    : attachTracing({ finishes: gateway.finishes, url: config.otlpEndpoint, headers: config.otlpHeaders, sample: config.otlpSample, provider: (id) => gateway.router.providers.get(id) });
  if (tracing !== undefined) gateway.traces = traceStarter(config.otlpSample, overrides.random);
  const rules = new Live(start.guard);
  let lastReload: ReloadState | undefined;
  // Webhook channels: built once a config has hooks (at start or by a reload); without any, nothing of them runs.
  let channels: Channels | undefined;
  const updateChannels = (c: Config) => {
    if (channels === undefined && Object.keys(c.hooks).length === 0) return;
    (channels ??= new Channels({ gateway, now, shared: redis?.counters })).update(c.hooks);
  };
  updateChannels(config);

  /**
   * Applies a config parsed anew (a SIGHUP): new requests see the new providers, routes, keys and
   * limits; requests in flight keep the router they started with. Target health and the limiters'
   * counters carry over where their own settings did not change. Returns the line to log.
   */
  function reload(parsed: Config): string {
    const { config: next, needRestart } = keepRestartOnly(running, parsed);
    // The listener keeps its address: a file that drops the keys must not leave it open.
    refuseOpenExposure(next);
    const previous = { health: gateway.router.health, guard: rules.current };
    const built = generation(next, overrides, { ...carried(running, next, previous), keyCounters, shared: redis?.counters }, onCooldown);
    gateway.router = built.router;
    gateway.timeoutMs = next.timeoutMs;
    gateway.cache = buildCache(next, gateway.cache, now, redis?.cacheStore);
    rules.current = built.guard;
    updateChannels(next);
    if (ledger !== undefined && redis === undefined) countNewBudgets(running, next, ledger.ledger);
    const line = reloadSummary(running, next, needRestart);
    running = next;
    lastReload = { at: new Date(now()).toISOString(), ok: true, error: null };
    return line;
  }
  /**
   * A budget the reload gives a key, or a new period for one, counts from the key's spend in that
   * period as the ledger holds it, as a restart would: its counter did not count it.
   */
  function countNewBudgets(before: Config, after: Config, ledger: Ledger): void {
    let flushed = false;
    for (const key of after.clientKeys) {
      if (key.budget === undefined) continue;
      if (before.clientKeys.find((k) => k.id === key.id)?.budget?.period === key.budget.period) continue;
      // The ledger's rows so far, once, before the first read.
      if (!flushed) {
        ledger.flush();
        flushed = true;
      }
      const at = now();
      raiseSpend(keyCounters, at, key.id, key.budget.period, spendSince(ledger.db, key.id, periodStart(key.budget.period, at)));
    }
  }
  const rejected = (message: string): void => void (lastReload = { at: new Date(now()).toISOString(), ok: false, error: message });
  const current = () => running;
  // CORS is built once, at start: CHATGATE_CORS_ORIGINS comes from the environment, which a reload does not change.
  const corsPolicy = config.corsOrigins.length > 0 ? new CorsPolicy(config.corsOrigins) : undefined;
  // The routes that write no finish record of their own get one per answer from this wrapper.
  const record = recorded(gateway.finishes, now);
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
    serve: { reusePort: false, idleTimeout: config.idleConnectionTimeoutS, maxRequestBodySize: Math.max(config.maxBodyBytes * 4, 1 << 30), routes: { "/*": withCors(unrouted((): readonly KnownRoute[] => app.routes, stats, gateway.finishes), corsPolicy, gateway.finishes) } },
    // Elysia otherwise takes the path to start after the 11th character of the URL, wrong for a
    // short Host (`Host: a`); with the catch-all above this matters only for the context's path.
    handler: { standardHostname: false },
  });
  app
    // First: every answer, errors included, carries the request's id.
    .use(requestIds())
    // CORS headers on every answer Elysia gives (preflights go to the catch-all above); off: no hook.
    .use(cors(corsPolicy))
    .use(onError(stats, gateway.finishes))
    // Public: mounted before the guard. Every route mounted after it needs a key (when keys are set).
    .use(record(publicRoutes()))
    .use(record(docs()))
    // metrics: before the guard, so a scrape never counts against a rate limit; it checks keys itself.
    .use(record(metricsRoute({ metrics, metricsKeys: config.metricsKeyDigests, rules, server: () => app.server, stats })))
    // usage: before the guard too; it takes the admin key only.
    .use(record(usageRoute({ ledger: ledger?.ledger, adminKeys: config.adminKeyDigests, rules, server: () => app.server, authFailureLimit: config.authFailureLimit, now, stats })))
    // hooks: before the guard too; a signed hook takes no client key, one without a secret runs the guard's check itself.
    .use(hooksRoute({ channels: () => channels, admission: admission({ rules, server: () => app.server }), answering, gateway, maxBodyBytes: config.maxBodyBytes }))
    .use(guard({ rules, stats, server: () => app.server }))
    .use(record(opsRoutes(gateway, stats, () => lastReload, () => channels?.status())))
    .use(chatRoutes(gateway, answering, config.maxBodyBytes))
    .use(embeddingsRoutes(gateway, answering, config.maxBodyBytes))
    .use(messagesRoutes(gateway, answering, config.maxBodyBytes))
    .use(record(countTokensRoute(gateway, answering, config.maxBodyBytes)))
    .use(responsesRoutes(gateway, answering, config.maxBodyBytes, now))
    .use(simpleChatRoutes(gateway, answering, config.maxBodyBytes, config.defaultModel));
  /**
   * Adds spend known from elsewhere to a client key's counter for the current UTC `period`: how the
   * usage ledger makes budgets survive a restart. At start, before listening, for each budgeted
   * key of the config (`config.clientKeys`): `SUM(cost_usd)` of its rows (`key_id`) since
   * `periodStart(period, now)` (src/keys/periods.ts), NULL costs left out. Adds, never sets: call it
   * once per key and period, with rows this process has not counted itself.
   */
  const seed = (keyId: string, period: BudgetPeriod, usd: number) => seedSpend(keyCounters, now(), keyId, period, usd);
  // With Redis the spend is already counted there, by every instance: seeding it again from this
  // instance's ledger would count it twice.
  if (ledger !== undefined && redis === undefined) {
    // Budgets count from what the ledger holds for this period: a restart does not reset them.
    ledger.ledger.flush();
    for (const key of config.clientKeys) {
      if (key.budget !== undefined) seed(key.id, key.budget.period, spendSince(ledger.ledger.db, key.id, periodStart(key.budget.period, now())));
    }
  }
  // The router is `gateway.router`: the current one, which a reload replaces.
  // `settleShared`: what shutdown awaits so the key counters' last settlements reach Redis.
  const settleShared = redis === undefined ? undefined : () => redis.counters.flush();
  return { app, stats, gateway, reload, rejected, current, cooldowns, ledger, seedSpend: seed, redis: redis?.connection, settleShared, tracing };
}

export type App = ReturnType<typeof createApp>;
