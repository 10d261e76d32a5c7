import type { Continuation } from "../config/provider-spec.ts";
import type { Providers, Route, Target } from "./route-table.ts";

/** `provider/model`: how a target is named in the resume bookkeeping and its log lines. */
export const targetKey = (t: Target): string => `${t.provider}/${t.model}`;

/** What deciding who may continue needs from the router. */
export interface ContinuerDeps {
  providers: Providers;
  /** Retries per target: a target that broke may be asked again that many times in a stream. */
  retries: number;
  /** `provider/model` of targets that refused a continuation: skipped for the life of the process. */
  unable: Set<string>;
}

/**
 * One stream's view of which targets may continue it: how often each has broken in it, and which
 * broke in a way that says not to ask them again (a silence, a malformed stream).
 */
export class Continuers {
  private readonly breaks = new Map<string, number>();
  private readonly notAgain = new Set<string>();

  constructor(
    private readonly route: Route,
    private readonly deps: ContinuerDeps,
  ) {}

  /** `target` broke; `again`: its break allows asking it once more (a cut, a passing overload). */
  broke(target: Target, again: boolean): void {
    const key = targetKey(target);
    this.breaks.set(key, (this.breaks.get(key) ?? 0) + 1);
    if (!again) this.notAgain.add(key);
  }

  /**
   * The target that broke, then the route's others, each able to continue: a target whose break
   * said not to ask it again is left out, and one that broke in this stream is asked only with
   * retries left (it has broken no more than `retries` times in it).
   */
  after(broke: Target): Target[] {
    const others = this.route.targets.filter((t) => t.provider !== broke.provider || t.model !== broke.model);
    return [broke, ...others].filter((t) => !this.notAgain.has(targetKey(t)) && (this.breaks.get(targetKey(t)) ?? 0) <= this.deps.retries && this.style(t) !== undefined);
  }

  /** How `target` continues an answer; undefined when it cannot (none, or it refused one). */
  style(target: Target): Exclude<Continuation, "none"> | undefined {
    const provider = this.deps.providers.get(target.provider);
    const style = target.continuation ?? provider?.continuation ?? "none";
    return style === "none" || this.deps.unable.has(targetKey(target)) ? undefined : style;
  }
}
