import type { Provider } from "../providers/provider.ts";
import type { Providers } from "../providers/registry.ts";
import { firstSuccess, type AttemptDeps, type Chain } from "./attempts.ts";
import type { TargetHealth } from "./health.ts";
import type { ResumeDeps } from "./resume.ts";
import { RouteTable, type Route, type Target } from "./route-table.ts";

/**
 * Model → targets → an answer: resolves the public name through the route table, then tries its
 * targets under the resilience policy (retries, fallback, cooldown). Returns which target answered;
 * the attempts go on the chain for the finish record. Never logs.
 */
export class Router {
  /** Every provider, in configuration order (what /status lists). */
  readonly all: Provider[];
  /** Each target's health, for /status. */
  readonly health: TargetHealth;
  /** What stream resume needs: the same providers, health and retries as the attempts. */
  readonly resume: ResumeDeps;

  constructor(
    readonly providers: Providers,
    readonly table: RouteTable,
    private readonly deps: AttemptDeps,
    log: (line: string) => void = (line) => console.error(line),
  ) {
    this.all = [...providers.values()];
    this.health = deps.health;
    this.resume = { providers, health: deps.health, retries: deps.retries, now: deps.now, unable: new Set(), log };
  }

  resolve(model: string): Route {
    return this.table.resolve(model);
  }

  run<T>(route: Route, chain: Chain, call: (provider: Provider, target: Target) => Promise<T>): Promise<{ value: T; target: Target }> {
    return firstSuccess(route, chain, this.deps, call);
  }
}
