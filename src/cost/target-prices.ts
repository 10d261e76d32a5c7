// The prices the usage ledger charges, from one config: each target's `price:` first, then the
// built-in mock's nothing, then the shipped table.
import { FieldError, fieldPath } from "../config/field-error.ts";
import type { ModelRoute, ProviderSpec } from "../config/provider-spec.ts";
import { priceFor, type Price, type PriceOverride } from "./prices.ts";

/** The built-in mock answers without any upstream: nothing is billed. */
const FREE: Price = { input: 0, output: 0 };

/** Distinct provider/model pairs remembered per config before the memo starts over. */
const MEMO_LIMIT = 1024;

const targetKey = (provider: string, model: string) => `${provider}/${model}`;

/**
 * `provider/model` → the `price:` the config's targets give it. A price belongs to a provider's
 * model, not to a route: a request that reaches it by another route, or as `provider/model`, is
 * charged the same. Two targets that price one provider's model differently are refused (the
 * second is named), since either choice would bill some requests at a price nobody meant.
 */
export function targetPrices(models: Readonly<Record<string, ModelRoute>>): Map<string, PriceOverride> {
  const prices = new Map<string, { price: PriceOverride; field: string }>();
  for (const [name, route] of Object.entries(models)) {
    route.targets.forEach((target, i) => {
      if (target.price === undefined) return;
      const field = fieldPath(fieldPath(fieldPath(fieldPath("models", name), "targets"), i), "price");
      const key = targetKey(target.provider, target.model);
      const earlier = prices.get(key);
      if (earlier !== undefined && !samePrice(earlier.price, target.price)) {
        throw new FieldError(field, `${key} is already priced differently at ${earlier.field}: give every target of one provider's model the same price`);
      }
      prices.set(key, earlier ?? { price: target.price, field });
    });
  }
  return new Map([...prices].map(([key, { price }]) => [key, price]));
}

function samePrice(a: PriceOverride, b: PriceOverride): boolean {
  return a.input === b.input && a.output === b.output && a.cached_input === b.cached_input;
}

/**
 * The price of a call to `model` on `provider` under one config, null when unknown: the target's
 * `price:` override, else 0 for a mock provider, else the shipped table (src/cost/price-table.ts).
 * Built once per config (a reload builds a new one); answers are memoized, so a request's pricing
 * is a map lookup, not a scan of the table.
 */
export function priceLookup(config: { models: Readonly<Record<string, ModelRoute>>; providers: readonly ProviderSpec[] }) {
  const overrides = targetPrices(config.models);
  const mocks = new Set(config.providers.filter((p) => p.type === "mock").map((p) => p.id));
  const memo = new Map<string, Price | null>();
  return (provider: string | null, model: string): Price | null => {
    const key = targetKey(provider ?? "", model);
    const known = memo.get(key);
    if (known !== undefined) return known;
    const override = provider === null ? undefined : overrides.get(key);
    const price = override === undefined && provider !== null && mocks.has(provider) ? FREE : priceFor(model, override);
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(key, price);
    return price;
  };
}
