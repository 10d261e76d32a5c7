// Tracing (CHATGATE_OTLP_ENDPOINT): the gateway in process, fake OpenAI and Anthropic upstreams, and
// a fake OTLP/HTTP collector that decodes every export. What is checked is what leaves the
// gateway: the spans the collector got (ids, parent links, attributes) and the `traceparent` each
// upstream got.
import { describe, expect, test } from "bun:test";
import type { FinishRecord } from "../src/gateway/finish.ts";
import { VERSION } from "../src/version.ts";
import { anthropicAt, openaiAt, type ConfigDoc, type ProviderDoc } from "./support/config-file.ts";
import { fakeAnthropic } from "./support/fake-anthropic.ts";
import { post, startGateway, type TestGateway } from "./support/gateway.ts";
import { CLIENT, SERVER, STATUS_ERROR, otlpReceiver, type ReceivedSpan } from "./support/otlp-receiver.ts";
import { MODEL_A, MODEL_B, SMART, pair, startRouted } from "./support/routed.ts";
import { ANSWER, QUESTION, type ResumeProvider } from "./support/resume.ts";
import { readSse } from "./support/sse.ts";
import { fakeOpenAI } from "./support/upstream.ts";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";
const TRACEPARENT = `00-${TRACE_ID}-${CALLER_SPAN}-01`;
/** Text that must never leave the gateway in a span. */
const PROMPT = "the secret prompt 9d41c7";
const REPLY = "the private answer e02b6f";
const W3C = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/;

/** Resolves with the next finish record; tracing subscribed first, so its span is recorded by then. */
function nextRecord(gw: TestGateway): Promise<FinishRecord> {
  const { promise, resolve } = Promise.withResolvers<FinishRecord>();
  const stop = gw.app.gateway.finishes.subscribe((record) => (stop(), resolve(record)));
  return promise;
}

/** The spans of the records so far, once the batch has gone to the collector. */
async function exported(gw: TestGateway, record: Promise<FinishRecord>): Promise<void> {
  await record;
  await gw.app.tracing!.flush();
}

const parts = (traceparent: string | undefined) => {
  const m = W3C.exec(traceparent ?? "");
  if (m === null) throw new Error(`not a traceparent: ${traceparent}`);
  return { traceId: m[1]!, spanId: m[2]!, flags: m[3]! };
};

const byKind = (spans: ReceivedSpan[], kind: number) => spans.filter((s) => s.kind === kind);

describe("with CHATGATE_OTLP_ENDPOINT set", () => {
  test("a request with a traceparent is one server span under the caller's span, its attempt a client span under it whose id went upstream", async () => {
    await using collector = otlpReceiver();
    await using upstream = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: upstream.url, OPENAI_API_KEY: "sk-up", CHATGATE_OTLP_ENDPOINT: collector.url, CHATGATE_OTLP_HEADERS: "authorization=Bearer%20otlp-token" });
    upstream.reply({ kind: "completion", content: REPLY, usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 } });
    const record = nextRecord(gw);
    const res = await gw.client().chat.completions.create(
      { model: "gpt-4o-mini", messages: [{ role: "user", content: PROMPT }] },
      { headers: { traceparent: TRACEPARENT, tracestate: "vendor=abc", "x-request-id": "req-trace-1" } },
    );
    expect(res.choices[0]!.message.content).toBe(REPLY);
    await exported(gw, record);

    const sent = upstream.calls[0]!.headers;
    const up = parts(sent.traceparent);
    expect(up).toMatchObject({ traceId: TRACE_ID, flags: "01" });
    expect(sent.tracestate).toBe("vendor=abc");

    const [request] = byKind(collector.spans, SERVER);
    const [attempt] = byKind(collector.spans, CLIENT);
    expect(collector.spans).toHaveLength(2);
    expect(request).toMatchObject({ traceId: TRACE_ID, parentSpanId: CALLER_SPAN, traceState: "vendor=abc", name: "chat gpt-4o-mini" });
    expect(attempt).toMatchObject({ traceId: TRACE_ID, parentSpanId: request!.spanId, spanId: up.spanId, name: "chat gpt-4o-mini" });
    expect(request!.spanId).not.toBe(up.spanId);
    expect(request!.attributes).toEqual({
      "gen_ai.operation.name": "chat",
      "gen_ai.system": "openai",
      "gen_ai.request.model": "gpt-4o-mini",
      "gen_ai.response.model": "gpt-4o-mini",
      "gen_ai.usage.input_tokens": 11,
      "gen_ai.usage.output_tokens": 7,
      "http.request.method": "POST",
      "http.route": "/v1/chat/completions",
      "http.response.status_code": 200,
      "chatgate.request_id": "req-trace-1",
      "chatgate.outcome": "ok",
      "chatgate.stream": false,
      "chatgate.attempts": 1,
      "chatgate.cache": "skip",
      "chatgate.provider": "openai",
    });
    expect(attempt!.attributes).toMatchObject({ "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini", "http.response.status_code": 200, "server.address": "127.0.0.1", "server.port": Number(new URL(upstream.url).port), "chatgate.attempt.reason": "ok" });
    expect(request!.resource).toMatchObject({ "service.name": "chatgate", "service.version": VERSION });
    // The attempt lies within the request.
    expect(attempt!.startMs).toBeGreaterThanOrEqual(request!.startMs);
    expect(attempt!.endMs).toBeLessThanOrEqual(request!.endMs);
    expect(collector.headers[0]!.authorization).toBe("Bearer otlp-token");
    expect(collector.headers[0]!["content-type"]).toBe("application/json");
    // Neither the prompt nor the answer is in any export.
    for (const body of collector.bodies) {
      expect(body).not.toContain(PROMPT);
      expect(body).not.toContain(REPLY);
    }
  });

  test("an embeddings request is an `embeddings` span under the caller's span, its attempt's id sent upstream", async () => {
    await using collector = otlpReceiver();
    await using upstream = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: upstream.url, OPENAI_API_KEY: "sk-up", CHATGATE_OTLP_ENDPOINT: collector.url });
    const record = nextRecord(gw);
    const res = await gw.client().embeddings.create({ model: "text-embedding-3-small", input: PROMPT, encoding_format: "float" }, { headers: { traceparent: TRACEPARENT } });
    expect(res.data).toHaveLength(1);
    await exported(gw, record);
    const up = parts(upstream.calls[0]!.headers.traceparent);
    const [request] = byKind(collector.spans, SERVER);
    const [attempt] = byKind(collector.spans, CLIENT);
    expect(request).toMatchObject({ traceId: TRACE_ID, parentSpanId: CALLER_SPAN, name: "embeddings text-embedding-3-small" });
    expect(attempt).toMatchObject({ traceId: TRACE_ID, parentSpanId: request!.spanId, spanId: up.spanId, name: "embeddings text-embedding-3-small" });
    expect(request!.attributes).toMatchObject({ "gen_ai.operation.name": "embeddings", "http.route": "/v1/embeddings", "gen_ai.usage.output_tokens": 0 });
    expect(attempt!.attributes).toMatchObject({ "gen_ai.operation.name": "embeddings" });
    for (const body of collector.bodies) expect(body).not.toContain(PROMPT);
  });

  test("a fallback (first target 500, second ok) is two attempt spans under the request, each upstream given its own span id", async () => {
    await using collector = otlpReceiver();
    await using p = pair({ env: { CHATGATE_OTLP_ENDPOINT: collector.url } });
    p.a.reply({ kind: "error", status: 500 });
    const record = nextRecord(p.gw);
    const res = await post(`${p.gw.baseURL}/chat/completions`, { model: SMART, messages: [{ role: "user", content: PROMPT }] }, { traceparent: TRACEPARENT });
    expect(res.status).toBe(200);
    await exported(p.gw, record);
    const spans = collector.spans;
    const [request] = byKind(spans, SERVER);
    const attempts = byKind(spans, CLIENT).sort((x, y) => x.startMs - y.startMs || (x.attributes["chatgate.provider"] === "a" ? -1 : 1));
    expect(attempts.map((s) => [s.attributes["chatgate.provider"], s.attributes["gen_ai.request.model"], s.attributes["http.response.status_code"], s.statusCode === STATUS_ERROR])).toEqual([
      ["a", MODEL_A, 500, true],
      ["b", MODEL_B, 200, false],
    ]);
    expect(attempts.every((s) => s.parentSpanId === request!.spanId && s.traceId === TRACE_ID)).toBe(true);
    expect(attempts[0]!.attributes["error.type"]).toBe("upstream_error");
    expect([parts(p.a.calls[0]!.headers.traceparent).spanId, parts(p.b.calls[0]!.headers.traceparent).spanId]).toEqual([attempts[0]!.spanId, attempts[1]!.spanId]);
    expect(request!.attributes).toMatchObject({ "chatgate.attempts": 2, "chatgate.provider": "b", "gen_ai.request.model": SMART, "gen_ai.response.model": MODEL_B, "chatgate.outcome": "ok" });
    expect(request!.statusCode).not.toBe(STATUS_ERROR);
    // The attempt that answered says what answered and its tokens; the failed one has neither.
    const answered = attempts[1]!.attributes;
    expect(answered["gen_ai.response.model"]).toBe(MODEL_B);
    expect([answered["gen_ai.usage.input_tokens"], answered["gen_ai.usage.output_tokens"]]).toEqual([request!.attributes["gen_ai.usage.input_tokens"], request!.attributes["gen_ai.usage.output_tokens"]]);
    expect(typeof answered["gen_ai.usage.input_tokens"]).toBe("number");
    expect(attempts[0]!.attributes).not.toHaveProperty("gen_ai.response.model");
    expect(attempts[0]!.attributes).not.toHaveProperty("gen_ai.usage.input_tokens");
  });

  test("a stream's span says so, with the usage the upstream reported; a failed request's span is an error", async () => {
    await using collector = otlpReceiver();
    await using upstream = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: upstream.url, CHATGATE_OTLP_ENDPOINT: `${collector.url}/v1/traces` });
    upstream.reply({ kind: "stream", words: ["Hel", "lo"], includeUsage: true }, { kind: "error", status: 401 });
    let record = nextRecord(gw);
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, { model: "gpt-4o-mini", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: PROMPT }] }));
    expect(read.data.at(-1)).toBe("[DONE]");
    await exported(gw, record);
    const [stream] = byKind(collector.spans, SERVER);
    // No traceparent came in: a trace of its own, sent upstream.
    expect(stream!.parentSpanId).toBe("");
    expect(parts(upstream.calls[0]!.headers.traceparent)).toEqual({ traceId: stream!.traceId, spanId: byKind(collector.spans, CLIENT)[0]!.spanId, flags: "01" });
    expect(stream!.attributes).toMatchObject({ "chatgate.stream": true, "chatgate.outcome": "ok", "gen_ai.usage.input_tokens": 5, "gen_ai.usage.output_tokens": 2 });
    // The attempt that streamed lasts as long as its stream: to the request's end.
    expect(byKind(collector.spans, CLIENT)[0]!.endMs).toBe(stream!.endMs);

    record = nextRecord(gw);
    expect((await post(`${gw.baseURL}/chat/completions`, { model: "gpt-4o-mini", messages: [{ role: "user", content: PROMPT }] })).status).toBe(502);
    await exported(gw, record);
    const failed = byKind(collector.spans, SERVER)[1]!;
    expect(failed.statusCode).toBe(STATUS_ERROR);
    expect(failed.attributes).toMatchObject({ "chatgate.outcome": "error", "http.response.status_code": 502, "error.type": expect.any(String) });
    expect(byKind(collector.spans, CLIENT)[1]!.attributes["http.response.status_code"]).toBe(401);
  });

  test("a stream cut after it began is an error on the request span and on the attempt that streamed it", async () => {
    await using collector = otlpReceiver();
    await using upstream = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: upstream.url, CHATGATE_OTLP_ENDPOINT: collector.url });
    upstream.reply({ kind: "stream", cutAfterEvents: 2 });
    const record = nextRecord(gw);
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, { model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: PROMPT }] }));
    expect(read.data.at(-1)).toContain('"error"');
    await exported(gw, record);
    const [request] = byKind(collector.spans, SERVER);
    const [attempt] = byKind(collector.spans, CLIENT);
    expect(request!.attributes).toMatchObject({ "chatgate.outcome": "truncated", "http.response.status_code": 200, "error.type": expect.any(String) });
    expect([request!.statusCode, attempt!.statusCode]).toEqual([STATUS_ERROR, STATUS_ERROR]);
    expect(attempt!.endMs).toBe(request!.endMs);
  });

  test("a resumed stream's continuation is an attempt span of its own, and its upstream call carries that span's id", async () => {
    await using collector = otlpReceiver();
    await using a = fakeOpenAI();
    await using b = fakeOpenAI();
    const prefill = (provider: ProviderDoc): ResumeProvider => ({ ...provider, continuation: "prefill" });
    await using gw = startRouted(
      {
        providers: [prefill(openaiAt("a", a)), prefill(openaiAt("b", b))],
        models: { smart: { targets: [{ provider: "a", model: MODEL_A }, { provider: "b", model: MODEL_B }], resume: true } },
      } as ConfigDoc,
      {},
      { CHATGATE_OTLP_ENDPOINT: collector.url },
    );
    a.reply({ kind: "answer", answer: ANSWER, cutAfterWords: 40 });
    b.reply({ kind: "answer", answer: ANSWER, style: "prefill" });
    const record = nextRecord(gw);
    const read = await readSse(await post(`${gw.baseURL}/chat/completions`, { model: SMART, stream: true, stream_options: { include_usage: true }, messages: QUESTION }, { traceparent: TRACEPARENT }));
    expect(read.data.at(-1)).toBe("[DONE]");
    await exported(gw, record);
    const [request] = byKind(collector.spans, SERVER);
    const attempts = byKind(collector.spans, CLIENT);
    expect(request!.attributes).toMatchObject({ "chatgate.resumed": true, "chatgate.attempts": 2, "chatgate.outcome": "ok" });
    expect(attempts.map((s) => [s.attributes["chatgate.provider"], s.attributes["chatgate.attempt.reason"] !== "ok" && s.attributes["chatgate.attempt.reason"] !== "resumed"]).sort()).toEqual([["a", true], ["b", false]]);
    expect(attempts.every((s) => s.parentSpanId === request!.spanId)).toBe(true);
    const idOf = (provider: string) => attempts.find((s) => s.attributes["chatgate.provider"] === provider)!.spanId;
    expect([parts(a.calls[0]!.headers.traceparent).spanId, parts(b.calls[0]!.headers.traceparent).spanId]).toEqual([idOf("a"), idOf("b")]);
  });

  test("an Anthropic target's attempt says gen_ai.system anthropic, and its upstream gets the traceparent", async () => {
    await using collector = otlpReceiver();
    await using claude = fakeAnthropic();
    await using gw = startRouted(
      { providers: [anthropicAt("claude", claude)], models: { smart: { targets: [{ provider: "claude", model: "claude-sonnet-4-5" }] } } },
      {},
      { CHATGATE_OTLP_ENDPOINT: collector.url },
    );
    const record = nextRecord(gw);
    expect((await post(`${gw.baseURL}/chat/completions`, { model: SMART, messages: [{ role: "user", content: PROMPT }] }, { traceparent: TRACEPARENT })).status).toBe(200);
    await exported(gw, record);
    const [attempt] = byKind(collector.spans, CLIENT);
    expect(attempt!.attributes).toMatchObject({ "gen_ai.system": "anthropic", "gen_ai.request.model": "claude-sonnet-4-5", "chatgate.provider": "claude" });
    expect(byKind(collector.spans, SERVER)[0]!.attributes["gen_ai.system"]).toBe("anthropic");
    expect(parts(claude.calls[0]!.headers.traceparent)).toEqual({ traceId: TRACE_ID, spanId: attempt!.spanId, flags: "01" });
    for (const body of collector.bodies) expect(body).not.toContain(PROMPT);
  });

  test("a malformed traceparent is ignored (a new trace), and an unsampled one is passed on but not exported", async () => {
    await using collector = otlpReceiver();
    await using upstream = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: upstream.url, CHATGATE_OTLP_ENDPOINT: collector.url });
    const body = { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] };
    const unsampled = `00-${TRACE_ID}-${CALLER_SPAN}-00`;
    let record = nextRecord(gw);
    expect((await post(`${gw.baseURL}/chat/completions`, body, { traceparent: unsampled, tracestate: "vendor=abc" })).status).toBe(200);
    await record;
    expect(parts(upstream.calls[0]!.headers.traceparent)).toMatchObject({ traceId: TRACE_ID, flags: "00" });
    for (const bad of [`01-${TRACE_ID}-${CALLER_SPAN}-01`, `00-${"0".repeat(32)}-${CALLER_SPAN}-01`, `00-${TRACE_ID}-${"0".repeat(16)}-01`, `00-${TRACE_ID.toUpperCase()}-${CALLER_SPAN}-01`, "garbage"]) {
      record = nextRecord(gw);
      expect((await post(`${gw.baseURL}/chat/completions`, body, { traceparent: bad, tracestate: "vendor=abc" })).status).toBe(200);
      await record;
    }
    await gw.app.tracing!.flush();
    const requests = byKind(collector.spans, SERVER);
    // The unsampled request left no span; each malformed one started a trace of its own.
    expect(requests).toHaveLength(5);
    expect(requests.every((s) => s.parentSpanId === "" && s.traceId !== TRACE_ID && s.traceState === undefined)).toBe(true);
    expect(new Set(requests.map((s) => s.traceId)).size).toBe(5);
    for (const call of upstream.calls.slice(1)) {
      expect(parts(call.headers.traceparent).traceId).not.toBe(TRACE_ID);
      expect(call.headers.tracestate).toBeUndefined();
    }
  });

  test("CHATGATE_OTLP_SAMPLE=0 exports no trace that starts here, and says so upstream, but a caller's sampled trace still is", async () => {
    await using collector = otlpReceiver();
    await using upstream = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: upstream.url, CHATGATE_API_KEYS: "sk-good-key-1234", CHATGATE_OTLP_ENDPOINT: collector.url, CHATGATE_OTLP_SAMPLE: "0" });
    const body = { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] };
    const key = { authorization: "Bearer sk-good-key-1234" };
    let record = nextRecord(gw);
    expect((await post(`${gw.baseURL}/chat/completions`, body, key)).status).toBe(200);
    await record;
    expect(parts(upstream.calls[0]!.headers.traceparent).flags).toBe("00");
    record = nextRecord(gw);
    expect((await post(`${gw.baseURL}/chat/completions`, body, { authorization: "Bearer sk-wrong" })).status).toBe(401);
    await record;
    record = nextRecord(gw);
    expect((await post(`${gw.baseURL}/chat/completions`, body, { ...key, traceparent: TRACEPARENT })).status).toBe(200);
    await exported(gw, record);
    expect(parts(upstream.calls[1]!.headers.traceparent)).toMatchObject({ traceId: TRACE_ID, flags: "01" });
    expect(collector.spans.map((s) => [s.kind, s.traceId]).sort()).toEqual([[SERVER, TRACE_ID], [CLIENT, TRACE_ID]]);
  });

  test("a request refused before the gateway (a bad key) still gets a span with its status", async () => {
    await using collector = otlpReceiver();
    await using gw = startGateway({ CHATGATE_MOCK: "1", CHATGATE_API_KEYS: "sk-good-key-1234", CHATGATE_OTLP_ENDPOINT: collector.url });
    const record = nextRecord(gw);
    expect((await post(`${gw.baseURL}/chat/completions`, { model: "mock", messages: [{ role: "user", content: PROMPT }] }, { authorization: "Bearer sk-wrong" })).status).toBe(401);
    await exported(gw, record);
    expect(collector.spans).toHaveLength(1);
    // A 4xx is the client's mistake: a server span's status stays unset (OpenTelemetry's HTTP conventions).
    expect(collector.spans[0]).toMatchObject({ kind: SERVER, name: "/v1/chat/completions" });
    expect(collector.spans[0]!.statusCode).not.toBe(STATUS_ERROR);
    expect(collector.spans[0]!.attributes).toMatchObject({ "http.response.status_code": 401, "chatgate.outcome": "error" });
    expect(collector.bodies.join("")).not.toContain("sk-wrong");
  });

  test("a model nothing serves is not made a span name, and the name the client sent is cut to 256 characters", async () => {
    await using collector = otlpReceiver();
    await using p = pair({ a: { models: [MODEL_A] }, b: { models: [MODEL_B] }, env: { CHATGATE_OTLP_ENDPOINT: collector.url } });
    const record = nextRecord(p.gw);
    expect((await post(`${p.gw.baseURL}/chat/completions`, { model: "m".repeat(5_000), messages: [{ role: "user", content: "hi" }] })).status).toBe(404);
    await exported(p.gw, record);
    expect(collector.spans).toHaveLength(1);
    expect(collector.spans[0]).toMatchObject({ name: "chat" });
    expect(collector.spans[0]!.statusCode).not.toBe(STATUS_ERROR);
    expect(collector.spans[0]!.attributes).toMatchObject({ "http.response.status_code": 404, "gen_ai.request.model": "m".repeat(256), "error.type": "model_not_found", "chatgate.attempts": 0 });
  });

  test("a collector that refuses exports never affects requests, and is told once, not per export", async () => {
    await using collector = otlpReceiver({ status: 400 });
    await using gw = startGateway({ CHATGATE_MOCK: "1", CHATGATE_OTLP_ENDPOINT: collector.url });
    const warnings: string[] = [];
    gw.app.tracing!.warn = (line) => void warnings.push(line);
    for (let i = 0; i < 3; i++) {
      const record = nextRecord(gw);
      expect((await post(`${gw.baseURL}/chat/completions`, { model: "mock", messages: [{ role: "user", content: "hi" }] })).status).toBe(200);
      await exported(gw, record);
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("tracing: exporting");
  });
});

/** How many OpenTelemetry modules a fresh process has loaded once an app on `env` is built (and its tracing ready). */
async function openTelemetryModulesLoaded(env: Record<string, string>): Promise<number> {
  const script = `
    const { createApp } = await import(${JSON.stringify(`${import.meta.dir}/../src/app.ts`)});
    const { parseConfig } = await import(${JSON.stringify(`${import.meta.dir}/../src/config.ts`)});
    const app = createApp(parseConfig(${JSON.stringify({ CHATGATE_MOCK: "1", CHATGATE_LEDGER: "0", ...env })}));
    await app.tracing?.flush();
    console.log(Object.keys(require.cache).filter((path) => path.includes("@opentelemetry")).length);
    process.exit(0);`;
  const proc = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "inherit" });
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  expect(code).toBe(0);
  return Number(out.trim());
}

describe("with tracing off", () => {
  test("no OpenTelemetry module is loaded, where tracing on loads them", async () => {
    expect(await openTelemetryModulesLoaded({})).toBe(0);
    expect(await openTelemetryModulesLoaded({ CHATGATE_OTLP_ENDPOINT: "http://127.0.0.1:9" })).toBeGreaterThan(0);
  });

  test("nothing is traced: no tracer, and a caller's traceparent is not passed upstream", async () => {
    await using upstream = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: upstream.url });
    expect(gw.app.tracing).toBeUndefined();
    expect(gw.app.gateway.traces).toBeUndefined();
    expect((await post(`${gw.baseURL}/chat/completions`, { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }, { traceparent: TRACEPARENT })).status).toBe(200);
    expect(upstream.calls[0]!.headers.traceparent).toBeUndefined();
    expect(upstream.calls[0]!.headers.tracestate).toBeUndefined();
  });
});
