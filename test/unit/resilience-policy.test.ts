import { describe, expect, test } from "bun:test";
import {
  HEALTHY, afterFailure, afterSuccess, availability, backoffMs, classify, countsAgainstTarget, drawWeighted,
  type Failure, type RetryContext,
} from "../../src/policy.ts";

const ctx = (over: Partial<RetryContext> = {}): RetryContext => ({ retriesUsed: 0, retries: 2, maxRetryWaitMs: 10_000, random: () => 0.5, ...over });
const status = (upstreamStatus: number, code: string | null = null, retryAfterMs?: number): Failure => ({ upstreamStatus, code, retryAfterMs });

describe("the classification table", () => {
  test("429 with a Retry-After within max_retry_wait waits exactly that long on the same target", () => {
    expect(classify(status(429, null, 1_000), ctx())).toEqual({ action: "retry", delayMs: 1_000 });
  });
  test("429 with a Retry-After longer than max_retry_wait goes to the next target at once", () => {
    expect(classify(status(429, null, 60_000), ctx())).toEqual({ action: "next" });
  });
  test("429 without Retry-After backs off on the same target, then moves on when retries are spent", () => {
    expect(classify(status(429), ctx())).toEqual({ action: "retry", delayMs: 125 });
    expect(classify(status(429), ctx({ retriesUsed: 2 }))).toEqual({ action: "next" });
  });
  test.each([408, 409, 500, 502, 503, 504, 529])("HTTP %d is retried with backoff, then the next target", (code) => {
    expect(classify(status(code), ctx({ retriesUsed: 1 }))).toEqual({ action: "retry", delayMs: 250 });
    expect(classify(status(code), ctx({ retriesUsed: 2 }))).toEqual({ action: "next" });
  });
  test("a reset or refused connection before the first byte is retried with backoff", () => {
    expect(classify({ code: "upstream_connection_error" }, ctx())).toEqual({ action: "retry", delayMs: 125 });
    expect(classify({ code: "upstream_connection_error" }, ctx({ retriesUsed: 2 }))).toEqual({ action: "next" });
  });
  test("a first-byte or idle timeout before the first chunk goes to the next target at once: a silent provider stays silent", () => {
    expect(classify({ code: "upstream_timeout" }, ctx())).toEqual({ action: "next" });
  });
  test.each([401, 403, 404, 413])("HTTP %d (this target cannot serve it) goes to the next target without retrying", (code) => {
    expect(classify(status(code), ctx())).toEqual({ action: "next" });
  });
  test("400 context_length_exceeded goes to the next target", () => {
    expect(classify(status(400, "context_length_exceeded"), ctx())).toEqual({ action: "next" });
  });
  test.each([[400, null], [422, null], [400, "content_policy_violation"], [400, "content_filter"]])("HTTP %d %s is the caller's: it stops there", (code, name) => {
    expect(classify(status(code as number, name as string | null), ctx())).toEqual({ action: "stop" });
  });
  test("a client that went away stops the chain", () => {
    expect(classify({ code: "client_closed_request" }, ctx())).toEqual({ action: "stop" });
  });
});

test("only the caller's own 4xx and its own disconnect leave a target's health alone", () => {
  for (const f of [status(500), status(429), status(401), status(404), { code: "upstream_timeout" }]) expect(countsAgainstTarget(f)).toBe(true);
  // Too large or too long for the target: the caller's request, however another target may take it.
  for (const f of [status(400), status(422), status(400, "content_filter"), status(400, "context_length_exceeded"), status(413), { code: "client_closed_request" }]) expect(countsAgainstTarget(f)).toBe(false);
});

test("backoff is full jitter below an exponential cap", () => {
  expect(backoffMs(0, () => 0)).toBe(0);
  expect(backoffMs(0, () => 0.999)).toBe(249);
  expect(backoffMs(3, () => 0.5)).toBe(1_000);
  expect(backoffMs(10, () => 0.999)).toBeLessThan(8_000);
});

describe("cooldown", () => {
  const policy = { after: 3, cooldownMs: 30_000 };
  test("a target cools down after `after` failures in a row, then one request probes it, and a success closes it", () => {
    let h = HEALTHY;
    h = afterFailure(h, 0, policy);
    h = afterFailure(h, 0, policy);
    expect(availability(h, 0)).toBe("yes");
    h = afterFailure(h, 1_000, policy);
    expect(availability(h, 1_000)).toBe("no");
    expect(availability(h, 30_999)).toBe("no");
    expect(availability(h, 31_000)).toBe("probe");
    expect(availability({ ...h, probing: true }, 31_000)).toBe("no");
    expect(availability(afterSuccess(), 31_000)).toBe("yes");
  });
  test("a failed probe puts the target straight back into cooldown", () => {
    const cooling = { failures: 3, coolingUntil: 1_000, probing: true };
    expect(afterFailure(cooling, 2_000, policy)).toEqual({ failures: 4, coolingUntil: 32_000, probing: false });
  });
});

test("weighted draws land on each target in proportion to its weight", () => {
  const counts = [0, 0];
  for (let i = 0; i < 1_000; i++) counts[drawWeighted([3, 1], () => i / 1_000)]!++;
  expect(counts).toEqual([750, 250]);
});
