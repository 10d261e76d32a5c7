import { describe, expect, test } from "bun:test";
import { anthropicError, fromAnthropicResponse, readErrorBody, statusOfErrorType } from "../../src/providers/anthropic/errors.ts";
import type { ErrorType } from "../../src/providers/anthropic/wire.ts";
import { redactor } from "../../src/providers/upstream-error.ts";
import { STATUS_OF_TYPE, errorBody } from "../support/anthropic-wire.ts";

const KEY = "sk-ant-api03-secret-key";
const redact = redactor(KEY);

const answer = (type: ErrorType, headers: Record<string, string> = {}, message?: string) =>
  new Response(JSON.stringify(errorBody(type, message)), { status: STATUS_OF_TYPE[type], headers: { "content-type": "application/json", ...headers } });

describe("Anthropic errors → the one error type", () => {
  test.each<[ErrorType, number, string | null, boolean]>([
    ["invalid_request_error", 400, null, false],
    ["authentication_error", 502, "upstream_auth_failed", false],
    ["billing_error", 502, "upstream_billing_error", false],
    ["permission_error", 502, "upstream_auth_failed", false],
    ["not_found_error", 404, "model_not_found", false],
    ["request_too_large", 413, "request_too_large", false],
    ["rate_limit_error", 429, "rate_limit_exceeded", true],
    ["api_error", 502, "upstream_error", true],
    ["timeout_error", 504, "upstream_timeout", true],
    ["overloaded_error", 503, "upstream_overloaded", true],
  ])("%s is a %i (%s), retryable: %p, with Anthropic's status kept for the router", async (type, status, code, retryable) => {
    const error = await fromAnthropicResponse("claude", answer(type), redact);
    expect(error).toMatchObject({ status, code, retryable, upstreamStatus: STATUS_OF_TYPE[type] });
    expect(error.message).not.toContain(KEY);
  });

  test("the caller's own errors keep Anthropic's message and the OpenAI type", async () => {
    const error = await fromAnthropicResponse("claude", answer("invalid_request_error"), redact);
    expect(error.type).toBe("invalid_request_error");
    expect(error.message).toContain("roles must alternate");
  });

  test("a refused provider key names the provider and never repeats what Anthropic said", async () => {
    const error = await fromAnthropicResponse("claude", answer("authentication_error", {}, `invalid x-api-key ${KEY}`), redact);
    expect(error.message).toContain("Provider 'claude' rejected chatgate's credentials");
    expect(error.message).not.toContain("x-api-key");
  });

  test("a message quoting the provider key is redacted, escaped or not", async () => {
    const escaped = KEY.replace("s", "\\u0073");
    const body = `{"type":"error","error":{"type":"invalid_request_error","message":"bad key ${escaped}"}}`;
    const error = await fromAnthropicResponse("claude", new Response(body, { status: 400 }), redact);
    expect(error.message).toBe("bad key ***");
  });

  test("429 keeps retry-after (seconds) and retry-after-ms as retryAfterMs", async () => {
    expect((await fromAnthropicResponse("claude", answer("rate_limit_error", { "retry-after": "7" }), redact)).retryAfterMs).toBe(7000);
    expect((await fromAnthropicResponse("claude", answer("rate_limit_error", { "retry-after-ms": "1500" }), redact)).retryAfterMs).toBe(1500);
    expect((await fromAnthropicResponse("claude", answer("overloaded_error", { "retry-after": "2" }), redact)).retryAfterMs).toBe(2000);
  });

  test("a prompt over the context window is coded context_length_exceeded, so the router can try a larger model", async () => {
    const error = await fromAnthropicResponse("claude", answer("invalid_request_error", {}, "prompt is too long: 215000 tokens > 200000 maximum"), redact);
    expect(error).toMatchObject({ status: 400, code: "context_length_exceeded" });
  });

  test("a redirect is a 502 naming the provider, never the Location", async () => {
    const error = await fromAnthropicResponse("claude", new Response(null, { status: 307, headers: { location: "https://evil.example/?token=abc" } }), redact);
    expect(error).toMatchObject({ status: 502, code: "upstream_redirect", retryable: false });
    expect(error.message).not.toContain("evil");
  });

  test("a body that is not Anthropic's error shape is classified by its status alone", async () => {
    expect(await fromAnthropicResponse("claude", new Response("<html>Bad gateway</html>", { status: 502 }), redact)).toMatchObject({ status: 502, code: "upstream_error", upstreamStatus: 502 });
    expect(readErrorBody("not json")).toBeUndefined();
  });

  test("an in-stream error event maps by its type, with the status the type stands for", () => {
    expect(statusOfErrorType("overloaded_error")).toBe(529);
    expect(statusOfErrorType("something_new")).toBe(500);
    const error = anthropicError("claude", { status: statusOfErrorType("overloaded_error"), type: "overloaded_error", message: "Overloaded" }, redact);
    expect(error).toMatchObject({ status: 503, code: "upstream_overloaded", retryable: true, upstreamStatus: 529 });
    expect(error.message).toBe("Provider 'claude' is overloaded: Overloaded");
  });
});
