import type { Client } from "../gateway/gateway.ts";
import type { ChatCall, EmbeddingCall } from "../providers/provider.ts";
import type { Route } from "../gateway/route-table.ts";
import type { Budget, ClientKeySpec } from "./key-spec.ts";
import type { KeyLimits, Settle } from "./key-limits.ts";
import { toNano } from "./estimate.ts";
import type { BudgetPeriod } from "./periods.ts";

/** The store's name for a key's spend in a period: the same across reloads, whatever the amount. */
export const spendCounter = (keyId: string, period: BudgetPeriod): string => `usd:${keyId}:${period}`;

/**
 * One client key of one config generation: its id, limits and models, and the names of its
 * counters. The request and token counters are named with their limit (`tpm:team-a:1000`): a
 * reload that keeps a key's limit finds the same counter and carries its count over, one that
 * changes it starts a fresh one, and a request still in flight settles into the counter it reserved
 * in. Spend is named without the amount: money spent stays spent when a budget is raised.
 */
export class ClientKey implements Client {
  readonly id: string;
  readonly models: ReadonlySet<string> | undefined;
  readonly rpm: number | undefined;
  readonly tpm: number | undefined;
  readonly budget: (Budget & { nano: number }) | undefined;
  /** Tokens or spend are counted per request: the gateway admits and settles each one. */
  readonly metered: boolean;
  readonly rpmCounter: string;
  readonly tpmCounter: string;
  readonly spendCounter: string;
  /**
   * Who the global per-client limit counts: the key itself (a prefix of its digest), not its id,
   * which for a plain key is its position in the list: a reload that adds or removes one would
   * hand one client's count to another.
   */
  readonly limitedAs: string;

  constructor(spec: ClientKeySpec, readonly limits: KeyLimits, digest: Uint8Array = new Uint8Array(0)) {
    this.id = spec.id;
    this.limitedAs = `key:${Buffer.from(digest.subarray(0, 12)).toString("hex")}`;
    this.models = spec.models && new Set(spec.models);
    this.rpm = spec.rpm;
    this.tpm = spec.tpm;
    this.budget = spec.budget && { ...spec.budget, nano: toNano(spec.budget.usd) };
    this.metered = spec.tpm !== undefined || spec.budget !== undefined;
    this.rpmCounter = `rpm:${spec.id}:${spec.rpm ?? 0}`;
    this.tpmCounter = `tpm:${spec.id}:${spec.tpm ?? 0}`;
    this.spendCounter = spendCounter(spec.id, spec.budget?.period ?? "day");
  }

  /**
   * What the gateway is given for one request: the key itself when nothing is metered (nothing
   * allocated), else the key with the response headers its admission writes the token limits to.
   */
  forRequest(headers: Record<string, unknown>): Client {
    return this.metered ? new MeteredRequest(this, headers) : this;
  }
}

/** A metered key's request: admission reserves its tokens and spend, and the returned Settle corrects them. */
class MeteredRequest implements Client {
  readonly id: string;
  readonly models: ReadonlySet<string> | undefined;

  constructor(
    private readonly key: ClientKey,
    private readonly headers: Record<string, unknown>,
  ) {
    this.id = key.id;
    this.models = key.models;
  }

  admit(call: ChatCall | EmbeddingCall, route: Route): Settle | Promise<Settle> {
    return this.key.limits.admit(this.key, call, route, this.headers);
  }
}
