// The price table, how a model id finds its entry, and the cost rule, with exact numbers.
import { describe, expect, test } from "bun:test";
import { costOf, roundCost, tokenCounts } from "../../src/cost/cost.ts";
import { PRICE_TABLE, PRICES_AS_OF } from "../../src/cost/price-table.ts";
import { lookupPrice, priceFor } from "../../src/cost/prices.ts";

describe("the shipped price table", () => {
  test("it says when it was checked, as a date", () => {
    expect(PRICES_AS_OF).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  test("it prices the current OpenAI and Anthropic models the issue names", () => {
    for (const model of [
      "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o1", "o3", "o3-mini", "o4-mini",
      "gpt-5", "gpt-5-mini", "gpt-5-nano", "claude-opus-4", "claude-opus-4-1", "claude-sonnet-4", "claude-sonnet-4-5",
      "claude-3-7-sonnet", "claude-3-5-haiku", "claude-haiku-4-5",
    ]) {
      expect(lookupPrice(model), model).toBeDefined();
    }
  });

  test("every entry is positive (an embedding model's output 0: it has none) and a cached rate is never above the input rate", () => {
    for (const [model, price] of Object.entries(PRICE_TABLE)) {
      expect(price.input, model).toBeGreaterThan(0);
      if (model.startsWith("text-embedding-")) expect(price.output, model).toBe(0);
      else expect(price.output, model).toBeGreaterThan(0);
      if (price.cachedInput !== undefined) expect(price.cachedInput, model).toBeLessThanOrEqual(price.input);
    }
  });

  test("a few list prices, spelled out", () => {
    expect(PRICE_TABLE["gpt-4o-mini"]).toEqual({ input: 0.15, cachedInput: 0.075, output: 0.6 });
    expect(PRICE_TABLE["o3"]).toEqual({ input: 2, cachedInput: 0.5, output: 8 });
    expect(PRICE_TABLE["claude-sonnet-4-5"]).toEqual({ input: 3, cachedInput: 0.3, output: 15 });
  });
});

describe("lookupPrice: exact id first, then a snapshot of a table key", () => {
  test("an exact id is its own entry", () => {
    expect(lookupPrice("gpt-4.1-mini")).toBe(PRICE_TABLE["gpt-4.1-mini"]!);
  });

  test("OpenAI's dated snapshots find their base model", () => {
    expect(lookupPrice("gpt-4o-2024-08-06")).toBe(PRICE_TABLE["gpt-4o"]!);
    expect(lookupPrice("gpt-4o-mini-2024-07-18")).toBe(PRICE_TABLE["gpt-4o-mini"]!);
    expect(lookupPrice("gpt-5-nano-2025-08-07")).toBe(PRICE_TABLE["gpt-5-nano"]!);
  });

  test("Anthropic's dated ids and -latest aliases find their base model, the longest key winning", () => {
    expect(lookupPrice("claude-sonnet-4-5-20250929")).toBe(PRICE_TABLE["claude-sonnet-4-5"]!);
    expect(lookupPrice("claude-sonnet-4-20250514")).toBe(PRICE_TABLE["claude-sonnet-4"]!);
    expect(lookupPrice("claude-opus-4-1-20250805")).toBe(PRICE_TABLE["claude-opus-4-1"]!);
    expect(lookupPrice("claude-3-5-haiku-latest")).toBe(PRICE_TABLE["claude-3-5-haiku"]!);
  });

  test("an exact snapshot entry wins over its base model's (gpt-4o's first snapshot kept its launch price)", () => {
    expect(lookupPrice("gpt-4o-2024-05-13")).toEqual({ input: 5, output: 15 });
  });

  test("a different model that merely starts with a key is unknown, not priced as that key", () => {
    for (const model of ["gpt-5-pro", "o3-pro", "o3-deep-research", "o1-mini", "gpt-4o-audio-preview", "claude-opus-4-5", "claude-sonnet-4-6", "gpt-5.1"]) {
      expect(lookupPrice(model), model).toBeUndefined();
    }
  });

  test("a model nobody has heard of is unknown", () => {
    expect(lookupPrice("llama-3.1-70b")).toBeUndefined();
  });
});

describe("priceFor", () => {
  test("a target's override wins over the table, whatever the model is called", () => {
    expect(priceFor("gpt-4o", { input: 1, output: 2, cached_input: 0.5 })).toEqual({ input: 1, output: 2, cachedInput: 0.5 });
    expect(priceFor("my-local-llama", { input: 0.1, output: 0.2 })).toEqual({ input: 0.1, output: 0.2 });
  });

  test("without an override: the table, and null for an unknown or missing model", () => {
    expect(priceFor("gpt-4.1-2025-04-14")).toEqual({ input: 2, cachedInput: 0.5, output: 8 });
    expect(priceFor("my-local-llama")).toBeNull();
    expect(priceFor(null)).toBeNull();
  });
});

describe("costOf", () => {
  test("(prompt − cached) × input + cached × cached_input + completion × output, per 1M tokens", () => {
    // gpt-4o: 1,000 prompt of which 400 cached, 500 completion:
    // 600 × 2.50 + 400 × 1.25 + 500 × 10 = 1,500 + 500 + 5,000 = 7,000 per 1M → $0.007
    expect(costOf({ prompt: 1_000, completion: 500, cached: 400 }, PRICE_TABLE["gpt-4o"]!)).toBe(0.007);
  });

  test("a million tokens each way costs the list prices", () => {
    expect(costOf({ prompt: 1_000_000, completion: 1_000_000, cached: 0 }, PRICE_TABLE["claude-haiku-4-5"]!)).toBe(6);
  });

  test("small counts at small prices come out as the decimal, not float noise", () => {
    // gpt-4o-mini: 1,000 × 0.15 + 100 × 0.60 = 150 + 60 = 210 per 1M → $0.00021
    expect(costOf({ prompt: 1_000, completion: 100, cached: 0 }, PRICE_TABLE["gpt-4o-mini"]!)).toBe(0.00021);
    // gpt-5-nano, all cached: 2,000 × 0.005 + 10 × 0.40 = 10 + 4 = 14 per 1M → $0.000014
    expect(costOf({ prompt: 2_000, completion: 10, cached: 2_000 }, PRICE_TABLE["gpt-5-nano"]!)).toBe(0.000014);
  });

  test("a model without a cached rate prices cached tokens at the input rate, once", () => {
    // 1,000 prompt (600 cached) × 5 + 100 × 15 = 5,000 + 1,500 = 6,500 per 1M → $0.0065
    expect(costOf({ prompt: 1_000, completion: 100, cached: 600 }, { input: 5, output: 15 })).toBe(0.0065);
  });

  test("a cached count above the prompt count is capped at it: no token is priced negative", () => {
    // 100 prompt, all cached at 1.25, no completion → $0.000125
    expect(costOf({ prompt: 100, completion: 0, cached: 250 }, PRICE_TABLE["gpt-4o"]!)).toBe(0.000125);
  });

  test("an unknown price is null, never 0", () => {
    expect(costOf({ prompt: 10, completion: 5, cached: 0 }, null)).toBeNull();
  });

  test("nothing to price costs 0, even for an unknown model", () => {
    expect(costOf({ prompt: 0, completion: 0, cached: 0 }, null)).toBe(0);
  });

  test("tokenCounts reads an OpenAI usage object, cached tokens included", () => {
    expect(tokenCounts({ prompt_tokens: 12, completion_tokens: 3, total_tokens: 15, prompt_tokens_details: { cached_tokens: 8 } })).toEqual({
      prompt: 12,
      completion: 3,
      cached: 8,
    });
    expect(tokenCounts({ prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 }).cached).toBe(0);
  });

  test("roundCost keeps ten decimal places", () => {
    expect(roundCost(0.1 + 0.2)).toBe(0.3);
    expect(roundCost(1.23456789012345)).toBe(1.2345678901);
  });
});
