// One config's providers, routes, router and guard policy: what start-up builds and a reload
// (SIGHUP) builds anew and swaps in, keeping what the new config did not change.
import type { Config } from "./config.ts";
import { ModelEntry } from "./config/file-schema.ts";
import { TargetHealth, type CooldownEvent } from "./gateway/health.ts";
import { RouteTable } from "./gateway/route-table.ts";
import { Router } from "./gateway/router.ts";
import { sleep } from "./gateway/sleep.ts";
import type { GuardPolicy } from "./http/guard.ts";
import { AuthFailures } from "./auth/failures.ts";
import { priceLookup } from "./cost/target-prices.ts";
import { ClientKey } from "./keys/client-key.ts";
import { KeyLimits } from "./keys/key-limits.ts";
import { createProviders } from "./providers/registry.ts";
import { MemoryCounters, type Counters, type MaybePromise, type WindowCount } from "./state/counters.ts";
import { Limiter } from "./state/limiter.ts";

/** What tests inject: the upstream `fetch`, and the clock, sleep and random source of every policy. */
export interface AppOverrides {
  fetch?: typeof fetch;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
}

/** What a reload keeps from the running generation: objects whose settings are the same. */
export interface Carried {
  health?: TargetHealth;
  limiter?: Limiter<MaybePromise<WindowCount>>;
  failures?: AuthFailures;
  /** The Redis counters (CHATGATE_REDIS_URL): the global per-client limit counts there, not in memory. */
  shared?: Counters;
  /** Always kept: each key's counters are named with its limits (see ClientKey), so unchanged ones carry over. */
  keyCounters: Counters;
}

export function carried(old: Config, next: Config, previous: { health: TargetHealth; guard: GuardPolicy }): Omit<Carried, "keyCounters"> {
  const sameCooldown = old.cooldownAfter === next.cooldownAfter && old.cooldownMs === next.cooldownMs;
  const sameLimit = old.rateLimitMax === next.rateLimitMax && old.rateLimitWindowMs === next.rateLimitWindowMs;
  if (sameCooldown) previous.health.keepProviders(new Set(next.providers.map((p) => p.id)));
  return {
    health: sameCooldown ? previous.health : undefined,
    limiter: sameLimit ? previous.guard.limiter : undefined,
    failures: old.authFailureLimit === next.authFailureLimit ? previous.guard.failures : undefined,
  };
}

/** One config's providers, routes, router and guard policy: what a reload builds anew and swaps in. */
export function generation(config: Config, overrides: AppOverrides, keep: Carried, onCooldown: (event: CooldownEvent) => void) {
  const now = overrides.now ?? Date.now;
  const providers = createProviders(config, overrides.fetch);
  const routes = new Map(Object.entries(config.models).map(([name, route]) => [name, { name, ...route }]));
  const health =
    keep.health ?? new TargetHealth({ after: config.cooldownAfter > 0 ? config.cooldownAfter : Number.POSITIVE_INFINITY, cooldownMs: config.cooldownMs }, now);
  health.onCooldown = onCooldown;
  const direct = { implicit: config.resume, maxResumes: ModelEntry.properties.max_resumes.default as number };
  const router = new Router(providers, new RouteTable(providers, routes, direct), {
    providers, health, retries: config.retries, maxRetryWaitMs: config.maxRetryWaitMs, now,
    sleep: overrides.sleep ?? sleep, random: overrides.random ?? Math.random,
  });
  const limiter =
    config.rateLimitMax > 0
      ? keep.limiter ?? new Limiter<MaybePromise<WindowCount>>(keep.shared ?? new MemoryCounters({ limit: config.rateLimitMax }), config.rateLimitMax, config.rateLimitWindowMs, overrides.now)
      : undefined;
  const failures =
    config.authFailureLimit > 0 && config.apiKeyDigests.length > 0
      ? keep.failures ?? new AuthFailures(new MemoryCounters({ limit: config.authFailureLimit }), config.authFailureLimit, overrides.now)
      : undefined;
  const keyLimits = new KeyLimits({ store: keep.keyCounters, now, prices: priceLookup(config), reserveCompletionTokens: config.reserveCompletionTokens });
  const keys = config.clientKeys.map((spec, i) => new ClientKey(spec, keyLimits, config.apiKeyDigests[i]));
  const guard: GuardPolicy = { keyDigests: config.apiKeyDigests, keys, limiter, failures, trustProxy: config.trustProxy };
  return { router, guard };
}
