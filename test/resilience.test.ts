// Resilience (issue 9): every row of the classification table, end to end through a two-target
// route (a → b), with the router's waits read from an injected clock instead of slept through.
// Each test asserts what each fake upstream received and what the client got.
import { describe, expect, test } from "bun:test";
import type { ChatCompletion } from "openai/resources/chat/completions";
import { keyOf } from "./support/config-file.ts";
import { MODEL_A, MODEL_B, chat, errorOf, pair } from "./support/routed.ts";
import type { OpenAIError } from "./support/openai-wire.ts";

/** Retries on, waits up to 10 s honoured: the table's own defaults. */
const RETRYING = { retries: 2, max_retry_wait: "10s" };

async function answeredBy(res: Response, model: string) {
  expect(res.status).toBe(200);
  expect(((await res.json()) as ChatCompletion).model).toBe(model);
}

describe("passing failures are retried on the same target", () => {
  test("429 with Retry-After 1 s (within max_retry_wait) waits exactly 1 s, then succeeds on the same target", async () => {
    await using p = pair({ config: RETRYING });
    p.a.reply({ kind: "error", status: 429, headers: { "retry-after": "1" } });
    await answeredBy(await chat(p.gw), MODEL_A);
    expect(p.clock.sleeps).toEqual([1000]);
    expect([p.a.calls.length, p.b.calls.length]).toEqual([2, 0]);
    expect(p.a.calls[1]!.rawBody).toBe(p.a.calls[0]!.rawBody);
  });

  test("429 with retry-after-ms waits that many milliseconds", async () => {
    await using p = pair({ config: RETRYING });
    p.a.reply({ kind: "error", status: 429, headers: { "retry-after-ms": "1500", "retry-after": "2" } });
    await answeredBy(await chat(p.gw), MODEL_A);
    expect(p.clock.sleeps).toEqual([1500]);
  });

  test("429 with Retry-After 60 s (past max_retry_wait) goes to the next target at once: one call on the first", async () => {
    await using p = pair({ config: RETRYING });
    p.a.reply({ kind: "error", status: 429, headers: { "retry-after": "60" } });
    await answeredBy(await chat(p.gw), MODEL_B);
    expect(p.clock.sleeps).toEqual([]);
    expect([p.a.calls.length, p.b.calls.length]).toEqual([1, 1]);
  });

  test("429 without Retry-After backs off with full jitter on the same target, then goes to the next when retries are spent", async () => {
    await using p = pair({ config: RETRYING });
    p.a.reply(...Array(3).fill({ kind: "error", status: 429 }));
    await answeredBy(await chat(p.gw), MODEL_B);
    // random() is 0.5: half of 250 ms, then half of 500 ms.
    expect(p.clock.sleeps).toEqual([125, 250]);
    expect([p.a.calls.length, p.b.calls.length]).toEqual([3, 1]);
  });

  test("500, 500, 200 succeeds on the third call of the same target with retries: 2", async () => {
    await using p = pair({ config: RETRYING });
    p.a.reply({ kind: "error", status: 500 }, { kind: "error", status: 500 });
    await answeredBy(await chat(p.gw), MODEL_A);
    expect(p.clock.sleeps).toEqual([125, 250]);
    expect([p.a.calls.length, p.b.calls.length]).toEqual([3, 0]);
  });

  test("a connection reset before the first byte is retried on the same target", async () => {
    await using p = pair({ config: RETRYING });
    p.a.reply({ kind: "reset" });
    await answeredBy(await chat(p.gw), MODEL_A);
    expect([p.a.calls.length, p.b.calls.length]).toEqual([2, 0]);
  });

  test("a refused connection is retried on the same target, then the next target answers", async () => {
    // A port that was just listening and is closed now refuses connections.
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    const base_url = `http://127.0.0.1:${closed.port}/v1`;
    await closed.stop(true);
    await using p = pair({ config: { retries: 1 }, a: { base_url } });
    await answeredBy(await chat(p.gw), MODEL_B);
    expect(p.clock.sleeps).toEqual([125]);
    expect([p.a.calls.length, p.b.calls.length]).toEqual([0, 1]);
  });

  test.each([408, 409, 502, 503, 504, 529])("upstream %d is retried on the same target after a backoff", async (status) => {
    await using p = pair({ config: RETRYING });
    p.a.reply({ kind: "error", status });
    await answeredBy(await chat(p.gw), MODEL_A);
    expect(p.clock.sleeps).toEqual([125]);
    expect([p.a.calls.length, p.b.calls.length]).toEqual([2, 0]);
  });
});

describe("failures that say 'not here' go to the next target without a retry", () => {
  test.each([401, 403, 404, 413])("upstream %d goes to the next target at once", async (status) => {
    await using p = pair({ config: RETRYING });
    p.a.reply({ kind: "error", status });
    await answeredBy(await chat(p.gw), MODEL_B);
    expect(p.clock.sleeps).toEqual([]);
    expect([p.a.calls.length, p.b.calls.length]).toEqual([1, 1]);
  });

  test("400 context_length_exceeded goes to the next target at once", async () => {
    await using p = pair({ config: RETRYING });
    const error = { message: "This model's maximum context length is 8192 tokens. However, your messages resulted in 9001 tokens.", type: "invalid_request_error", param: "messages", code: "context_length_exceeded" };
    p.a.reply({ kind: "error", status: 400, error });
    await answeredBy(await chat(p.gw), MODEL_B);
    expect([p.a.calls.length, p.b.calls.length]).toEqual([1, 1]);
  });
});

describe("the caller's own errors reach the caller: no retry, no fallback", () => {
  const cases: [number, OpenAIError][] = [
    [400, { message: "Invalid value for 'temperature': must be at most 2.", type: "invalid_request_error", param: "temperature", code: "invalid_value" }],
    [422, { message: "Unprocessable: 'messages' must not be empty.", type: "invalid_request_error", param: "messages", code: null }],
  ];
  test.each(cases)("upstream %d gets to the client as the upstream put it", async (status, error) => {
    await using p = pair({ config: RETRYING });
    p.a.reply({ kind: "error", status, error });
    const got = await errorOf(await chat(p.gw));
    expect(got.status).toBe(status);
    expect(got.error).toEqual(error);
    expect([p.a.calls.length, p.b.calls.length]).toEqual([1, 0]);
  });

  test.each(["content_policy_violation", "content_filter"])("400 %s is propagated with the provider's reason", async (code) => {
    await using p = pair({ config: RETRYING });
    const error = { message: "Your request was rejected as a result of our safety system.", type: "invalid_request_error", param: null, code };
    p.a.reply({ kind: "error", status: 400, error });
    const got = await errorOf(await chat(p.gw));
    expect(got.status).toBe(400);
    expect(got.error).toEqual(error);
    expect([p.a.calls.length, p.b.calls.length]).toEqual([1, 0]);
  });
});

describe("when every target fails", () => {
  /** An upstream error whose message quotes the provider key it was sent, as some proxies do. */
  const echoingKey = (id: string): OpenAIError => ({ message: `Upstream trouble for key ${keyOf(id)}`, type: "server_error", param: null, code: null });

  test("the client gets the last attempt's kind of error (a 500: 502), its message listing every attempt, with no secret", async () => {
    await using p = pair();
    p.a.reply({ kind: "error", status: 401, error: echoingKey("a") });
    p.b.reply({ kind: "error", status: 500, error: echoingKey("b") });
    const got = await errorOf(await chat(p.gw));
    expect(got.status).toBe(502);
    expect(got.error).toMatchObject({ type: "server_error", code: "upstream_error" });
    expect(got.error.message).toContain("Provider 'b' failed with HTTP 500: Upstream trouble for key ***");
    expect(got.error.message).toContain("a/model-a: 401 upstream_auth_failed; b/model-b: 500 upstream_error");
    expect(got.text).not.toContain(keyOf("a"));
    expect(got.text).not.toContain(keyOf("b"));
  });

  test("a last attempt that was a 413 passes the upstream's 413 on, its message listing every attempt", async () => {
    await using p = pair();
    p.a.reply({ kind: "error", status: 503 });
    p.b.reply({ kind: "error", status: 413, error: { message: "Request too large for model-b.", type: "invalid_request_error", param: null, code: "request_too_large" } });
    const got = await errorOf(await chat(p.gw));
    expect(got.status).toBe(413);
    expect(got.error).toMatchObject({ type: "invalid_request_error", code: "request_too_large" });
    expect(got.error.message).toContain("Request too large for model-b.");
    expect(got.error.message).toContain("a/model-a: 503 upstream_error; b/model-b: 413 request_too_large");
  });

  test("a last attempt that timed out is a 504, its message listing every attempt", async () => {
    await using p = pair({ b: { timeouts: { first_byte: "150ms" } } });
    p.a.reply({ kind: "error", status: 500 });
    p.b.reply({ kind: "stall" });
    const got = await errorOf(await chat(p.gw, { stream: true }));
    expect(got.status).toBe(504);
    expect(got.error).toMatchObject({ type: "server_error", code: "upstream_timeout" });
    expect(got.error.message).toContain("a/model-a: 500 upstream_error; b/model-b: 504 upstream_timeout");
    await p.b.calls[0]!.aborted;
  });
});
