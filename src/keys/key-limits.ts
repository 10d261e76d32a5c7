// Per-key requests, tokens and spend: admission reserves, the finish record settles. The counts
// live in a Counters store (memory now, Redis later); this file holds the arithmetic around them.
import type { Price } from "../cost/prices.ts";
import type { Attempt, FinishRecord } from "../gateway/finish.ts";
import type { Route } from "../gateway/route-table.ts";
import type { ChatCall, EmbeddingCall } from "../providers/provider.ts";
import type { AdjustItem, Counters, MaybePromise, Reserved, ReserveItem } from "../state/counters.ts";
import type { LimitDecision } from "../state/limiter.ts";
import { spendCounter, type ClientKey } from "./client-key.ts";
import { completionReserve, costReserve, definitionsEstimate, fromNano, highestPrice, inputEstimate, promptEstimate, toNano, usedCost, usedTokens } from "./estimate.ts";
import { keyOverBudget, keyRequestTooLarge, keyTokensLimited, modelNotPriced } from "./key-errors.ts";
import { minuteEnd, periodEnd, periodStart, type BudgetPeriod } from "./periods.ts";
import { tokenHeaders } from "./rate-headers.ts";

/** The price of a call to `model` on `provider`, null when unknown (src/cost/target-prices.ts priceLookup). */
export type PriceOf = (provider: string | null, model: string) => Price | null;

/**
 * Called once with a request's finish record: settles its reservation to what it used, and
 * returns what the key's budget was charged for it (USD; undefined when the key has no budget).
 */
export type Settle = (record: FinishRecord) => number | undefined;

export interface KeyLimitsOptions {
  store: Counters;
  now: () => number;
  prices: PriceOf;
  /** Completion tokens reserved for a request without max_tokens (reserve_completion_tokens). */
  reserveCompletionTokens: number;
  /** Told when a networked store fails to take a settlement (the reservation then stays counted). */
  warn?: (line: string) => void;
}

/** Routes priced per generation before the memo starts over. */
const ROUTE_MEMO = 1024;

/** This process's part of every budget reservation's `hold` id (unique across instances), and the count after it. */
const HOLD_PREFIX = `${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}.`;
let holds = 0;

/**
 * The limits of one config generation's keys over a store that outlives generations (see
 * ClientKey for how counters carry across a reload). Every operation on the store is one
 * check-and-reserve or one adjustment, so concurrent requests cannot together overshoot a limit
 * (a reservation counts from the moment it is made), and a finished request gives back what it did
 * not use. A networked store answers with promises; the memory store answers at once, and then
 * nothing here awaits.
 */
export class KeyLimits {
  private readonly store: Counters;
  private readonly now: () => number;
  private readonly prices: PriceOf;
  private readonly reserveCompletionTokens: number;
  private readonly warn: (line: string) => void;
  /** The most a route's targets charge: a fallback may serve the request. */
  private readonly routePrices = new Map<Route, Price | null>();
  /** The current UTC day's and month's bounds, so a request pays for no date arithmetic. */
  private readonly periods = { day: { start: 0, end: 0 }, month: { start: 0, end: 0 } };

  constructor(options: KeyLimitsOptions) {
    this.store = options.store;
    this.now = options.now;
    this.prices = options.prices;
    this.reserveCompletionTokens = options.reserveCompletionTokens;
    this.warn = options.warn ?? ((line) => console.error(line));
  }

  /** Counts one request against the key's rpm (never beyond it: a refused request is not counted). */
  requests(key: ClientKey): MaybePromise<LimitDecision> {
    const now = this.now();
    const limit = key.rpm!;
    const reserved = this.store.reserve([{ key: key.rpmCounter, amount: 1, limit, endsAt: minuteEnd(now) }], now);
    const decide = (r: Reserved): LimitDecision => {
      const window = r.windows[0]!;
      return { allowed: r.refused === -1, limit, remaining: Math.max(0, limit - window.count), resetMs: window.resetAt - now };
    };
    return reserved instanceof Promise ? reserved.then(decide) : decide(reserved);
  }

  /**
   * Writes the key's token headers as its tpm window stands, adding nothing: for a request its rpm
   * refused, so the 429 tells the tokens too, as OpenAI's do. Only refusals pay for this read.
   */
  tokenWindow(key: ClientKey, headers: Record<string, unknown>): MaybePromise<void> {
    const now = this.now();
    const read = this.store.reserve([{ key: key.tpmCounter, amount: 0, limit: Number.POSITIVE_INFINITY, endsAt: minuteEnd(now) }], now);
    const write = (r: Reserved) => tokenHeaders(headers, key.tpm!, r.windows[0]!.count, r.windows[0]!.resetAt - now);
    return read instanceof Promise ? read.then(write) : write(read);
  }

  /**
   * Reserves the request's tokens (the prompt's estimate and its max_tokens, or the default; for
   * embeddings, the input's estimate and no completion) against the key's tpm, and the most it
   * could cost against its budget, in one check-and-reserve; writes
   * the token headers to `headers`. Throws the 429 (or, for a budget on an unpriced model, the 403)
   * when it does not fit; else returns the settlement for its finish record.
   */
  admit(key: ClientKey, call: ChatCall | EmbeddingCall, route: Route, headers: Record<string, unknown>): MaybePromise<Settle> {
    const now = this.now();
    const embeddings = "kind" in call;
    const prompt = embeddings ? inputEstimate(call.body.input) : promptEstimate(call.body.messages) + definitionsEstimate(call.body);
    const completion = embeddings ? 0 : completionReserve(call.body, this.reserveCompletionTokens);
    const items: ReserveItem[] = [];
    if (key.tpm !== undefined) items.push({ key: key.tpmCounter, amount: prompt + completion, limit: key.tpm, endsAt: minuteEnd(now) });
    const budget = key.budget;
    if (budget !== undefined) {
      const price = this.routePrice(route);
      if (price === null) throw modelNotPriced(key.id, route.name);
      const hold = this.store.holds ? HOLD_PREFIX + (++holds).toString(36) : undefined;
      items.push({ key: key.spendCounter, amount: costReserve(prompt, completion, price), limit: budget.nano, endsAt: this.periodEnd(budget.period, now), hold });
    }
    const reserved = this.store.reserve(items, now);
    const admitted = (r: Reserved): Settle => {
      this.refuseOrAdmit(key, items, r, now, headers);
      return (record) => {
        try {
          return this.settle(key, items, record);
        } catch (err) {
          // A bug here must not turn a served request into a failed one; the reservation stays counted.
          this.warn(`chatgate: could not settle key ${key.id}'s reservation: ${err instanceof Error ? err.message : String(err)}`);
          const budget = items.find((item) => item.key === key.spendCounter);
          return budget && fromNano(budget.amount);
        }
      };
    };
    return reserved instanceof Promise ? reserved.then(admitted) : admitted(reserved);
  }

  /** Writes the token headers, then throws the refusal of the first item that did not fit, if any. */
  private refuseOrAdmit(key: ClientKey, items: readonly ReserveItem[], r: Reserved, now: number, headers: Record<string, unknown>): void {
    const tokens = key.tpm !== undefined ? items[0]! : undefined;
    if (tokens !== undefined) tokenHeaders(headers, tokens.limit, r.windows[0]!.count, r.windows[0]!.resetAt - now);
    if (r.refused === -1) return;
    const item = items[r.refused]!;
    const window = r.windows[r.refused]!;
    if (item === tokens) {
      if (item.amount > item.limit) throw keyRequestTooLarge(key.id, item.limit, item.amount);
      throw keyTokensLimited(key.id, item.limit, window.count, item.amount, window.resetAt - now);
    }
    const budget = key.budget!;
    const wait = item.amount > item.limit ? undefined : window.resetAt - now;
    throw keyOverBudget(key.id, budget.usd, budget.period, fromNano(window.count), fromNano(item.amount), wait);
  }

  /**
   * Corrects the reservation to what the request used: tokens from its usage, spend priced as the
   * ledger prices it. Nothing was used when no upstream call was made (a cache hit, a route with
   * every target cooling down) or every upstream refused the call (a 4xx other than 408/499, which
   * providers do not bill). When the usage is unknown (a call that ran and reported none, and no
   * estimate) the reservation stays counted: the honest bound, never 0. A budget reservation
   * with a `hold` is always settled, even to its own amount: the store lets go of its hold then.
   * Returns what the budget was charged (USD), undefined without a budget item.
   */
  private settle(key: ClientKey, items: readonly ReserveItem[], record: FinishRecord): number | undefined {
    // A cache hit has no attempts: no upstream call, nothing used.
    const ran = record.attempts.length > 0;
    const usage = record.usage;
    const nothing = !ran || (usage === undefined && record.attempts.every(refusedUpstream));
    const adjust: AdjustItem[] = [];
    let charged: number | undefined;
    for (const item of items) {
      let used: number | null;
      if (nothing) used = 0;
      else if (usage === undefined) used = null;
      else if (item.key === key.tpmCounter) used = usedTokens(usage);
      else used = usedCost(usage, this.prices(record.provider, record.upstreamModel ?? record.model ?? ""));
      if (item.key === key.spendCounter) charged = fromNano(used ?? item.amount);
      if (item.hold !== undefined) adjust.push({ key: item.key, delta: used === null ? 0 : used - item.amount, endsAt: item.endsAt, hold: item.hold });
      else if (used !== null && used !== item.amount) adjust.push({ key: item.key, delta: used - item.amount, endsAt: item.endsAt });
    }
    if (adjust.length === 0) return charged;
    const done = this.store.adjust(adjust, this.now());
    if (done instanceof Promise) done.catch((err: unknown) => this.warn(`chatgate: could not settle key ${key.id}'s reservation: ${err instanceof Error ? err.message : String(err)}`));
    return charged;
  }

  private routePrice(route: Route): Price | null {
    let price = this.routePrices.get(route);
    if (price === undefined) {
      price = highestPrice(route.targets.map((t) => this.prices(t.provider, t.model)));
      if (this.routePrices.size >= ROUTE_MEMO) this.routePrices.clear();
      this.routePrices.set(route, price);
    }
    return price;
  }

  private periodEnd(period: BudgetPeriod, now: number): number {
    const bounds = this.periods[period];
    if (now < bounds.start || now >= bounds.end) {
      bounds.start = periodStart(period, now);
      bounds.end = periodEnd(period, now);
    }
    return bounds.end;
  }
}

/**
 * Adds `usd` to what key `keyId` has spent in the current `period`, uncapped: how spend known from
 * elsewhere (the usage ledger, at start) enters the counters. Spend is counted by key id and period,
 * so a key that has no budget yet, or a budget of the other period, can be seeded too.
 */
export function seedSpend(store: Counters, now: number, keyId: string, period: BudgetPeriod, usd: number): MaybePromise<void> {
  const reserved = store.reserve([{ key: spendCounter(keyId, period), amount: toNano(usd), limit: Number.POSITIVE_INFINITY, endsAt: periodEnd(period, now) }], now);
  return reserved instanceof Promise ? reserved.then(() => undefined) : undefined;
}

/**
 * Raises a key's spend counter for the current UTC `period` to `usd` when it holds less: for a
 * budget a reload gave the key (or a period it changed to), whose spend so far the ledger knows
 * but no counter of this process counted. Never lowers it, so nothing is counted twice. Memory
 * store only (with Redis the spend is counted there already); a networked store is left alone.
 */
export function raiseSpend(store: Counters, now: number, keyId: string, period: BudgetPeriod, usd: number): void {
  const item = { key: spendCounter(keyId, period), amount: 0, limit: Number.POSITIVE_INFINITY, endsAt: periodEnd(period, now) };
  const read = store.reserve([item], now);
  if (read instanceof Promise) return;
  const missing = toNano(usd) - read.windows[0]!.count;
  if (missing > 0) store.reserve([{ ...item, amount: missing }], now);
}

/**
 * An upstream's 4xx is a refusal before any generation, which providers do not bill; not 408 (a
 * timeout) or 499 (our client left mid-call). The same rule as the ledger's (src/ledger/rows.ts).
 */
function refusedUpstream(attempt: Attempt): boolean {
  return attempt.status >= 400 && attempt.status < 500 && attempt.status !== 408 && attempt.status !== 499;
}
