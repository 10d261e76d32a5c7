import type { CompletionUsage } from "openai/resources/completions";
import type { Price } from "./prices.ts";

/** Token counts as the ledger keeps them. `cached` is part of `prompt`, as OpenAI counts it. */
export interface TokenCounts {
  prompt: number;
  completion: number;
  /** Prompt tokens read from the provider's cache (`prompt_tokens_details.cached_tokens`). */
  cached: number;
}

/** The counts in an OpenAI usage object (Anthropic's is translated into one at its adapter). */
export function tokenCounts(usage: CompletionUsage): TokenCounts {
  return {
    prompt: usage.prompt_tokens,
    completion: usage.completion_tokens,
    cached: usage.prompt_tokens_details?.cached_tokens ?? 0,
  };
}

/**
 * Costs are rounded to 1e-10 USD: far below any bill, and it turns float noise (0.15 × 1000 / 1e6
 * = 0.00015000000000000001) back into the decimal a person would write, so sums and tests compare
 * exactly.
 */
const COST_SCALE = 1e10;

export function roundCost(usd: number): number {
  return Math.round(usd * COST_SCALE) / COST_SCALE;
}

/**
 * USD for `tokens` at `price`:
 *   (prompt − cached) × input + cached × cachedInput + completion × output, per 1M tokens.
 * A cached prompt token is priced once, at the cached rate (the input rate when the model has no
 * cached rate). A cached count larger than the prompt (a confused upstream) is capped at the
 * prompt, so no token is ever priced negative. Null when the price is unknown — unless there is
 * nothing to price, which costs 0 whatever the model.
 */
export function costOf(tokens: TokenCounts, price: Price | null): number | null {
  const cached = Math.min(Math.max(tokens.cached, 0), tokens.prompt);
  if (tokens.prompt === 0 && tokens.completion === 0) return 0;
  if (!price) return null;
  const perMillion =
    (tokens.prompt - cached) * price.input + cached * (price.cachedInput ?? price.input) + tokens.completion * price.output;
  return roundCost(perMillion / 1_000_000);
}
