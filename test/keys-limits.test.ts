// Tokens per minute and budgets per key over real HTTP: reservations at admission hold while
// requests are in flight (the upstream holds its answers), so concurrent requests cannot overshoot;
// settlement to the real usage gives back what was not used.
import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { costOf, tokenCounts } from "../src/cost/cost.ts";
import { chatAs, keyed, type KeyDoc } from "./support/keys.ts";
import { readSse } from "./support/sse.ts";

const A: KeyDoc = { id: "team-a", secret: "ck-team-a-secret" };

/** `hi` is one token by the estimate (2 characters / 4, rounded up) plus 4 for the message. */
const PROMPT = 5;

const tokenHeaders = (res: Response) => ["limit-tokens", "remaining-tokens", "reset-tokens"].map((h) => res.headers.get(`x-ratelimit-${h}`));
const errorOf = async (res: Response) => ((await res.json()) as { error: Record<string, unknown> }).error;

/** Sends `n` requests at once and waits until the admitted ones are all held at the upstream; returns the refused answers and the held ones' promises. */
async function burst(k: Awaited<ReturnType<typeof keyed>>, n: number, admitted: number, extra: Record<string, unknown>) {
  k.up.hold();
  const pending = Array.from({ length: n }, () => chatAs(k.gw, A.secret, extra));
  // Every refusal is answered without the upstream, while the admitted requests are held there.
  const refusedAll = Promise.withResolvers<void>();
  const answered: Response[] = [];
  pending.forEach((p) => void p.then((r) => answered.push(r) === n - admitted && refusedAll.resolve()));
  await Promise.all([k.up.arrived(admitted), n === admitted ? undefined : refusedAll.promise]);
  const refused = answered.slice();
  expect(k.up.calls).toHaveLength(admitted);
  k.up.release();
  const all = await Promise.all(pending);
  return { refused, admitted: all.filter((r) => !refused.includes(r)) };
}

describe("tokens per minute", () => {
  test("reservations prevent overshoot under concurrency: of 20 requests with max_tokens 200 at once, exactly those that fit tpm 1000 go upstream", async () => {
    await using k = keyed([{ ...A, tpm: 1000 }]);
    // Each reserves 5 + 200 = 205: four fit (820), a fifth would make 1025.
    const { refused, admitted } = await burst(k, 20, 4, { max_tokens: 200 });
    expect(admitted.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(refused.map((r) => r.status)).toEqual(Array(16).fill(429));
    const first = refused[0]!;
    expect(first.headers.get("retry-after")).toBe("30");
    expect(tokenHeaders(first)).toEqual(["1000", "180", "30s"]);
    expect(await errorOf(first)).toEqual({
      message: "Rate limit reached for key team-a on tokens per min (TPM): Limit 1000, Used 820, Requested 205. Please try again in 30s.",
      type: "tokens", param: null, code: "rate_limit_exceeded",
    });
    expect(k.records.filter((r) => r.status === 429).every((r) => r.keyId === "team-a" && r.errorCode === "rate_limit_exceeded" && r.attempts.length === 0)).toBe(true);
  });

  test("settlement gives back what was not used: four requests that used 8 tokens each leave 968 for the next", async () => {
    await using k = keyed([{ ...A, tpm: 1000 }]);
    await burst(k, 4, 4, { max_tokens: 200 });
    const next = await chatAs(k.gw, A.secret, { max_tokens: 200 });
    expect(next.status).toBe(200);
    expect(tokenHeaders(next)).toEqual(["1000", String(1000 - 4 * 8 - 205), "30s"]);
  });

  test("a stream settles to the usage its upstream reported, however the client asked", async () => {
    await using k = keyed([{ ...A, tpm: 1000 }]);
    k.up.usage = { prompt_tokens: 40, completion_tokens: 60, total_tokens: 100 };
    const stream = await chatAs(k.gw, A.secret, { stream: true, stream_options: { include_usage: true }, max_tokens: 300 });
    expect(tokenHeaders(stream)).toEqual(["1000", String(1000 - PROMPT - 300), "30s"]);
    expect((await readSse(stream)).data.at(-1)).toBe("[DONE]");
    const next = await chatAs(k.gw, A.secret, { max_tokens: 100 });
    expect(tokenHeaders(next)).toEqual(["1000", String(1000 - 100 - PROMPT - 100), "30s"]);
  });

  test("without max_tokens a request reserves reserve_completion_tokens; n choices reserve it n times", async () => {
    await using k = keyed([{ ...A, tpm: 10_000 }], { extra: { reserve_completion_tokens: 500 } });
    k.up.hold();
    const held = chatAs(k.gw, A.secret);
    await k.up.arrived(1);
    const second = await (k.up.release(), held);
    expect(tokenHeaders(second)).toEqual(["10000", String(10_000 - PROMPT - 500), "30s"]);
    k.up.hold();
    const choices = chatAs(k.gw, A.secret, { n: 3, max_tokens: 100 });
    await k.up.arrived(2);
    k.up.release();
    expect(tokenHeaders(await choices)).toEqual(["10000", String(10_000 - 8 - PROMPT - 300), "30s"]);
  });

  test("a request larger than the whole tpm is refused at once, with no Retry-After (no wait would help)", async () => {
    await using k = keyed([{ ...A, tpm: 1000 }]);
    const res = await chatAs(k.gw, A.secret, { max_tokens: 5000 });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBeNull();
    expect(await errorOf(res)).toMatchObject({ type: "tokens", code: "rate_limit_exceeded", message: expect.stringContaining("Request too large for key team-a") });
    expect(k.up.calls).toHaveLength(0);
  });

  test("the window starts over with the clock minute", async () => {
    await using k = keyed([{ ...A, tpm: 300 }]);
    k.up.usage = { prompt_tokens: 100, completion_tokens: 200, total_tokens: 300 };
    expect((await chatAs(k.gw, A.secret, { max_tokens: 200 })).status).toBe(200);
    expect((await chatAs(k.gw, A.secret, { max_tokens: 200 })).status).toBe(429);
    k.clock.advance(30_000);
    const res = await chatAs(k.gw, A.secret, { max_tokens: 200 });
    expect(res.status).toBe(200);
    expect(tokenHeaders(res)).toEqual(["300", String(300 - PROMPT - 200), "1m0s"]);
  });
});

describe("budgets", () => {
  // smart → gpt-4o-mini at $0.15 in, $0.60 out per 1M tokens.
  const price = { input: 0.15, output: 0.6 };
  const cost = (prompt: number, completion: number) => costOf(tokenCounts({ prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }), price)!;

  test("concurrent requests never overshoot: each reserves the most it could cost; the next is a 429 insufficient_quota", async () => {
    // Each request reserves 5 × 0.15 + 500 × 0.60 = $0.00030075 (per 1M → µ$): three fit $0.001.
    await using k = keyed([{ ...A, budget: { usd: 0.001, period: "day" } }]);
    k.up.usage = { prompt_tokens: 5, completion_tokens: 400, total_tokens: 405 };
    const first = await burst(k, 10, 3, { max_tokens: 500 });
    expect(first.refused).toHaveLength(7);
    const refusal = first.refused[0]!;
    expect(refusal.status).toBe(429);
    expect(await errorOf(refusal)).toEqual({
      message:
        "You exceeded your current quota. Key team-a has spent $0.0009 of its $0.001 budget today (UTC) (requests in flight counted at the most they could cost), " +
        "and this request could cost up to $0.0003. The budget starts over in 11h59m30s; a lower max_tokens may fit before then.",
      type: "insufficient_quota", param: null, code: "insufficient_quota",
    });
    // 11 h 59 m 30 s until the UTC day ends.
    expect(refusal.headers.get("retry-after")).toBe(String(11 * 3600 + 59 * 60 + 30));
    // Settled: 3 × $0.00024075 spent, $0.00027775 left, less than one more reservation.
    const spent = 3 * cost(5, 400);
    expect(spent).toBeLessThanOrEqual(0.001);
    const second = await Promise.all(Array.from({ length: 5 }, () => chatAs(k.gw, A.secret, { max_tokens: 500 })));
    expect(second.map((r) => r.status)).toEqual(Array(5).fill(429));
    // A smaller request still fits what is left.
    expect((await chatAs(k.gw, A.secret, { max_tokens: 100 })).status).toBe(200);
    expect(k.up.calls).toHaveLength(4);
  });

  test("what a request used beyond its reservation is counted in full (the overshoot is that error), and the key is refused from then on", async () => {
    await using k = keyed([{ ...A, budget: { usd: 0.001, period: "month" } }]);
    // Reserved: $0.00030075; used: 5 + 2000 tokens = $0.00120075, $0.0009 more than reserved.
    k.up.usage = { prompt_tokens: 5, completion_tokens: 2000, total_tokens: 2005 };
    expect((await chatAs(k.gw, A.secret, { max_tokens: 500 })).status).toBe(200);
    const over = await chatAs(k.gw, A.secret, { max_tokens: 1 });
    expect(over.status).toBe(429);
    expect(await errorOf(over)).toMatchObject({ code: "insufficient_quota", message: expect.stringContaining("has spent $0.0012 of its $0.001 budget this month (UTC)") });
  });

  test("the official SDK sees OpenAI's insufficient_quota error", async () => {
    await using k = keyed([{ ...A, budget: { usd: 0.0001, period: "day" } }]);
    const err = await k.gw
      .client(A.secret)
      .chat.completions.create({ model: "smart", max_tokens: 1000, messages: [{ role: "user", content: "hi" }] })
      .then(() => "admitted", (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err).toMatchObject({ status: 429, code: "insufficient_quota", type: "insufficient_quota" });
  });

  test("a budgeted key asking for a model without a price is refused before any call: its cost could not be counted", async () => {
    await using k = keyed([{ ...A, budget: { usd: 1, period: "day" } }, { id: "free", secret: "ck-free" }]);
    const res = await chatAs(k.gw, A.secret, { model: "mystery" });
    expect(res.status).toBe(403);
    expect(await errorOf(res)).toMatchObject({ type: "permission_error", code: "model_not_priced", param: "model" });
    expect(k.up.calls).toHaveLength(0);
    // A key without a budget may use it.
    expect((await chatAs(k.gw, "ck-free", { model: "mystery" })).status).toBe(200);
  });

  test("a key with tpm and a budget gets both checked, and the token headers on every answer, refusals included", async () => {
    await using k = keyed([{ ...A, tpm: 2000, budget: { usd: 0.0005, period: "day" } }]);
    const ok = await chatAs(k.gw, A.secret, { max_tokens: 500 });
    expect(ok.status).toBe(200);
    expect(tokenHeaders(ok)).toEqual(["2000", String(2000 - PROMPT - 500), "30s"]);
    k.up.hold();
    const held = chatAs(k.gw, A.secret, { max_tokens: 500 });
    await k.up.arrived(2);
    const refused = await chatAs(k.gw, A.secret, { max_tokens: 500 });
    expect(refused.status).toBe(429);
    expect((await errorOf(refused)).code).toBe("insufficient_quota");
    expect(tokenHeaders(refused)).toEqual(["2000", String(2000 - 8 - PROMPT - 500), "30s"]);
    k.up.release();
    expect((await held).status).toBe(200);
  });
});
