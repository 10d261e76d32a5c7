// rowsFor: one finish record in, one priced ledger row out, however the request ended.
import { describe, expect, test } from "bun:test";
import type { CompletionUsage } from "openai/resources/completions";
import { priceFor } from "../../src/cost/prices.ts";
import type { Attempt, FinishRecord } from "../../src/gateway/finish.ts";
import { rowsFor, type PriceLookup } from "../../src/ledger/rows.ts";

const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);
const tablePrices: PriceLookup = (_provider, model) => priceFor(model);

function usage(prompt: number, completion: number, cached?: number): CompletionUsage {
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    ...(cached === undefined ? {} : { prompt_tokens_details: { cached_tokens: cached } }),
  };
}

function attempt(status: number, model = "gpt-4o-mini-2024-07-18", provider = "openai", reason = status === 200 ? "ok" : "upstream_error"): Attempt {
  return { provider, model, status, reason, durationMs: 40 };
}

function record(patch: Partial<FinishRecord> = {}): FinishRecord {
  return {
    requestId: "req-1",
    keyId: "k_abc",
    route: "/v1/chat/completions",
    stream: false,
    model: "fast",
    provider: "openai",
    upstreamModel: "gpt-4o-mini-2024-07-18",
    status: 200,
    outcome: "ok",
    attempts: [attempt(200)],
    resumed: false,
    usage: usage(1_000, 100),
    ttfbMs: 120,
    durationMs: 480,
    errorCode: null,
    ...patch,
  };
}

describe("rowsFor", () => {
  test("a plain answer: the record's fields, its tokens, and its cost at the upstream model's price", () => {
    const row = rowsFor(record({ usage: usage(1_000, 100, 400) }), tablePrices, { now: NOW });
    expect(row).toMatchObject({
      ts: NOW, requestId: "req-1", keyId: "k_abc", route: "/v1/chat/completions", model: "fast", provider: "openai",
      upstreamModel: "gpt-4o-mini-2024-07-18", status: 200, outcome: "ok", stream: false, resumed: false, cached: false,
      usageEstimated: false, promptTokens: 1_000, completionTokens: 100, cachedPromptTokens: 400, ttfbMs: 120, durationMs: 480, errorCode: null,
    });
    // gpt-4o-mini: 600 × 0.15 + 400 × 0.075 + 100 × 0.60 = 90 + 30 + 60 = 180 per 1M
    expect(row.costUsd).toBe(0.00018);
  });

  test("the answering attempt carries the request's usage and cost when there is no per-attempt usage", () => {
    const row = rowsFor(record({ attempts: [attempt(429), attempt(200)] }), tablePrices, { now: NOW });
    expect(row.attempts).toEqual([
      { provider: "openai", model: "gpt-4o-mini-2024-07-18", status: 429, reason: "upstream_error", durationMs: 40, promptTokens: null, completionTokens: null, cachedPromptTokens: null, costUsd: 0 },
      { provider: "openai", model: "gpt-4o-mini-2024-07-18", status: 200, reason: "ok", durationMs: 40, promptTokens: 1_000, completionTokens: 100, cachedPromptTokens: 0, costUsd: 0.00021 },
    ]);
    expect(row.costUsd).toBe(0.00021);
  });

  test("an unknown model's cost is null, never 0, on the request and its attempt", () => {
    const row = rowsFor(record({ upstreamModel: "llama-3.1-70b", attempts: [attempt(200, "llama-3.1-70b", "local")] }), tablePrices, { now: NOW });
    expect(row.costUsd).toBeNull();
    expect(row.attempts[0]!.costUsd).toBeNull();
    expect(row.promptTokens).toBe(1_000);
  });

  test("the price lookup is asked with the target and its upstream model, so a per-target override applies", () => {
    const asked: [string | null, string][] = [];
    const prices: PriceLookup = (provider, model) => {
      asked.push([provider, model]);
      return priceFor(model, provider === "local" ? { input: 1, output: 2 } : undefined);
    };
    const row = rowsFor(record({ provider: "local", upstreamModel: "llama-3.1-70b", attempts: [attempt(200, "llama-3.1-70b", "local")] }), prices, { now: NOW });
    // 1,000 × 1 + 100 × 2 = 1,200 per 1M
    expect(row.costUsd).toBe(0.0012);
    expect(asked).toContainEqual(["local", "llama-3.1-70b"]);
  });

  test("a cache hit costs 0 and says so", () => {
    const row = rowsFor(record({ attempts: [], provider: null, upstreamModel: null }), tablePrices, { now: NOW, cached: true });
    expect(row.cached).toBe(true);
    expect(row.costUsd).toBe(0);
    expect(row.attempts).toEqual([]);
  });

  test("an estimated usage is priced and flagged", () => {
    const row = rowsFor(record({ outcome: "client_abort", status: 499, stream: true }), tablePrices, { now: NOW, usageEstimated: true });
    expect(row.usageEstimated).toBe(true);
    expect(row.costUsd).toBe(0.00021);
  });

  test("a client that left while its attempt was under way: the attempt's row has the request's estimate, so both tables sum alike", () => {
    const estimate = usage(12, 0);
    const cut = attempt(499, "gpt-4o-mini-2024-07-18", "openai", "client_closed_request");
    const row = rowsFor(record({ outcome: "client_abort", status: 499, usage: estimate, attempts: [cut], ttfbMs: undefined }), tablePrices, { now: NOW, usageEstimated: true });
    expect(row.attempts[0]).toMatchObject({ status: 499, reason: "client_closed_request", promptTokens: 12, completionTokens: 0 });
    expect(row.attempts[0]!.costUsd).toBe(row.costUsd);
    // Left during a retry wait after an upstream's 429: that refusal was not billed.
    const waited = rowsFor(record({ outcome: "client_abort", status: 499, usage: estimate, attempts: [attempt(429)] }), tablePrices, { now: NOW, usageEstimated: true });
    expect(waited.attempts[0]).toMatchObject({ status: 429, promptTokens: null, costUsd: 0 });
  });

  test("a stream the client left before any usage came: tokens and cost unknown, since the call ran", () => {
    const row = rowsFor(record({ outcome: "client_abort", status: 499, stream: true, usage: undefined, ttfbMs: undefined }), tablePrices, { now: NOW });
    expect(row).toMatchObject({ outcome: "client_abort", promptTokens: null, completionTokens: null, cachedPromptTokens: null, costUsd: null, ttfbMs: null });
  });

  test("a request refused before routing costs 0: no upstream was called", () => {
    const row = rowsFor(record({ status: 401, outcome: "error", model: null, provider: null, upstreamModel: null, attempts: [], usage: undefined, errorCode: "invalid_api_key" }), tablePrices, { now: NOW });
    expect(row).toMatchObject({ status: 401, outcome: "error", costUsd: 0, promptTokens: null, errorCode: "invalid_api_key" });
  });

  test("every attempt refused by its upstream (4xx) costs 0; a 5xx or a timeout may have been billed, so null", () => {
    const refused = rowsFor(record({ status: 429, outcome: "error", usage: undefined, attempts: [attempt(429), attempt(400)] }), tablePrices, { now: NOW });
    expect(refused.costUsd).toBe(0);
    for (const status of [500, 504, 408, 499]) {
      const ran = rowsFor(record({ status, outcome: "error", usage: undefined, attempts: [attempt(429), attempt(status)] }), tablePrices, { now: NOW });
      expect(ran.costUsd, String(status)).toBeNull();
      expect(ran.attempts.map((a) => a.costUsd), String(status)).toEqual([0, null]);
    }
  });

  test("with per-attempt usage the cost is what each upstream billed, each at its own price", () => {
    // A resumed stream: 300 completion tokens on gpt-4o, then a continuation on gpt-4.1.
    const row = rowsFor(
      record({ resumed: true, usage: usage(2_000, 500), attempts: [attempt(200, "gpt-4o"), attempt(200, "gpt-4.1", "openai", "resumed")] }),
      tablePrices,
      { now: NOW, attemptUsage: [usage(1_000, 300), usage(1_000, 200)] },
    );
    // gpt-4o: 1,000 × 2.5 + 300 × 10 = 5,500; gpt-4.1: 1,000 × 2 + 200 × 8 = 3,600; 9,100 per 1M
    expect(row.attempts.map((a) => a.costUsd)).toEqual([0.0055, 0.0036]);
    expect(row.costUsd).toBe(0.0091);
    expect(row.promptTokens).toBe(2_000);
  });

  test("a resumed request without per-attempt usage gives no attempt the summed usage", () => {
    const row = rowsFor(record({ resumed: true, attempts: [attempt(200), attempt(200, undefined, undefined, "resumed")] }), tablePrices, { now: NOW });
    expect(row.attempts.map((a) => a.promptTokens)).toEqual([null, null]);
    expect(row.costUsd).toBe(0.00021);
  });

  test("one attempt at an unknown price makes the request's cost null: a partial sum is not a total", () => {
    const row = rowsFor(
      record({ attempts: [attempt(200, "gpt-4o"), attempt(200, "mystery", "local", "resumed")], resumed: true }),
      tablePrices,
      { now: NOW, attemptUsage: [usage(10, 10), usage(10, 10)] },
    );
    expect(row.attempts.map((a) => a.costUsd)).toEqual([0.000125, null]);
    expect(row.costUsd).toBeNull();
  });
});
