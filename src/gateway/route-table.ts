import { modelNotFound, noProvider } from "../errors.ts";
import type { Continuation } from "../config/provider-spec.ts";
import type { Provider } from "../providers/provider.ts";

/** One place a public model name can be served: a provider and the model name it knows. */
export interface Target {
  provider: string;
  model: string;
  /** Share of first picks on a weighted route. */
  weight: number;
  /** How this target continues a partial answer, when not its provider's way. */
  continuation?: Continuation;
}

export interface Route {
  /** The public name the client used. */
  name: string;
  strategy: "priority" | "weighted";
  targets: Target[];
  /** A committed stream that breaks is continued on a target that can (stream resume). */
  resume: boolean;
  /** Continuations per stream at most. */
  maxResumes: number;
}

/** Stream resume on the routes that address a provider directly (the env-only set-up's CHATGATE_RESUME). */
export interface DirectResume {
  /** Whether routes to the implicit providers resume. */
  implicit: boolean;
  maxResumes: number;
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
    private readonly direct: DirectResume = { implicit: false, maxResumes: 0 },
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
        return this.single(name, provider, model, listed !== undefined || provider.servesAnyModel());
      }
    }
    let unsure: Provider | undefined;
    for (const provider of this.providers.values()) {
      const listed = provider.listedModels();
      if (listed?.includes(name)) return this.single(name, provider, name, true);
      if (listed === undefined && unsure === undefined) unsure = provider;
    }
    for (const provider of this.providers.values()) if (provider.servesAnyModel()) return this.single(name, provider, name, unsure === undefined);
    if (unsure !== undefined) return this.single(name, unsure, name, false);
    throw modelNotFound(name);
  }

  private single(name: string, provider: Provider, model: string, certain: boolean): Route & { certain: boolean } {
    const resume = this.direct.implicit && provider.implicit;
    return { name, strategy: "priority", targets: [{ provider: provider.id, model, weight: 1 }], resume, maxResumes: this.direct.maxResumes, certain };
  }
}
