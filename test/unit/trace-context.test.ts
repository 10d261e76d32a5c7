// W3C Trace Context as chatgate reads and writes it, and the tracing variables' readers.
import { describe, expect, test } from "bun:test";
import { ConfigError, parseConfig } from "../../src/config.ts";
import { parseTraceparent, traceStarter } from "../../src/obs/trace-context.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";
const beginTrace = traceStarter(1);

describe("parseTraceparent", () => {
  test("takes version 00 with non-zero ids, and reads the sampled flag from bit 0", () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true });
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-00`)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: false });
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-03`)?.sampled).toBe(true);
    expect(parseTraceparent(` 00-${TRACE}-${SPAN}-01 `)?.traceId).toBe(TRACE);
  });

  test.each([
    ["no header", null],
    ["another version", `01-${TRACE}-${SPAN}-01`],
    ["version ff", `ff-${TRACE}-${SPAN}-01`],
    ["an all-zero trace id", `00-${"0".repeat(32)}-${SPAN}-01`],
    ["an all-zero parent id", `00-${TRACE}-${"0".repeat(16)}-01`],
    ["upper-case hex", `00-${TRACE.toUpperCase()}-${SPAN}-01`],
    ["a short trace id", `00-${TRACE.slice(1)}-${SPAN}-01`],
    ["a long parent id", `00-${TRACE}-${SPAN}0-01`],
    ["extra fields", `00-${TRACE}-${SPAN}-01-00`],
    ["no flags", `00-${TRACE}-${SPAN}`],
    ["not hex", `00-${TRACE.replace("4", "g")}-${SPAN}-01`],
  ])("ignores %s", (_, header) => {
    expect(parseTraceparent(header)).toBeUndefined();
  });
});

describe("a request's trace", () => {
  test("continues the caller's trace and gives each attempt a span id of its own, sent as the parent upstream", () => {
    const trace = beginTrace(`00-${TRACE}-${SPAN}-01`, "vendor=abc");
    expect(trace.traceId).toBe(TRACE);
    expect(trace.state).toBe("vendor=abc");
    const first = trace.attempt();
    expect(trace.traceparent()).toBe(`00-${TRACE}-${first}-01`);
    const second = trace.attempt();
    expect(second).not.toBe(first);
    expect(trace.traceparent()).toBe(`00-${TRACE}-${second}-01`);
    expect([first, second, trace.spanId].every((id) => /^[0-9a-f]{16}$/.test(id) && id !== SPAN)).toBe(true);
  });

  test("without a valid traceparent starts a sampled trace of its own and drops the tracestate", () => {
    const trace = beginTrace("garbage", "vendor=abc");
    expect(trace.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(trace.parent).toBeUndefined();
    expect(trace.state).toBeUndefined();
    expect(trace.traceparent()).toMatch(new RegExp(`^00-${trace.traceId}-[0-9a-f]{16}-01$`));
    expect(beginTrace(null, null).traceId).not.toBe(trace.traceId);
  });

  test("keeps an unsampled caller's decision", () => {
    const trace = beginTrace(`00-${TRACE}-${SPAN}-00`, null);
    expect(trace.sampled).toBe(false);
    trace.attempt();
    expect(trace.traceparent()).toEndWith("-00");
  });

  test("samples new traces at CHATGATE_OTLP_SAMPLE's ratio, and never overrides a caller's decision", () => {
    const quarter = (draw: number) => traceStarter(0.25, () => draw);
    expect(quarter(0.2)(null, null).sampled).toBe(true);
    const dropped = quarter(0.3)(null, null);
    expect(dropped.sampled).toBe(false);
    expect(dropped.traceparent()).toEndWith("-00");
    expect(quarter(0.3)(`00-${TRACE}-${SPAN}-01`, null).sampled).toBe(true);
    expect(traceStarter(1, () => 0.99)(`00-${TRACE}-${SPAN}-00`, null).sampled).toBe(false);
    expect(traceStarter(0)(null, null).sampled).toBe(false);
  });
});

describe("CHATGATE_OTLP_ENDPOINT, CHATGATE_OTLP_HEADERS and CHATGATE_OTLP_SAMPLE", () => {
  const config = (env: Record<string, string>) => parseConfig({ CHATGATE_MOCK: "1", ...env });
  const refusal = (env: Record<string, string>): string => {
    try {
      config(env);
    } catch (err) {
      if (err instanceof ConfigError) return err.message;
      throw err;
    }
    throw new Error("accepted");
  };

  test("a base URL gets /v1/traces; a URL already ending in it is kept; unset or empty is off", () => {
    expect(config({ CHATGATE_OTLP_ENDPOINT: "http://collector:4318" }).otlpEndpoint).toBe("http://collector:4318/v1/traces");
    expect(config({ CHATGATE_OTLP_ENDPOINT: "https://otel.example.com/otlp/" }).otlpEndpoint).toBe("https://otel.example.com/otlp/v1/traces");
    expect(config({ CHATGATE_OTLP_ENDPOINT: "http://collector:4318/v1/traces" }).otlpEndpoint).toBe("http://collector:4318/v1/traces");
    expect(config({}).otlpEndpoint).toBeUndefined();
    expect(config({ CHATGATE_OTLP_ENDPOINT: " " }).otlpEndpoint).toBeUndefined();
  });

  test("a URL that is not http(s), or holds credentials, is refused without echoing them", () => {
    expect(refusal({ CHATGATE_OTLP_ENDPOINT: "collector:4318" })).toContain("CHATGATE_OTLP_ENDPOINT");
    expect(refusal({ CHATGATE_OTLP_ENDPOINT: "grpc://collector:4317" })).toContain("OTLP over HTTP");
    const message = refusal({ CHATGATE_OTLP_ENDPOINT: "http://user:hunter2@collector:4318" });
    expect(message).toContain("CHATGATE_OTLP_HEADERS");
    expect(message).not.toContain("hunter2");
  });

  test("the sample ratio is a number from 0 to 1, 1 unless set", () => {
    expect(config({}).otlpSample).toBe(1);
    expect(config({ CHATGATE_OTLP_SAMPLE: "0.1" }).otlpSample).toBe(0.1);
    expect(config({ CHATGATE_OTLP_SAMPLE: "0" }).otlpSample).toBe(0);
    expect(config({ CHATGATE_OTLP_SAMPLE: ".5" }).otlpSample).toBe(0.5);
    for (const bad of ["1.5", "-0.1", "10%", "half", "1e-1"]) expect(refusal({ CHATGATE_OTLP_SAMPLE: bad })).toContain("CHATGATE_OTLP_SAMPLE");
  });

  test("headers are name=value pairs, values percent-decoded; a bad entry is named by position, never by value", () => {
    expect(config({ CHATGATE_OTLP_HEADERS: "Authorization=Bearer%20tok-1, x-scope = team-a" }).otlpHeaders).toEqual({ authorization: "Bearer tok-1", "x-scope": "team-a" });
    expect(config({}).otlpHeaders).toEqual({});
    const message = refusal({ CHATGATE_OTLP_HEADERS: "authorization=secret-value-77,novalue-secret" });
    expect(message).toContain("entry 2");
    expect(message).not.toContain("secret");
    expect(refusal({ CHATGATE_OTLP_HEADERS: "bad name=x" })).toContain("entry 1");
    expect(refusal({ CHATGATE_OTLP_HEADERS: "a=%0d%0aevil" })).toContain("line break");
  });
});
