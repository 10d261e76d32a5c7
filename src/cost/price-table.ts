import type { Price } from "./prices.ts";

/**
 * The day these prices were last checked against the sources below. A price that changed after it
 * is wrong here until this file is updated; a per-target `price:` in the config wins over it.
 */
export const PRICES_AS_OF = "2026-12-07";

/**
 * List prices in USD per 1M tokens (standard tier: no Batch, Flex, Priority or regional uplift),
 * keyed by the model id as the provider's API spells it. `cachedInput` is the price of a prompt
 * token read from the provider's prompt cache.
 *
 * Sources, read on PRICES_AS_OF:
 * - OpenAI: the model pages under developers.openai.com/api/docs/models (gpt-5-nano's own page;
 *   gpt-5.1's comparison with gpt-5 and gpt-5-mini), cross-checked against simonw/llm-prices
 *   `data/openai.json` (Aug 2026), GitHub's Copilot price table (gpt-4.1, gpt-5-mini with their
 *   cached rates) and the openai-models crate (gpt-4o, gpt-4o-mini, o1). o3 is the price after
 *   OpenAI's cut of June 2025 ($10/$40 before; llm-prices still lists the old one), as several
 *   price trackers record it. gpt-4o-2024-05-13 ($5/$15, no cached rate) has one source only
 *   (Presidentlin/llm-pricing-calculator); it stays because without it the snapshot rule would
 *   price that id at gpt-4o's $2.50/$10, which is surely wrong.
 * - Anthropic: docs.anthropic.com/en/docs/about-claude/pricing (Opus 4.1, Opus 4, Sonnet 4,
 *   Sonnet 3.7, Haiku 3.5: input, cache hits, output) and the model pages on platform.claude.com
 *   (Sonnet 4.5 $3/$15, Haiku 4.5 $1/$5); their cache hits are 0.1 × input, the multiplier the
 *   pricing page states for every model.
 *
 * Not modelled, so these costs are a floor where they apply: Anthropic's cache writes (1.25 × or
 * 2 × input; priced here as plain input) and Sonnet 4/4.5's long-context rate above 200K prompt
 * tokens ($6/$22.50). Reasoning tokens are priced: both providers count them as completion tokens.
 *
 * Left out on purpose: models whose price could not be confirmed from two sources. An id not here
 * costs null — unknown — never 0. Several of these models are deprecated or retired by their
 * provider; they stay because old targets still route to them and old rows still name them.
 */
export const PRICE_TABLE: Readonly<Record<string, Price>> = {
  // OpenAI
  "gpt-4o": { input: 2.5, cachedInput: 1.25, output: 10 },
  // The first gpt-4o snapshot kept its launch price; an exact key wins over the "gpt-4o" entry.
  "gpt-4o-2024-05-13": { input: 5, output: 15 },
  "gpt-4o-mini": { input: 0.15, cachedInput: 0.075, output: 0.6 },
  "gpt-4.1": { input: 2, cachedInput: 0.5, output: 8 },
  "gpt-4.1-mini": { input: 0.4, cachedInput: 0.1, output: 1.6 },
  "gpt-4.1-nano": { input: 0.1, cachedInput: 0.025, output: 0.4 },
  o1: { input: 15, cachedInput: 7.5, output: 60 },
  o3: { input: 2, cachedInput: 0.5, output: 8 },
  "o3-mini": { input: 1.1, cachedInput: 0.55, output: 4.4 },
  "o4-mini": { input: 1.1, cachedInput: 0.275, output: 4.4 },
  "gpt-5": { input: 1.25, cachedInput: 0.125, output: 10 },
  "gpt-5-mini": { input: 0.25, cachedInput: 0.025, output: 2 },
  "gpt-5-nano": { input: 0.05, cachedInput: 0.005, output: 0.4 },
  // Embeddings: input only (an embeddings call has no completion tokens).
  "text-embedding-3-small": { input: 0.02, output: 0 },
  "text-embedding-3-large": { input: 0.13, output: 0 },
  "text-embedding-ada-002": { input: 0.1, output: 0 },

  // Anthropic: dated ids (claude-sonnet-4-5-20250929) find these by the snapshot rule in prices.ts;
  // the `-0` and `-latest` aliases Anthropic also accepts are listed as keys of their own.
  "claude-opus-4-1": { input: 15, cachedInput: 1.5, output: 75 },
  "claude-opus-4": { input: 15, cachedInput: 1.5, output: 75 },
  "claude-opus-4-0": { input: 15, cachedInput: 1.5, output: 75 },
  "claude-sonnet-4-5": { input: 3, cachedInput: 0.3, output: 15 },
  "claude-sonnet-4": { input: 3, cachedInput: 0.3, output: 15 },
  "claude-sonnet-4-0": { input: 3, cachedInput: 0.3, output: 15 },
  "claude-3-7-sonnet": { input: 3, cachedInput: 0.3, output: 15 },
  "claude-haiku-4-5": { input: 1, cachedInput: 0.1, output: 5 },
  "claude-3-5-haiku": { input: 0.8, cachedInput: 0.08, output: 4 },
};
