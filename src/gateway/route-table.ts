import { modelNotFound, noProvider } from "../errors.ts";
import type { Provider } from "../providers/provider.ts";

/** One place a public model name can be served: a provider and the model name it knows. */
export interface Target {
  provider: string;
  model: string;
  /** Share of first picks on a weighted route. */
  weight: number;
}

export interface Route {
  /** The public name the client used. */
  name: string;
  strategy: "priority" | "weighted";
  targets: Target[];
}

export type Providers = ReadonlyMap<string, Provider>;

/**
 * Public model name → targets, from data: the configured routes, then `provider/model`, then a
 * provider that lists the name, then a provider that serves any name. Knows no provider type and
 * no model name of its own; a name nothing serves is a 404 before any upstream call, except where
 * a provider's list is not known yet (then that provider's own answer is the truth).
 */
export class RouteTable {
  /** Names already resolved to a provider's own model, so a hot name costs one lookup. Bounded. */
  private readonly memo = new Map<string, Route>();

  constructor(
    private readonly providers: Providers,
    private readonly routes: ReadonlyMap<string, Route>,
  ) {}

  /** The configured public names, for the model list. */
  get publicNames(): string[] {
    return [...this.routes.keys()];
  }

  resolve(name: string): Route {
    const configured = this.routes.get(name) ?? this.memo.get(name);
    if (configured !== undefined) return configured;
    const route = this.find(name);
    // A name sent to a provider whose list is not known yet is looked up again next time.
    if (route.certain) {
      if (this.memo.size >= 1024) this.memo.clear();
      this.memo.set(name, route);
    }
    return route;
  }

  private find(name: string): Route & { certain?: boolean } {
    if (this.providers.size === 0) throw noProvider();
    const slash = name.indexOf("/");
    if (slash > 0) {
      const provider = this.providers.get(name.slice(0, slash));
      const model = name.slice(slash + 1);
      if (provider !== undefined && model !== "") {
        // A provider whose models are known says which it serves; one that takes any name decides itself.
        const listed = provider.servesAnyModel() ? undefined : provider.listedModels();
        if (listed !== undefined && !listed.includes(model)) throw modelNotFound(name);
        return single(name, provider.id, model, listed !== undefined || provider.servesAnyModel());
      }
    }
    let unsure: Provider | undefined;
    for (const provider of this.providers.values()) {
      const listed = provider.listedModels();
      if (listed?.includes(name)) return single(name, provider.id, name, true);
      if (listed === undefined && unsure === undefined) unsure = provider;
    }
    for (const provider of this.providers.values()) if (provider.servesAnyModel()) return single(name, provider.id, name, unsure === undefined);
    if (unsure !== undefined) return single(name, unsure.id, name, false);
    throw modelNotFound(name);
  }
}

const single = (name: string, provider: string, model: string, certain: boolean): Route & { certain: boolean } => ({
  name, strategy: "priority", targets: [{ provider, model, weight: 1 }], certain,
});
