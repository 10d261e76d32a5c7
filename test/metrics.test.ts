// GET /metrics against a real gateway: known traffic in (a retry, a fallback and a cooldown on fake
// upstreams, a stream, a truncated stream, an unknown model, a 401, a 429), one scrape out, parsed
// with a Prometheus text parser, and every counter equal to what was sent. Then who may scrape.
import { describe, expect, test } from "bun:test";
import type { OpenAPIV3 } from "openapi-types";
import { expectOpenAIError } from "./errors-shape.ts";
import { getMetrics, scrape } from "./metrics-scrape.ts";
import { everyRecord } from "./support/records.ts";
import { post, startGateway } from "./support/gateway.ts";
import { HI, MODEL_A, MODEL_B, SMART, pair } from "./support/routed.ts";
import { holdCounts } from "./support/held-count.ts";

const CLIENT = "ck-metrics-client-key";
const METRICS = "mk-metrics-scrape-key";
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

describe("the counters match the traffic sent", () => {
  test("requests, latency, tokens, attempts, retries, fallbacks, cooldowns, truncation and refusals, each counted once", async () => {
    await using p = pair({
      config: { retries: 1, cooldown_after: 2 },
      a: { models: [MODEL_A] },
      b: { models: [MODEL_B] },
      env: { CHATGATE_API_KEYS: CLIENT, CHATGATE_RATE_LIMIT_MAX: "4" },
    });
    const { a, b, gw } = p;
    const chat = (extra: Record<string, unknown> = {}, key = CLIENT) => post(`${gw.baseURL}/chat/completions`, { model: SMART, messages: HI, ...extra }, auth(key));

    // 1. `a` fails twice (a retry, then cooldown), `b` answers: a fallback.
    a.reply({ kind: "error", status: 503 }, { kind: "error", status: 503 });
    const first = await chat();
    expect(first.status).toBe(200);
    const usage = ((await first.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
    // 2. A stream with usage: `a` is cooling down, so `b` serves it at once.
    const streamed = await chat({ stream: true, stream_options: { include_usage: true } });
    expect(streamed.status).toBe(200);
    expect(await streamed.text()).toContain("data: [DONE]");
    // Scrapes are not rate limited: were they, request 4 below would be the 429.
    for (let i = 0; i < 3; i++) await scrape(gw.url, CLIENT);
    // 3. A stream cut after its first events: truncated.
    b.reply({ kind: "stream", cutAfterEvents: 2 });
    const cut = await chat({ stream: true });
    expect(cut.status).toBe(200);
    expect(await cut.text()).not.toContain("data: [DONE]");
    // 4. A model the config does not know: a 404, counted under `other`.
    expect((await chat({ model: "not-in-the-config" })).status).toBe(404);
    // 5. The fifth request with the key is over the limit of 4.
    expect((await chat()).status).toBe(429);
    // A wrong key (not rate limited: refused first) and a scrape without a key.
    expect((await chat({}, "ck-wrong")).status).toBe(401);
    expect((await getMetrics(gw.url)).status).toBe(401);
    await gw.app.stats.idle();

    const m = await scrape(gw.url, CLIENT);
    const chatRoute = "/v1/chat/completions";
    expect(m.series("chatgate_requests_total")).toEqual({
      [`route=${chatRoute},model=${SMART},provider=b,status=200`]: 3,
      [`route=${chatRoute},model=other,provider=none,status=404`]: 1,
      [`route=${chatRoute},model=none,provider=none,status=429`]: 1,
      [`route=${chatRoute},model=none,provider=none,status=401`]: 1,
      ["route=/metrics,model=none,provider=none,status=401"]: 1,
      // The three scrapes above (this one is counted once it has been answered).
      ["route=/metrics,model=none,provider=none,status=200"]: 3,
    });
    // Only routed requests have a duration: the 404 for a model nothing serves was refused before.
    expect(m.series("chatgate_request_duration_seconds")).toEqual({
      [`route=${chatRoute},model=${SMART},stream=false`]: 1,
      [`route=${chatRoute},model=${SMART},stream=true`]: 2,
    });
    expect(m.series("chatgate_time_to_first_byte_seconds")).toEqual({
      [`route=${chatRoute},model=${SMART},stream=false`]: 1,
      [`route=${chatRoute},model=${SMART},stream=true`]: 2,
    });
    // The cut stream counts too, its usage estimated: "hi" as a prompt is 8 tokens, and it delivered "Hello", 1.
    expect(m.series("chatgate_tokens_total")).toEqual({
      [`model=${SMART},provider=b,type=prompt`]: usage.prompt_tokens * 2 + 8,
      [`model=${SMART},provider=b,type=completion`]: usage.completion_tokens * 2 + 1,
    });
    expect(m.series("chatgate_upstream_attempts_total")).toEqual({ "provider=a": 2, "provider=b": 3 });
    // The cut stream's attempt failed too (its upstream broke it).
    expect(m.series("chatgate_upstream_failures_total")).toEqual({ "provider=a,reason=upstream_error": 2, "provider=b,reason=upstream_stream_truncated": 1 });
    expect(m.series("chatgate_retries_total")).toEqual({ "provider=a": 1 });
    expect(m.series("chatgate_fallbacks_total")).toEqual({ [`model=${SMART}`]: 1 });
    expect(m.series("chatgate_cooldowns_total")).toEqual({ "provider=a": 1 });
    expect(m.series("chatgate_targets_cooling_down")).toEqual({ "provider=a": 1, "provider=b": 0 });
    expect(m.series("chatgate_streams_truncated_total")).toEqual({ [`model=${SMART},provider=b`]: 1 });
    expect(m.series("chatgate_rate_limited_total")).toEqual({ [`route=${chatRoute}`]: 1 });
    expect(m.series("chatgate_in_flight_requests")).toEqual({ "kind=json": 0, "kind=stream": 0 });
    // What the fakes saw agrees: two calls to `a`, three to `b`.
    expect([a.calls.length, b.calls.length]).toEqual([2, 3]);
  });

  test("a client that leaves mid-attempt is no provider failure: the attempt counts, no failure does", async () => {
    await using p = pair();
    const answered = everyRecord(p.gw);
    p.a.reply({ kind: "stall" });
    const client = new AbortController();
    const leaving = fetch(`${p.gw.baseURL}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: SMART, messages: HI }), signal: client.signal }).catch(() => undefined);
    await p.a.nextCall();
    client.abort();
    await leaving;
    await answered.count(1);
    expect(answered.all[0]!.attempts.map((a) => a.reason)).toEqual(["client_closed_request"]);
    const m = await scrape(p.gw.url);
    expect(m.series("chatgate_upstream_attempts_total")).toEqual({ "provider=a": 1 });
    expect(m.series("chatgate_upstream_failures_total")).toEqual({});
  });

  test("requests in flight are read at scrape time: a stream held open counts until it ends", async () => {
    await using p = pair();
    p.a.reply({ kind: "stream", stallAfterEvents: 2 });
    const client = new AbortController();
    const body = JSON.stringify({ model: SMART, messages: HI, stream: true });
    const res = await fetch(`${p.gw.baseURL}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body, signal: client.signal });
    const reader = res.body!.getReader();
    await reader.read();
    expect((await scrape(p.gw.url)).series("chatgate_in_flight_requests")).toEqual({ "kind=json": 0, "kind=stream": 1 });
    client.abort();
    await p.gw.app.stats.idle();
    const after = await scrape(p.gw.url);
    expect(after.series("chatgate_in_flight_requests")).toEqual({ "kind=json": 0, "kind=stream": 0 });
    expect(after.series("chatgate_requests_total")).toEqual({
      [`route=/v1/chat/completions,model=${SMART},provider=a,status=200`]: 1,
      ["route=/metrics,model=none,provider=none,status=200"]: 1,
    });
  });

  test("every answer is counted once under its route and status: the model list, a model, /health, a scrape, the docs, an error, a redirect, a token count and a chat completion", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1", CHATGATE_API_KEYS: CLIENT });
    const answered = everyRecord(gw);
    const sent: [string, string, number][] = [
      ["GET", "/v1/models", 200],
      ["GET", "/v1/models/mock", 200],
      // The mock alone answers every name, so a model it was never told of is one too.
      ["GET", "/v1/models/not-a-model", 200],
      ["GET", "/health", 200],
      ["HEAD", "/health", 200],
      ["GET", "/metrics", 200],
      ["GET", "/docs/json", 200],
      ["GET", "/status", 200],
      ["GET", "/nowhere", 404],
      ["GET", "/docs/", 308],
    ];
    for (const [method, path, status] of sent) {
      const res = await fetch(`${gw.url}${path}`, { method, headers: auth(CLIENT), redirect: "manual" });
      await res.arrayBuffer();
      expect(`${method} ${path} ${res.status}`).toBe(`${method} ${path} ${status}`);
    }
    const chat = await post(`${gw.baseURL}/chat/completions`, { model: "mock", messages: HI }, auth(CLIENT));
    expect(chat.status).toBe(200);
    await chat.text();
    const counted = await post(`${gw.baseURL}/messages/count_tokens`, { model: "mock", messages: HI }, auth(CLIENT));
    expect(counted.status).toBe(200);
    await counted.text();
    await answered.count(sent.length + 2);

    const m = await scrape(gw.url, CLIENT);
    expect(m.series("chatgate_requests_total")).toEqual({
      "route=/v1/models,model=none,provider=none,status=200": 1,
      "route=/v1/models/:model,model=none,provider=none,status=200": 2,
      "route=/health,model=none,provider=none,status=200": 2,
      "route=/metrics,model=none,provider=none,status=200": 1,
      "route=/docs/json,model=none,provider=none,status=200": 1,
      "route=/status,model=none,provider=none,status=200": 1,
      "route=other,model=none,provider=none,status=404": 1,
      "route=other,model=none,provider=none,status=308": 1,
      "route=/v1/chat/completions,model=mock,provider=mock,status=200": 1,
      "route=/v1/messages/count_tokens,model=none,provider=none,status=200": 1,
    });
    // Only the routed request has a duration: the others have no model to file it under.
    expect(m.series("chatgate_request_duration_seconds")).toEqual({ "route=/v1/chat/completions,model=mock,stream=false": 1 });
    // One record per request, the last scrape's included once it has been answered.
    await answered.count(sent.length + 3);
    expect(answered.perRequest().filter(([, n]) => n !== 1)).toEqual([]);
  });
});

describe("who may scrape", () => {
  test("with CHATGATE_METRICS_KEY set, only that key: a client key is refused like a wrong one", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1", CHATGATE_API_KEYS: CLIENT, CHATGATE_METRICS_KEY: METRICS });
    await expectOpenAIError(await getMetrics(gw.url), 401, { type: "invalid_request_error", code: "invalid_api_key" });
    await expectOpenAIError(await getMetrics(gw.url, CLIENT), 401, { type: "invalid_request_error", code: "invalid_api_key" });
    await scrape(gw.url, METRICS);
    // The client key still works where it belongs.
    expect((await fetch(`${gw.url}/v1/models`, { headers: auth(CLIENT) })).status).toBe(200);
  });

  test("the metrics key may be given as its sha256: digest, like client keys", async () => {
    const digest = new Bun.CryptoHasher("sha256").update(METRICS).digest("hex");
    await using gw = startGateway({ CHATGATE_MOCK: "1", CHATGATE_METRICS_KEY: `sha256:${digest}` });
    await scrape(gw.url, METRICS);
    expect((await getMetrics(gw.url, `sha256:${digest}`)).status).toBe(401);
  });

  test("without a metrics key, the client keys: a right one scrapes, a wrong or missing one is a 401", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1", CHATGATE_API_KEYS: `ck-other,${CLIENT}` });
    await scrape(gw.url, CLIENT);
    await expectOpenAIError(await getMetrics(gw.url, "ck-wrong"), 401, { code: "invalid_api_key" });
    await expectOpenAIError(await getMetrics(gw.url), 401, { code: "invalid_api_key" });
  });

  test("with no keys at all, /metrics is public", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    await scrape(gw.url);
    await scrape(gw.url, "any-key-at-all");
  });

  test("a metrics key alone protects /metrics and nothing else", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1", CHATGATE_METRICS_KEY: METRICS });
    expect((await getMetrics(gw.url)).status).toBe(401);
    expect((await post(`${gw.baseURL}/chat/completions`, { model: "mock", messages: HI })).status).toBe(200);
  });

  test("wrong keys at /metrics count as failed key attempts from that address: guessing there is limited too", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1", CHATGATE_API_KEYS: CLIENT, CHATGATE_AUTH_FAILURE_LIMIT: "2" });
    for (let i = 0; i < 2; i++) expect((await getMetrics(gw.url, `ck-guess-${i}`)).status).toBe(401);
    await expectOpenAIError(await getMetrics(gw.url, CLIENT), 429, { code: "rate_limit_exceeded" });
    // The same budget as the API routes': the right key is refused there too until the window ends.
    expect((await fetch(`${gw.url}/v1/models`, { headers: auth(CLIENT) })).status).toBe(429);
  });

  test("scrapes never use up a client's rate limit", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1", CHATGATE_API_KEYS: CLIENT, CHATGATE_RATE_LIMIT_MAX: "1" });
    for (let i = 0; i < 5; i++) await scrape(gw.url, CLIENT);
    const chat = () => post(`${gw.baseURL}/chat/completions`, { model: "mock", messages: HI }, auth(CLIENT));
    expect((await chat()).status).toBe(200);
    expect((await chat()).status).toBe(429);
    // And the scrape right after the 429 still answers.
    expect((await scrape(gw.url, CLIENT)).value("chatgate_rate_limited_total")).toBe(1);
  });
});

describe("the OpenAPI document", () => {
  test("lists GET /metrics as Prometheus text, behind the document's bearer key", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const doc = (await (await fetch(`${gw.url}/docs/json`)).json()) as OpenAPIV3.Document;
    const operation = doc.paths["/metrics"]?.get;
    expect(operation?.security).toBeUndefined();
    const ok = operation?.responses["200"] as OpenAPIV3.ResponseObject | undefined;
    expect(Object.keys(ok?.content ?? {})).toEqual(["text/plain; version=0.0.4; charset=utf-8"]);
  });
});

describe("a scrape right after a request whose usage is still being counted", () => {
  test("waits for its record: a cut stream scraped at once is counted, with its estimated tokens", async () => {
    // The cut stream's usage count, held until the scrape has begun.
    using counts = holdCounts();
    await using p = pair();
    p.a.reply({ kind: "stream", cutAfterEvents: 2 });
    const cut = await post(`${p.gw.baseURL}/chat/completions`, { model: SMART, messages: HI, stream: true });
    expect(await cut.text()).not.toContain("data: [DONE]");
    expect(p.gw.app.stats.recordsPending).toBe(1);
    const scraped = scrape(p.gw.url);
    counts.release();
    const m = await scraped;
    expect(m.series("chatgate_streams_truncated_total")).toEqual({ [`model=${SMART},provider=a`]: 1 });
    expect(m.series("chatgate_tokens_total")[`model=${SMART},provider=a,type=completion`]).toBe(1);
  });
});
