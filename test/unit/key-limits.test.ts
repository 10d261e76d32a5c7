// Per-key limits without HTTP: the store's check-and-reserve and adjustment, the windows and reset
// format, the reservation estimates, and KeyLimits' admission and settlement on an injected clock.
import { describe, expect, test } from "bun:test";
import type { FinishRecord } from "../../src/gateway/finish.ts";
import type { Client } from "../../src/gateway/gateway.ts";
import type { Route } from "../../src/gateway/route-table.ts";
import { ClientKey } from "../../src/keys/client-key.ts";
import { completionReserve, costReserve, definitionsEstimate, highestPrice, inputEstimate, promptEstimate, textTokens, toNano } from "../../src/keys/estimate.ts";
import { countTokens as o200k } from "gpt-tokenizer/encoding/o200k_base";
import { KeyLimits, seedSpend, type PriceOf } from "../../src/keys/key-limits.ts";
import type { ClientKeySpec } from "../../src/keys/key-spec.ts";
import { minuteEnd, periodEnd, periodStart, resetDuration } from "../../src/keys/periods.ts";
import { GatewayError } from "../../src/errors.ts";
import type { ChatRequest } from "../../src/schema.ts";
import { MemoryCounters } from "../../src/state/counters.ts";

/** 2026-03-31 23:59:30 UTC: half a minute before a day's and a month's end. */
const T = Date.UTC(2026, 2, 31, 23, 59, 30);

describe("MemoryCounters.reserve and adjust", () => {
  const store = () => new MemoryCounters({ limit: Number.POSITIVE_INFINITY });

  test("an amount is added while the window stays within its limit; the one that would overshoot changes nothing", () => {
    const s = store();
    const item = { key: "tpm", amount: 400, limit: 1000, endsAt: T + 30_000 };
    expect(s.reserve([item], T)).toEqual({ refused: -1, windows: [{ count: 400, resetAt: T + 30_000 }] });
    expect(s.reserve([item], T)).toEqual({ refused: -1, windows: [{ count: 800, resetAt: T + 30_000 }] });
    expect(s.reserve([item], T)).toEqual({ refused: 0, windows: [{ count: 800, resetAt: T + 30_000 }] });
    expect(s.reserve([{ ...item, amount: 200 }], T).windows[0]!.count).toBe(1000);
  });

  test("several items are all or nothing: one that does not fit leaves the others untouched", () => {
    const s = store();
    const tokens = { key: "tpm", amount: 10, limit: 100, endsAt: T + 30_000 };
    const spend = { key: "usd", amount: 5, limit: 7, endsAt: T + 30_000 };
    expect(s.reserve([tokens, spend], T).refused).toBe(-1);
    expect(s.reserve([tokens, spend], T)).toEqual({ refused: 1, windows: [{ count: 10, resetAt: T + 30_000 }, { count: 5, resetAt: T + 30_000 }] });
    expect(s.reserve([tokens], T).windows[0]!.count).toBe(20);
  });

  test("a window that has ended starts over, at the new end", () => {
    const s = store();
    s.reserve([{ key: "k", amount: 5, limit: 5, endsAt: T + 1000 }], T);
    expect(s.reserve([{ key: "k", amount: 1, limit: 5, endsAt: T + 1000 }], T).refused).toBe(0);
    expect(s.reserve([{ key: "k", amount: 1, limit: 5, endsAt: T + 61_000 }], T + 1000)).toEqual({ refused: -1, windows: [{ count: 1, resetAt: T + 61_000 }] });
  });

  test("adjust gives back or adds to the window the reservation went to, never below 0, and never to a later window", () => {
    const s = store();
    const at = { key: "k", endsAt: T + 30_000 };
    s.reserve([{ ...at, amount: 500, limit: 1000 }], T);
    s.adjust([{ ...at, delta: -450 }], T + 1);
    expect(s.reserve([{ ...at, amount: 0, limit: 1000 }], T + 1).windows[0]!.count).toBe(50);
    s.adjust([{ ...at, delta: -999 }], T + 1);
    expect(s.reserve([{ ...at, amount: 0, limit: 1000 }], T + 1).windows[0]!.count).toBe(0);
    s.adjust([{ ...at, delta: 70 }], T + 1);
    expect(s.reserve([{ ...at, amount: 0, limit: 1000 }], T + 1).windows[0]!.count).toBe(70);
    // The window ended and the next one opened: a late settlement of the old one changes nothing.
    s.reserve([{ key: "k", amount: 3, limit: 1000, endsAt: T + 90_000 }], T + 30_000);
    s.adjust([{ ...at, delta: 500 }], T + 30_001);
    expect(s.reserve([{ key: "k", amount: 0, limit: 1000, endsAt: T + 90_000 }], T + 30_001).windows[0]!.count).toBe(3);
  });

  test("reserve windows are not subject to the hit table's bound: a key's budget is never evicted", () => {
    const s = new MemoryCounters({ limit: 1, maxKeys: 2 });
    s.reserve([{ key: "usd:a:day", amount: 9, limit: 10, endsAt: T + 30_000 }], T);
    for (let i = 0; i < 10; i++) s.incr(`client-${i}`, 60_000, T);
    expect(s.reserve([{ key: "usd:a:day", amount: 2, limit: 10, endsAt: T + 30_000 }], T).refused).toBe(0);
  });

  test("ended windows are swept as the table grows (limits changed by reloads leave old counters behind)", () => {
    const s = store();
    for (let i = 0; i < 200; i++) s.reserve([{ key: `old-${i}`, amount: 1, limit: 10, endsAt: T + 1 }], T);
    for (let i = 0; i < 200; i++) s.reserve([{ key: `new-${i}`, amount: 1, limit: 10, endsAt: T + 120_000 }], T + 60_000);
    const held = (s as unknown as { held: Map<string, unknown> }).held;
    expect([...held.keys()].filter((k) => k.startsWith("old-")).length).toBeLessThan(200);
    expect([...held.keys()].filter((k) => k.startsWith("new-"))).toHaveLength(200);
  });
});

describe("windows and resets", () => {
  test("minute windows are aligned to the clock", () => {
    expect(minuteEnd(T)).toBe(T + 30_000);
    expect(minuteEnd(T + 30_000)).toBe(T + 90_000);
  });

  test("budget periods are the UTC day and month, months of any length", () => {
    expect(periodStart("day", T)).toBe(Date.UTC(2026, 2, 31));
    expect(periodEnd("day", T)).toBe(Date.UTC(2026, 3, 1));
    expect(periodStart("month", T)).toBe(Date.UTC(2026, 2, 1));
    expect(periodEnd("month", T)).toBe(Date.UTC(2026, 3, 1));
    expect(periodEnd("month", Date.UTC(2028, 1, 29, 12))).toBe(Date.UTC(2028, 2, 1));
    expect(periodEnd("month", Date.UTC(2026, 11, 31, 23))).toBe(Date.UTC(2027, 0, 1));
  });

  test("resets are written as OpenAI writes them (Go durations)", () => {
    const cases: [number, string][] = [[0, "0s"], [20, "20ms"], [999, "999ms"], [1000, "1s"], [59_500, "59.5s"], [60_000, "1m0s"], [360_000, "6m0s"], [3_723_004, "1h2m3.004s"], [86_400_000, "24h0m0s"], [-5, "0s"], [1234.4, "1.234s"]];
    for (const [ms, text] of cases) expect(resetDuration(ms)).toBe(text);
  });
});

describe("reservation estimates", () => {
  const messages = (...contents: ChatRequest["messages"][number]["content"][]) => contents.map((content) => ({ role: "user", content }));

  test("the prompt is characters / 4 of the messages' ASCII text, plus 4 a message and 1,000 an image part", () => {
    expect(promptEstimate(messages("x".repeat(400)))).toBe(104);
    expect(promptEstimate(messages([{ type: "text", text: "x".repeat(40) }, { type: "image_url" }], "abc"))).toBe(10 + 1_000 + 1 + 8);
    const call = { role: "assistant", content: null, tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "y".repeat(80) } }] };
    expect(promptEstimate([call])).toBe(20 + 4);
  });

  test("a character beyond ASCII counts as a token (Chinese text is about a token a character): concurrent requests cannot overshoot by 4×", () => {
    const chinese = "你好世界".repeat(75);
    expect(textTokens(chinese)).toBe(300);
    expect(promptEstimate(messages(`realcount ${chinese}`))).toBe(Math.ceil(10 / 4 + 300) + 4);
    // o200k_base, the tokenizer of gpt-4o: the estimate is not below the real count.
    expect(textTokens(chinese)).toBeGreaterThanOrEqual(o200k(chinese));
    // Two 2-byte characters add 2 bytes: taken as one character beyond ASCII.
    expect(textTokens("héllo wörld")).toBeCloseTo(10 / 4 + 1, 5);
    expect(textTokens("🙂🙂")).toBeCloseTo(2 / 4 + 2, 5);
    expect(inputEstimate(chinese)).toBe(300);
  });

  test("tool and function definitions and a response_format schema count as prompt, as their JSON / 4; a text format does not", () => {
    const body = (extra: Record<string, unknown>) => ({ model: "m", messages: messages("hi"), ...extra }) as ChatRequest;
    const tools = [{ type: "function", function: { name: "f", description: "d".repeat(400) } }];
    expect(definitionsEstimate(body({}))).toBe(0);
    expect(definitionsEstimate(body({ tools }))).toBe(Math.ceil(JSON.stringify(tools).length / 4));
    expect(definitionsEstimate(body({ functions: tools }))).toBe(Math.ceil(JSON.stringify(tools).length / 4));
    const schema = { type: "json_schema", json_schema: { name: "s", schema: { description: "d".repeat(400) } } };
    expect(definitionsEstimate(body({ response_format: schema }))).toBe(Math.ceil(JSON.stringify(schema).length / 4));
    expect(definitionsEstimate(body({ response_format: { type: "text" } }))).toBe(0);
  });

  test("the completion is max_completion_tokens, else max_tokens, else the default, for each choice", () => {
    const body = (extra: Partial<ChatRequest>): ChatRequest => ({ model: "m", messages: messages("hi"), ...extra });
    expect(completionReserve(body({}), 1024)).toBe(1024);
    expect(completionReserve(body({ max_tokens: 50 }), 1024)).toBe(50);
    expect(completionReserve(body({ max_tokens: 50, max_completion_tokens: 70 }), 1024)).toBe(70);
    expect(completionReserve(body({ max_tokens: 50, n: 3 }), 1024)).toBe(150);
  });

  test("the cost bound prices prompt and completion at the route's highest rates, in whole nano-dollars", () => {
    expect(highestPrice([{ input: 0.15, output: 0.6 }, { input: 2.5, output: 0.5 }])).toEqual({ input: 2.5, output: 0.6 });
    expect(highestPrice([{ input: 1, output: 1 }, null])).toBeNull();
    // 100 × $0.15/M + 1000 × $0.60/M = $0.000615
    expect(costReserve(100, 1000, { input: 0.15, output: 0.6 })).toBe(615_000);
    expect(toNano(0.000615)).toBe(615_000);
  });
});

const ROUTE: Route = { name: "smart", strategy: "priority", targets: [{ provider: "a", model: "gpt-4o-mini", weight: 1 }, { provider: "b", model: "local", weight: 1 }], resume: false, maxResumes: 0 };
const PRICES: PriceOf = (provider, model) => (model === "gpt-4o-mini" ? { input: 0.15, output: 0.6 } : provider === "b" ? { input: 1, output: 2 } : null);

function limits(spec: ClientKeySpec, now = { t: T }) {
  const store = new MemoryCounters({ limit: Number.POSITIVE_INFINITY });
  const keyLimits = new KeyLimits({ store, now: () => now.t, prices: PRICES, reserveCompletionTokens: 100 });
  return { store, now, key: new ClientKey(spec, keyLimits), keyLimits };
}

const call = (extra: Partial<ChatRequest> = {}) => ({ body: { model: "smart", messages: [{ role: "user", content: "x".repeat(64) }], ...extra }, raw: "" });

/** The finish record of a request that ran on provider a with `usage`. */
function finished(usage: FinishRecord["usage"], attempts: FinishRecord["attempts"] = [{ provider: "a", model: "gpt-4o-mini", status: 200, reason: "ok", durationMs: 1 }]): FinishRecord {
  return {
    requestId: null, keyId: "team-a", route: "/v1/chat/completions", stream: false, model: "smart", provider: attempts.at(-1)?.provider ?? null,
    upstreamModel: attempts.at(-1)?.model ?? null, status: 200, outcome: "ok", attempts, resumed: false, usage, ttfbMs: 1, durationMs: 1, errorCode: null,
  };
}

function refusal(run: () => unknown): GatewayError {
  try {
    run();
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error("admitted");
}

describe("KeyLimits", () => {
  test("rpm: exactly `rpm` requests a clock minute, refused ones not counted, with the wait until the minute ends", () => {
    const { key, keyLimits, now } = limits({ id: "team-a", rpm: 3 });
    const decisions = Array.from({ length: 5 }, () => keyLimits.requests(key));
    expect(decisions.map((d) => "allowed" in d && [d.allowed, d.remaining, d.resetMs])).toEqual([[true, 2, 30_000], [true, 1, 30_000], [true, 0, 30_000], [false, 0, 30_000], [false, 0, 30_000]]);
    now.t += 30_000;
    expect(keyLimits.requests(key)).toMatchObject({ allowed: true, remaining: 2, resetMs: 60_000 });
  });

  test("tpm: the reservation is the prompt's estimate plus max_tokens; a request that would overshoot is a 429 with the wait", () => {
    const { key, keyLimits } = limits({ id: "team-a", tpm: 300 });
    const headers: Record<string, unknown> = {};
    keyLimits.admit(key, call({ max_tokens: 100 }), ROUTE, headers);
    // 64 chars / 4 + 4 = 20 prompt tokens, + 100.
    expect(headers).toEqual({ "x-ratelimit-limit-tokens": "300", "x-ratelimit-remaining-tokens": "180", "x-ratelimit-reset-tokens": "30s" });
    keyLimits.admit(key, call({ max_tokens: 100 }), ROUTE, headers);
    const err = refusal(() => keyLimits.admit(key, call({ max_tokens: 100 }), ROUTE, headers));
    expect(err).toMatchObject({ status: 429, type: "tokens", code: "rate_limit_exceeded", retryAfterMs: 30_000 });
    expect(err.message).toContain("Limit 300, Used 240, Requested 120");
    expect(headers["x-ratelimit-remaining-tokens"]).toBe("60");
  });

  test("tpm: a request larger than the whole limit is refused without a Retry-After (no wait helps)", () => {
    const { key, keyLimits } = limits({ id: "team-a", tpm: 100 });
    const err = refusal(() => keyLimits.admit(key, call({ max_tokens: 500 }), ROUTE, {}));
    expect(err).toMatchObject({ status: 429, type: "tokens", code: "rate_limit_exceeded", retryAfterMs: undefined });
    expect(err.message).toContain("Request too large");
  });

  test("settling gives back what the request did not use, and counts what it used beyond its reservation", () => {
    const { key, keyLimits } = limits({ id: "team-a", tpm: 300 });
    const headers: Record<string, unknown> = {};
    const settle = keyLimits.admit(key, call({ max_tokens: 200 }), ROUTE, headers) as (r: FinishRecord) => void;
    expect(headers["x-ratelimit-remaining-tokens"]).toBe("80");
    settle(finished({ prompt_tokens: 12, completion_tokens: 8, total_tokens: 20 }));
    keyLimits.admit(key, call({ max_tokens: 10 }), ROUTE, headers);
    expect(headers["x-ratelimit-remaining-tokens"]).toBe(String(300 - 20 - 30));
    const over = keyLimits.admit(key, call({ max_tokens: 10 }), ROUTE, headers) as (r: FinishRecord) => void;
    over(finished({ prompt_tokens: 100, completion_tokens: 100, total_tokens: 200 }));
    keyLimits.admit(key, call({ max_tokens: 1 }), ROUTE, headers);
    expect(headers["x-ratelimit-remaining-tokens"]).toBe(String(300 - 20 - 30 - 200 - 21));
  });

  test("settling: no upstream call or an upstream refusal uses nothing; a call that ran without usage keeps its reservation", () => {
    const { key, keyLimits } = limits({ id: "team-a", tpm: 1000 });
    const headers: Record<string, unknown> = {};
    const remaining = () => Number(headers["x-ratelimit-remaining-tokens"]);
    const admit = () => keyLimits.admit(key, call({ max_tokens: 80 }), ROUTE, headers) as (r: FinishRecord) => void;
    admit()(finished(undefined, []));
    admit()(finished(undefined, [{ provider: "a", model: "gpt-4o-mini", status: 429, reason: "upstream_rate_limited", durationMs: 1 }]));
    admit()(finished(undefined, [{ provider: "a", model: "gpt-4o-mini", status: 504, reason: "upstream_timeout", durationMs: 1 }]));
    admit();
    // Four reservations of 100: the first two given back, the third kept (unknown), the fourth in flight.
    expect(remaining()).toBe(1000 - 200);
  });

  test("budget: the most a request could cost is reserved at the route's highest price, and spend settles to the real cost", () => {
    // Route prices: a $0.15/$0.60, b $1/$2 per 1M tokens; the bound is $1 in, $2 out.
    const { key, keyLimits } = limits({ id: "team-a", budget: { usd: 0.001, period: "day" } });
    // 20 prompt + 200 completion at the bound: 20 × 1 + 200 × 2 = 420 µ$/M … = $0.00042.
    const first = keyLimits.admit(key, call({ max_tokens: 200 }), ROUTE, {}) as (r: FinishRecord) => void;
    const second = keyLimits.admit(key, call({ max_tokens: 200 }), ROUTE, {}) as (r: FinishRecord) => void;
    const err = refusal(() => keyLimits.admit(key, call({ max_tokens: 200 }), ROUTE, {}));
    expect(err).toMatchObject({ status: 429, type: "insufficient_quota", code: "insufficient_quota", param: null, retryAfterMs: 30_000 });
    expect(err.message).toContain("has spent $0.00084 of its $0.001 budget today (UTC)");
    // Served by a at $0.15/$0.60: 1000 prompt + 100 completion = $0.00021.
    first(finished({ prompt_tokens: 1000, completion_tokens: 100, total_tokens: 1100 }));
    second(finished({ prompt_tokens: 1000, completion_tokens: 100, total_tokens: 1100 }));
    // $0.00042 spent, $0.00058 left: one more reservation of $0.00042 fits, a second does not.
    keyLimits.admit(key, call({ max_tokens: 200 }), ROUTE, {});
    expect(refusal(() => keyLimits.admit(key, call({ max_tokens: 200 }), ROUTE, {})).code).toBe("insufficient_quota");
  });

  test("budget: the spend starts over when the UTC day does, and seeding adds spend known from the ledger", () => {
    const { key, keyLimits, store, now } = limits({ id: "team-a", budget: { usd: 0.001, period: "day" } });
    seedSpend(store, now.t, "team-a", "day", 0.0009);
    expect(refusal(() => keyLimits.admit(key, call({ max_tokens: 200 }), ROUTE, {})).retryAfterMs).toBe(30_000);
    now.t += 30_000;
    expect(keyLimits.admit(key, call({ max_tokens: 200 }), ROUTE, {})).toBeFunction();
  });

  test("budget: a request that could cost more than the whole budget is refused without a Retry-After", () => {
    const { key, keyLimits } = limits({ id: "team-a", budget: { usd: 0.0001, period: "month" } });
    const err = refusal(() => keyLimits.admit(key, call({ max_tokens: 1000 }), ROUTE, {}));
    expect(err).toMatchObject({ code: "insufficient_quota", retryAfterMs: undefined });
    expect(err.message).toContain("more than the key's whole monthly budget");
  });

  test("budget on a model without a price: refused before any call (403 model_not_priced), never counted as free", () => {
    const { key, keyLimits } = limits({ id: "team-a", budget: { usd: 1, period: "day" } });
    const unpriced: Route = { ...ROUTE, name: "mystery", targets: [{ provider: "c", model: "mystery-1", weight: 1 }] };
    expect(refusal(() => keyLimits.admit(key, call(), unpriced, {}))).toMatchObject({ status: 403, type: "permission_error", code: "model_not_priced", param: "model" });
  });

  test("tpm and budget are reserved together: a budget refusal takes no tokens", () => {
    const { key, keyLimits } = limits({ id: "team-a", tpm: 10_000, budget: { usd: 0.0005, period: "day" } });
    const headers: Record<string, unknown> = {};
    keyLimits.admit(key, call({ max_tokens: 200 }), ROUTE, headers);
    expect(refusal(() => keyLimits.admit(key, call({ max_tokens: 200 }), ROUTE, headers)).code).toBe("insufficient_quota");
    expect(headers["x-ratelimit-remaining-tokens"]).toBe(String(10_000 - 220));
  });

  test("a key without tpm or budget is not metered: the gateway gets the key itself, nothing allocated", () => {
    const plain = limits({ id: "team-a", rpm: 5, models: ["smart"] }).key;
    expect(plain.forRequest({})).toBe(plain);
    expect((plain as Client).admit).toBeUndefined();
    const metered = limits({ id: "team-b", tpm: 5 }).key;
    expect(metered.forRequest({})).not.toBe(metered);
    expect(metered.forRequest({}).admit).toBeFunction();
  });
});

describe("KeyLimits over a store that answers later (as Redis will)", () => {
  /** MemoryCounters behind promises: every operation settles on a later turn. */
  function asyncStore() {
    const memory = new MemoryCounters({ limit: Number.POSITIVE_INFINITY });
    const adjusted = Promise.withResolvers<void>();
    const store = {
      incr: memory.incr.bind(memory),
      peek: memory.peek.bind(memory),
      reserve: (items: Parameters<MemoryCounters["reserve"]>[0], now: number) => Promise.resolve().then(() => memory.reserve(items, now)),
      adjust: (items: Parameters<MemoryCounters["adjust"]>[0], now: number) =>
        Promise.resolve().then(() => {
          memory.adjust(items, now);
          adjusted.resolve();
        }),
    };
    return { store, adjusted: adjusted.promise };
  }

  test("requests, admission and settlement work the same when every store operation is a promise", async () => {
    const { store, adjusted } = asyncStore();
    const keyLimits = new KeyLimits({ store, now: () => T, prices: PRICES, reserveCompletionTokens: 100 });
    const key = new ClientKey({ id: "team-a", rpm: 1, tpm: 300, budget: { usd: 1, period: "day" } }, keyLimits);
    expect(await keyLimits.requests(key)).toMatchObject({ allowed: true, remaining: 0 });
    expect(await keyLimits.requests(key)).toMatchObject({ allowed: false });
    const headers: Record<string, unknown> = {};
    const settle = await keyLimits.admit(key, call({ max_tokens: 200 }), ROUTE, headers);
    expect(headers["x-ratelimit-remaining-tokens"]).toBe("80");
    await expect(Promise.resolve(keyLimits.admit(key, call({ max_tokens: 200 }), ROUTE, headers))).rejects.toMatchObject({ status: 429, type: "tokens" });
    settle(finished({ prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 }));
    await adjusted;
    await keyLimits.admit(key, call({ max_tokens: 200 }), ROUTE, headers);
    expect(headers["x-ratelimit-remaining-tokens"]).toBe(String(300 - 20 - 220));
  });

  test("a settlement the store fails to take is reported, not thrown: the request was served", async () => {
    const { store } = asyncStore();
    const warned = Promise.withResolvers<string>();
    const failing = { ...store, adjust: () => Promise.reject(new Error("connection reset")) };
    const keyLimits = new KeyLimits({ store: failing, now: () => T, prices: PRICES, reserveCompletionTokens: 100, warn: warned.resolve });
    const key = new ClientKey({ id: "team-a", tpm: 300 }, keyLimits);
    const settle = await keyLimits.admit(key, call({ max_tokens: 10 }), ROUTE, {});
    expect(() => settle(finished({ prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 }))).not.toThrow();
    expect(await warned.promise).toBe("chatgate: could not settle key team-a's reservation: connection reset");
  });
});
