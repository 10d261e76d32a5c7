import { HEALTHY, afterFailure, afterSuccess, availability, availableInMs, type CooldownPolicy, type Health } from "../policy.ts";
import type { Target } from "./route-table.ts";

/** A target's state as /status shows it. */
export interface TargetState {
  provider: string;
  model: string;
  /** `probe_due`: the cooldown is over and the next request will probe the target. */
  state: "healthy" | "cooling_down" | "probe_due" | "probing";
  failures_in_a_row: number;
  cooling_until: string | null;
  /** The last failure's code and status: never a message, which may quote an upstream. */
  last_error: string | null;
}

/** A target entered or left its cooldown: what logs and metrics count. */
export interface CooldownEvent {
  provider: string;
  model: string;
  kind: "entered" | "left";
  /** Entered: the failure that put it there (`503 upstream_error`); left: null. */
  reason: string | null;
  /** Entered: when the cooldown ends (epoch ms); left: null. */
  until: number | null;
}

const keyOf = (t: { provider: string; model: string }) => `${t.provider}/${t.model}`;

/**
 * Every target's health, by `provider/model`, in memory. The arithmetic is the policy's; this only
 * keeps the state and the clock. Bounded by the targets that were ever tried.
 */
export class TargetHealth {
  private readonly states = new Map<string, Health & { lastError: string | null }>();

  /**
   * Told when a target enters or leaves its cooldown. Set once by the composition root; the health
   * object (and so this) carries over a config reload.
   */
  onCooldown: ((event: CooldownEvent) => void) | undefined;

  constructor(
    private readonly policy: CooldownPolicy,
    private readonly now: () => number,
  ) {}

  /** Whether `target` may be tried now; a `probe` answer claims the one probe after a cooldown. */
  take(target: Target): "yes" | "probe" | "no" {
    const state = this.states.get(keyOf(target));
    if (state === undefined) return "yes";
    const verdict = availability(state, this.now());
    if (verdict === "probe") state.probing = true;
    return verdict;
  }

  /** How long until `target` may be tried again (0: now). */
  availableIn(target: Target): number {
    const state = this.states.get(keyOf(target));
    return state === undefined ? 0 : availableInMs(state, this.now());
  }

  succeeded(target: Target): void {
    const key = keyOf(target);
    const before = this.states.get(key);
    if (before === undefined) return;
    this.states.set(key, { ...afterSuccess(), lastError: null });
    if (before.coolingUntil !== 0) this.onCooldown?.({ provider: target.provider, model: target.model, kind: "left", reason: null, until: null });
  }

  failed(target: Target, reason: string): void {
    const key = keyOf(target);
    const before = this.states.get(key) ?? HEALTHY;
    const next = afterFailure(before, this.now(), this.policy);
    this.states.set(key, { ...next, lastError: reason });
    // A failed probe re-enters: each cooldown period is one event.
    if (next.coolingUntil !== 0) this.onCooldown?.({ provider: target.provider, model: target.model, kind: "entered", reason, until: next.coolingUntil });
  }

  /** A probe that ended without a verdict (the client went away): let the next request probe. */
  released(target: Target): void {
    const state = this.states.get(keyOf(target));
    if (state !== undefined) state.probing = false;
  }

  /** After a config reload: forget the targets of providers that are gone (the rest keep their state). */
  keepProviders(ids: ReadonlySet<string>): void {
    for (const key of this.states.keys()) if (!ids.has(key.slice(0, key.indexOf("/")))) this.states.delete(key);
  }

  snapshot(): TargetState[] {
    const now = this.now();
    return [...this.states].map(([key, s]) => {
      const at = key.indexOf("/");
      const cooling = s.coolingUntil > now;
      return {
        provider: key.slice(0, at),
        model: key.slice(at + 1),
        state: s.probing ? "probing" : cooling ? "cooling_down" : s.coolingUntil !== 0 ? "probe_due" : "healthy",
        failures_in_a_row: s.failures,
        cooling_until: cooling ? new Date(s.coolingUntil).toISOString() : null,
        last_error: s.lastError,
      };
    });
  }
}
