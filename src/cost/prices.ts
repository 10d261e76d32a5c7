import { PRICE_TABLE } from "./price-table.ts";

/** A model's list price in USD per 1M tokens. */
export interface Price {
  /** A prompt token that was not read from the provider's cache. */
  input: number;
  output: number;
  /** A prompt token read from the provider's cache; absent: cached tokens cost `input`. */
  cachedInput?: number;
}

/** A per-target `price:` from the config file, in its own spelling (USD per 1M tokens). */
export interface PriceOverride {
  input: number;
  output: number;
  cached_input?: number;
}

export type PriceTable = Readonly<Record<string, Price>>;

/**
 * What may follow a table key in a provider's snapshot id: a date (`gpt-4o-2024-08-06`,
 * `claude-sonnet-4-5-20250929`) or `latest` (`claude-3-5-haiku-latest`). Anything else is a
 * different model — `gpt-5-pro`, `o3-mini`, `claude-opus-4-5` — with a price of its own, so a bare
 * prefix match would borrow a wrong one, and a wrong price is worse than an unknown one.
 */
const SNAPSHOT_SUFFIX = /^-(\d{4}-\d{2}-\d{2}|\d{8}|latest)$/;

/**
 * The table entry for `model`: the exact key first; else the longest key that `model` starts with
 * when what follows it is `-` and a snapshot date or `latest` (see SNAPSHOT_SUFFIX). Undefined when
 * neither matches: an unknown model.
 */
export function lookupPrice(model: string, table: PriceTable = PRICE_TABLE): Price | undefined {
  const exact = table[model];
  if (exact) return exact;
  let best: string | undefined;
  for (const key of Object.keys(table)) {
    if (!model.startsWith(key) || !SNAPSHOT_SUFFIX.test(model.slice(key.length))) continue;
    if (best === undefined || key.length > best.length) best = key;
  }
  return best === undefined ? undefined : table[best];
}

/**
 * The price to charge a call to `model` at: the target's configured override when it has one (it
 * wins whatever the model is called, so a self-hosted or renamed model can be priced), else the
 * shipped table. Null when neither knows the model: its cost is unknown, never 0.
 */
export function priceFor(model: string | null | undefined, override?: PriceOverride, table: PriceTable = PRICE_TABLE): Price | null {
  if (override) {
    return override.cached_input === undefined
      ? { input: override.input, output: override.output }
      : { input: override.input, output: override.output, cachedInput: override.cached_input };
  }
  if (!model) return null;
  return lookupPrice(model, table) ?? null;
}
