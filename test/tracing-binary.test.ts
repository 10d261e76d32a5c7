// Tracing against the compiled binary, from outside: CHATGATE_OTLP_ENDPOINT pointing at a fake
// OTLP/HTTP collector in this process, two fake OpenAI upstreams behind one route, the openai SDK
// as the client. The spans go out in batches; a SIGTERM must still deliver every one before exit.
import { beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { VERSION } from "../src/version.ts";
import { compiledBinary, spawnBinary } from "./support/binary.ts";
import { openaiAt, routedEnv, type ConfigDoc } from "./support/config-file.ts";
import { CLIENT, SERVER, STATUS_ERROR, otlpReceiver } from "./support/otlp-receiver.ts";
import { within } from "./support/routed.ts";
import { fakeOpenAI, type FakeOpenAI } from "./support/upstream.ts";

// Built once per source state, shared with the other binary tests; the build outlasts a test's timeout.
beforeAll(() => compiledBinary(), 120_000);

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN = "b7ad6b7169203331";
const PROMPT = "a prompt that must stay home 5c1e";

const spanIdSent = (fake: FakeOpenAI, i: number) => /^00-[0-9a-f]{32}-([0-9a-f]{16})-01$/.exec(fake.calls[i]!.headers.traceparent ?? "")?.[1];

function twoTargets(a: FakeOpenAI, b: FakeOpenAI) {
  const doc = { providers: [openaiAt("a", a), openaiAt("b", b)], models: { smart: { targets: [{ provider: "a", model: "model-a" }, { provider: "b", model: "model-b" }] } } };
  return routedEnv(doc as ConfigDoc);
}

describe("the binary with CHATGATE_OTLP_ENDPOINT", () => {
  test("exports a server span per request and a client span per attempt, under the caller's traceparent, and flushes them on SIGTERM", async () => {
    await using collector = otlpReceiver();
    await using a = fakeOpenAI();
    await using b = fakeOpenAI();
    a.reply({ kind: "error", status: 500 });
    const gw = await spawnBinary({ ...twoTargets(a, b), CHATGATE_RATE_LIMIT_MAX: "0", CHATGATE_OTLP_ENDPOINT: collector.url, CHATGATE_OTLP_HEADERS: "authorization=Bearer%20bin-token" });
    try {
      const client = new OpenAI({ apiKey: "unused", baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: 10_000 });
      const messages = [{ role: "user" as const, content: PROMPT }];
      const fellBack = await client.chat.completions.create({ model: "smart", messages }, { headers: { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01`, "x-request-id": "bin-req-1" } });
      expect(fellBack.model).toBe("model-b");
      const stream = client.chat.completions.stream({ model: "smart", messages, stream_options: { include_usage: true } });
      const streamed = await stream.finalChatCompletion();
      const status = await (await fetch(`${gw.url}/status`)).text();
      expect(JSON.parse(status).tracing).toBe(true);
      expect(status).not.toContain(collector.url);
      // The batch is still waiting for its delay: nothing has gone out before the SIGTERM.
      gw.proc.kill("SIGTERM");
      expect(await within(gw.exited, 10_000, "the exit after SIGTERM")).toBe(0);

      const spans = collector.spans;
      // Two requests' spans and their three attempts', and the GET /status's own span, named for its route.
      expect(spans).toHaveLength(6);
      const [first, second, ops] = spans.filter((s) => s.kind === SERVER).sort((x, y) => x.startMs - y.startMs);
      expect(ops).toMatchObject({ name: "/status", statusCode: 0, attributes: { "http.route": "/status", "http.response.status_code": 200, "chatgate.outcome": "ok" } });
      expect(spans.filter((s) => s.kind === CLIENT && s.traceId === ops!.traceId)).toEqual([]);
      expect(first).toMatchObject({ traceId: TRACE_ID, parentSpanId: CALLER_SPAN, name: "chat smart", statusCode: 0 });
      expect(first!.attributes).toMatchObject({
        "gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "smart", "gen_ai.response.model": "model-b",
        "gen_ai.usage.input_tokens": fellBack.usage!.prompt_tokens, "gen_ai.usage.output_tokens": fellBack.usage!.completion_tokens,
        "http.response.status_code": 200, "chatgate.request_id": "bin-req-1", "chatgate.outcome": "ok", "chatgate.stream": false, "chatgate.attempts": 2,
      });
      expect(first!.resource).toMatchObject({ "service.name": "chatgate", "service.version": VERSION });
      const attempts = spans.filter((s) => s.kind === CLIENT && s.traceId === TRACE_ID);
      expect(attempts.map((s) => [s.parentSpanId, s.attributes["chatgate.provider"], s.attributes["http.response.status_code"], s.statusCode === STATUS_ERROR]).sort()).toEqual([
        [first!.spanId, "a", 500, true],
        [first!.spanId, "b", 200, false],
      ]);
      // The ids each upstream was sent are the ids of the attempts' spans.
      expect([spanIdSent(a, 0), spanIdSent(b, 0)].sort()).toEqual(attempts.map((s) => s.spanId).sort());

      // The stream came with no traceparent: a trace of its own, its one attempt under it, on `a`.
      expect(second).toMatchObject({ parentSpanId: "" });
      expect(second!.traceId).not.toBe(TRACE_ID);
      expect(second!.attributes).toMatchObject({ "chatgate.stream": true, "chatgate.outcome": "ok", "gen_ai.usage.output_tokens": streamed.usage!.completion_tokens });
      const streamAttempt = spans.find((s) => s.kind === CLIENT && s.traceId === second!.traceId);
      expect(streamAttempt).toMatchObject({ parentSpanId: second!.spanId, spanId: spanIdSent(a, 1) });

      // The request's log line names its trace and span.
      expect(gw.logs().find((l) => l.msg === "request" && l.req_id === "bin-req-1")).toMatchObject({ trace_id: TRACE_ID, span_id: first!.spanId });
      expect(collector.headers.every((h) => h.authorization === "Bearer bin-token")).toBe(true);
      for (const body of collector.bodies) expect(body).not.toContain(PROMPT);
      // The collector's credentials are never printed.
      expect(gw.output()).not.toContain("bin-token");
    } finally {
      await gw.stop();
    }
  });

  test("with its collector unreachable, answers as usual, and on SIGTERM waits for it no longer than its bound, saying so once", async () => {
    // A port that was just free: nothing listens there.
    const closed = otlpReceiver();
    const url = closed.url;
    await closed.stop();
    await using up = fakeOpenAI();
    const gw = await spawnBinary({ OPENAI_BASE_URL: up.url, CHATGATE_RATE_LIMIT_MAX: "0", CHATGATE_OTLP_ENDPOINT: url });
    try {
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }) });
        expect(res.status).toBe(200);
      }
      const sent = performance.now();
      gw.proc.kill("SIGTERM");
      expect(await within(gw.exited, 10_000, "the exit after SIGTERM")).toBe(0);
      // The exporter retries an unreachable collector with backoff; shutdown waits 3 s for it at most.
      expect(performance.now() - sent).toBeLessThan(6_000);
      const warnings = gw.logs().filter((l) => l.level === "warn" && l.msg.includes("tracing"));
      expect(warnings.map((l) => l.msg)).toEqual([expect.stringContaining("did not take the last spans within 3000 ms")]);
    } finally {
      await gw.stop();
    }
  }, 15_000);
});

describe("the binary without CHATGATE_OTLP_ENDPOINT", () => {
  test("sends no traceparent upstream, not even the caller's", async () => {
    await using up = fakeOpenAI();
    await using gw = await spawnBinary({ OPENAI_BASE_URL: up.url, CHATGATE_RATE_LIMIT_MAX: "0" });
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01`, tracestate: "vendor=abc" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.status).toBe(200);
    expect(up.calls[0]!.headers.traceparent).toBeUndefined();
    expect(up.calls[0]!.headers.tracestate).toBeUndefined();
    expect(((await (await fetch(`${gw.url}/status`)).json()) as { tracing: boolean }).tracing).toBe(false);
  });
});
