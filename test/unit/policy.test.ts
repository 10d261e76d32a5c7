import { expect, test } from "bun:test";
import { parseRetryAfter } from "../../src/policy.ts";
import { paramName } from "../../src/http/on-error.ts";

test("Retry-After in seconds becomes milliseconds", () => {
  expect(parseRetryAfter(new Headers({ "retry-after": "7" }))).toBe(7000);
  expect(parseRetryAfter(new Headers({ "retry-after": "0.5" }))).toBe(500);
});

test("Retry-After as an HTTP date is the time until then", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  expect(parseRetryAfter(new Headers({ "retry-after": "Thu, 01 Jan 2026 00:00:30 GMT" }), now)).toBe(30_000);
});

test("OpenAI's retry-after-ms wins over Retry-After", () => {
  expect(parseRetryAfter(new Headers({ "retry-after-ms": "250", "retry-after": "9" }))).toBe(250);
});

test("a missing or unreadable Retry-After is undefined", () => {
  expect(parseRetryAfter(new Headers())).toBeUndefined();
  expect(parseRetryAfter(new Headers({ "retry-after": "soon" }))).toBeUndefined();
});

test("JSON pointers become OpenAI parameter names", () => {
  expect(paramName("/messages/0/role")).toBe("messages[0].role");
  expect(paramName("/temperature")).toBe("temperature");
  expect(paramName("/messages/2/content/1/type")).toBe("messages[2].content[1].type");
  expect(paramName("")).toBeNull();
  expect(paramName("/")).toBeNull();
});
