// Resilience (issue 9) across a request's whole chain of attempts: one overall deadline, a
// client that goes away mid-chain, and cooldowns that span requests. Waits and the cooldown clock
// are injected (see support/clock.ts); the few real waits are a few hundred milliseconds.
import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import type { ChatCompletion } from "openai/resources/chat/completions";
import type { FinishRecord } from "../src/gateway/finish.ts";
import { TestClock } from "./support/clock.ts";
import { anthropicAt, keyOf, openaiAt } from "./support/config-file.ts";
import { fakeAnthropic } from "./support/fake-anthropic.ts";
import { MODEL_A, MODEL_B, callNumber, chat, errorOf, pair, startRouted, within } from "./support/routed.ts";
import { fakeOpenAI } from "./support/upstream.ts";

async function answeredBy(res: Response, model: string) {
  expect(res.status).toBe(200);
  expect(((await res.json()) as ChatCompletion).model).toBe(model);
}

describe("one overall deadline bounds the whole chain", () => {
  test("a Retry-After wait that would end past the deadline is not taken: the next target answers at once", async () => {
    await using p = pair({ config: { retries: 2, max_retry_wait: "10s", timeout: "2s" } });
    p.a.reply({ kind: "error", status: 429, headers: { "retry-after": "1.5" } }, { kind: "error", status: 429, headers: { "retry-after": "1.5" } });
    await answeredBy(await chat(p.gw), MODEL_B);
    expect(p.clock.sleeps).toEqual([1500]);
    expect([p.a.calls.length, p.b.calls.length]).toEqual([2, 1]);
  });

  test("attempts count against it too (CHATGATE_TIMEOUT_MS): a silent first target uses it up, and no call starts after it", async () => {
    await using p = pair({ env: { CHATGATE_TIMEOUT_MS: "300" }, realTime: true });
    p.a.reply({ kind: "stall" });
    p.b.reply({ kind: "stall" });
    const started = performance.now();
    const got = await errorOf(await chat(p.gw, {}, { signal: AbortSignal.timeout(2_000) }));
    const elapsed = performance.now() - started;
    expect(got.status).toBe(504);
    expect(got.error.code).toBe("upstream_timeout");
    expect(elapsed).toBeLessThan(550);
    expect(p.b.calls).toHaveLength(0);
  });

  test("a stream's wait for its first event ends at the deadline (timeout: in the file) too, however long first_byte is", async () => {
    await using p = pair({ config: { timeout: "300ms" }, a: { timeouts: { first_byte: "30s" } }, realTime: true });
    p.a.reply({ kind: "stall" });
    const started = performance.now();
    const res = await chat(p.gw, { stream: true }, { signal: AbortSignal.timeout(1_000) }).catch((err: unknown) => err);
    expect(res).toBeInstanceOf(Response);
    const got = await errorOf(res as Response);
    expect(got.status).toBe(504);
    expect(performance.now() - started).toBeLessThan(550);
    expect(p.b.calls).toHaveLength(0);
  });
});

describe("a client that goes away stops the chain", () => {
  test("during a backoff wait: the wait ends and no further upstream call is made", async () => {
    await using p = pair({ config: { retries: 2 } });
    p.clock.hold = true;
    p.a.reply({ kind: "error", status: 500 });
    const client = new AbortController();
    const answer = chat(p.gw, {}, { signal: client.signal }).catch(() => undefined);
    expect(await p.clock.sleeping()).toBe(125);
    client.abort();
    expect(await answer).toBeUndefined();
    await within(p.gw.app.stats.idle(), 2_000, "the request's end");
    expect([p.a.calls.length, p.b.calls.length]).toEqual([1, 0]);
  });

  test("during a Retry-After wait: the request ends as the client's abort (499 client_abort), not as the upstream's 429", async () => {
    await using p = pair({ config: { retries: 2 } });
    p.clock.hold = true;
    p.a.reply({ kind: "error", status: 429, headers: { "retry-after": "2" } });
    const record = new Promise<FinishRecord>((resolve) => p.gw.app.gateway.finishes.subscribe(resolve));
    const client = new AbortController();
    const answer = chat(p.gw, {}, { signal: client.signal }).catch(() => undefined);
    expect(await p.clock.sleeping()).toBe(2_000);
    client.abort();
    await answer;
    expect(await within(record, 2_000, "the finish record")).toMatchObject({ status: 499, outcome: "client_abort" });
    expect([p.a.calls.length, p.b.calls.length]).toEqual([1, 0]);
  });

  test.each([false, true])("during an attempt (stream: %p): the call in flight is aborted and no other target is called", async (stream) => {
    await using p = pair({ config: { retries: 2 } });
    p.a.reply({ kind: "stall" });
    const client = new AbortController();
    const answer = chat(p.gw, { stream }, { signal: client.signal }).catch(() => undefined);
    const inFlight = await p.a.nextCall();
    client.abort();
    await answer;
    await within(inFlight.aborted, 2_000, "the upstream call's abort");
    await within(p.gw.app.stats.idle(), 2_000, "the request's end");
    expect([p.a.calls.length, p.b.calls.length]).toEqual([1, 0]);
    expect(p.clock.sleeps).toEqual([]);
  });
});

interface TargetStatus {
  provider: string;
  model: string;
  state: string;
  failures_in_a_row: number;
  cooling_until: string | null;
  last_error: string | null;
}

async function targets(p: { gw: { url: string } }): Promise<{ text: string; targets: TargetStatus[] }> {
  const text = await (await fetch(`${p.gw.url}/status`)).text();
  return { text, targets: (JSON.parse(text) as { targets: TargetStatus[] }).targets };
}

describe("a shutdown out of drain time", () => {
  test("ends a request waiting between attempts with 503 server_shutting_down, recorded so, not as the client's abort", async () => {
    await using p = pair({ config: { retries: 2 } });
    const done: FinishRecord[] = [];
    p.gw.app.gateway.finishes.subscribe((r) => done.push(r));
    p.clock.hold = true;
    p.a.reply({ kind: "error", status: 429, headers: { "retry-after": "5" } });
    const answer = chat(p.gw);
    expect(await p.clock.sleeping()).toBe(5_000);
    p.gw.app.gateway.stopAll();
    const got = await errorOf(await answer);
    expect([got.status, got.error.code]).toEqual([503, "server_shutting_down"]);
    expect(done.map((r) => [r.status, r.outcome, r.errorCode])).toEqual([[503, "error", "server_shutting_down"]]);
    expect([p.a.calls.length, p.b.calls.length]).toEqual([1, 0]);
  });
});

describe("cooldown", () => {
  const COOLING = { cooldown_after: 2, cooldown: "30s" };

  test("a flapping primary cools down after cooldown_after failures, is skipped, then one request probes it and a success closes it", async () => {
    await using p = pair({ config: COOLING });
    const t0 = p.clock.now();
    p.a.reply({ kind: "error", status: 500 }, { kind: "error", status: 500 });
    await answeredBy(await chat(p.gw), MODEL_B);
    await answeredBy(await chat(p.gw), MODEL_B);
    const cooling = await targets(p);
    expect(cooling.targets).toEqual([
      { provider: "a", model: MODEL_A, state: "cooling_down", failures_in_a_row: 2, cooling_until: new Date(t0 + 30_000).toISOString(), last_error: "500 upstream_error" },
    ]);
    expect(cooling.text).not.toContain(keyOf("a"));

    // While it cools down, requests go straight to the fallback.
    p.clock.advance(29_999);
    await answeredBy(await chat(p.gw), MODEL_B);
    expect([p.a.calls.length, p.b.calls.length]).toEqual([2, 3]);

    p.clock.advance(1);
    expect((await targets(p)).targets[0]).toMatchObject({ state: "probe_due", cooling_until: null });
    // The probe is held open: a request meanwhile still goes to the fallback.
    p.a.reply({ kind: "completion", delayMs: 300 });
    const probe = chat(p.gw);
    const probeCall = await callNumber(p.a, 3);
    expect((await targets(p)).targets[0]).toMatchObject({ state: "probing" });
    await answeredBy(await chat(p.gw), MODEL_B);
    expect(p.a.calls).toHaveLength(3);
    await answeredBy(await probe, MODEL_A);
    await probeCall.finished;
    expect((await targets(p)).targets[0]).toMatchObject({ state: "healthy", failures_in_a_row: 0, cooling_until: null, last_error: null });
    await answeredBy(await chat(p.gw), MODEL_A);
    expect([p.a.calls.length, p.b.calls.length]).toEqual([4, 4]);
  });

  test("a failed probe puts the target straight back into cooldown", async () => {
    await using p = pair({ config: COOLING });
    p.a.reply(...Array(3).fill({ kind: "error", status: 503 }));
    await chat(p.gw);
    await chat(p.gw);
    p.clock.advance(30_000);
    await answeredBy(await chat(p.gw), MODEL_B);
    expect((await targets(p)).targets[0]).toMatchObject({ state: "cooling_down", failures_in_a_row: 3, cooling_until: new Date(p.clock.now() + 30_000).toISOString() });
    await answeredBy(await chat(p.gw), MODEL_B);
    expect([p.a.calls.length, p.b.calls.length]).toEqual([3, 4]);
  });

  test("the caller's own 400 does not count towards a cooldown: it breaks the run of failures", async () => {
    await using p = pair({ config: COOLING });
    p.a.reply({ kind: "error", status: 500 }, { kind: "error", status: 400 }, { kind: "error", status: 500 });
    await answeredBy(await chat(p.gw), MODEL_B);
    expect((await chat(p.gw)).status).toBe(400);
    await answeredBy(await chat(p.gw), MODEL_B);
    expect((await targets(p)).targets[0]).toMatchObject({ state: "healthy", failures_in_a_row: 1 });
    await answeredBy(await chat(p.gw), MODEL_A);
  });

  test("a request refused before it is sent (a parameter the provider cannot take) never counts against the target", async () => {
    const claude = fakeAnthropic();
    const b = fakeOpenAI();
    const clock = new TestClock();
    const gw = startRouted(
      {
        providers: [anthropicAt("claude", claude), openaiAt("b", b)],
        models: { smart: { targets: [{ provider: "claude", model: "claude-sonnet-4-5" }, { provider: "b", model: MODEL_B }] }, solo: { targets: [{ provider: "claude", model: "claude-sonnet-4-5" }] } },
        ...COOLING,
      },
      clock.overrides,
    );
    try {
      // n: 2 is a parameter Anthropic does not take: 400 on the lone target, the fallback on smart.
      for (let i = 0; i < 3; i++) expect((await chat(gw, { model: "solo", n: 2 })).status).toBe(400);
      for (let i = 0; i < 3; i++) await answeredBy(await chat(gw, { n: 2 }), MODEL_B);
      expect((await targets({ gw })).targets).toEqual([]);
      const ok = await chat(gw, { model: "solo" });
      expect(ok.status).toBe(200);
      expect(claude.calls).toHaveLength(1);
    } finally {
      await gw.stop();
      await Promise.all([claude.stop(), b.stop()]);
    }
  });

  test("prompts too long or too large for a target move on to the next but never cool it down: one client cannot take a model from everyone", async () => {
    await using p = pair({ config: { cooldown_after: 1, cooldown: "30s" } });
    const tooLong = { kind: "error", status: 400, error: { message: "This model's maximum context length is 128000 tokens.", type: "invalid_request_error", param: "messages", code: "context_length_exceeded" } } as const;
    p.a.reply(tooLong, { kind: "error", status: 413 }, tooLong);
    for (let i = 0; i < 3; i++) await answeredBy(await chat(p.gw), MODEL_B);
    await answeredBy(await chat(p.gw), MODEL_A);
    expect([p.a.calls.length, p.b.calls.length]).toEqual([4, 3]);
  });

  test("when every target of a model is cooling down, the client gets a 503 at once with no upstream call", async () => {
    await using p = pair({ config: { cooldown_after: 1, cooldown: "30s", retries: 2 } });
    p.a.reply({ kind: "error", status: 401 });
    p.b.reply({ kind: "error", status: 404 });
    expect((await chat(p.gw)).status).toBe(404);
    p.clock.advance(10_000);
    const res = await chat(p.gw);
    // SDKs wait a 503's Retry-After before their own retry: the rest of the cooldown, not at once.
    expect(res.headers.get("retry-after")).toBe("20");
    const got = await errorOf(res);
    expect(got.status).toBe(503);
    expect(got.error).toMatchObject({ type: "server_error", code: "targets_cooling_down" });
    expect(got.error.message).toContain("'smart'");
    expect([p.a.calls.length, p.b.calls.length]).toEqual([1, 1]);
    expect(p.clock.sleeps).toEqual([]);
  });
});

describe("the client's own retries do not multiply the router's", () => {
  const sdk = (baseURL: string) => new OpenAI({ baseURL, apiKey: "unused", maxRetries: 2 });
  const HI = [{ role: "user" as const, content: "hi" }];

  test("an error the router already retried and fell back on says x-should-retry: false, so the openai SDK does not run the chain again", async () => {
    await using p = pair({ config: { retries: 1 } });
    const fail = { kind: "error", status: 500 } as const;
    p.a.reply(fail, fail, fail);
    p.b.reply(fail, fail, fail);
    const err = (await sdk(p.gw.baseURL).chat.completions.create({ model: "smart", messages: HI }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(502);
    expect(err.headers?.get("x-should-retry")).toBe("false");
    expect([p.a.calls.length, p.b.calls.length]).toEqual([2, 2]);
  });

  test("a refused provider key is never worth a retry: one upstream call, however many retries the SDK has", async () => {
    await using p = pair({ config: { retries: 2 } });
    p.a.reply({ kind: "error", status: 401 }, { kind: "error", status: 401 }, { kind: "error", status: 401 });
    const err = (await sdk(p.gw.baseURL).chat.completions.create({ model: `a/${MODEL_A}`, messages: HI }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect([err.status, (err.error as { code?: string }).code]).toEqual([502, "upstream_auth_failed"]);
    expect(p.a.calls).toHaveLength(1);
  });

  test("a single attempt that may pass next time leaves the retry to the client, as does an upstream 429", async () => {
    await using p = pair();
    p.a.reply({ kind: "error", status: 429, headers: { "retry-after": "0" } });
    const res = await chat(p.gw, { model: `a/${MODEL_A}` });
    expect(res.status).toBe(429);
    expect(res.headers.get("x-should-retry")).toBeNull();
    p.a.reply({ kind: "error", status: 503 });
    const overloaded = await chat(p.gw, { model: `a/${MODEL_A}` });
    expect(overloaded.status).toBe(502);
    expect(overloaded.headers.get("x-should-retry")).toBeNull();
  });
});
