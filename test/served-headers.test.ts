// Who served an answer, on every response (x-chatgate-*), and the one finish record per request
// that logs, metrics and the usage ledger will read.
import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { createApp } from "../src/app.ts";
import { parseConfig } from "../src/config.ts";
import type { FinishRecord } from "../src/gateway/finish.ts";
import { startGateway } from "./support/gateway.ts";
import { anthropicAt } from "./support/config-file.ts";
import { fakeAnthropic } from "./support/fake-anthropic.ts";
import { MODEL_A, MODEL_B, SMART, chat, pair, startRouted } from "./support/routed.ts";
import { readSse } from "./support/sse.ts";

const served = (res: Response) => ({
  provider: res.headers.get("x-chatgate-provider"),
  model: res.headers.get("x-chatgate-model"),
  attempts: res.headers.get("x-chatgate-attempts"),
});

function recordsOf(gw: { app: { gateway: { finishes: { subscribe(l: (r: FinishRecord) => void): () => void } } } }) {
  const records: FinishRecord[] = [];
  gw.app.gateway.finishes.subscribe((r) => records.push(r));
  return records;
}

describe("x-chatgate-* headers say who served every answer", () => {
  test("a JSON answer from the fallback names the fallback, its upstream model and two attempts", async () => {
    await using p = pair();
    p.a.reply({ kind: "error", status: 500 });
    const res = await chat(p.gw);
    expect(res.status).toBe(200);
    expect(served(res)).toEqual({ provider: "b", model: MODEL_B, attempts: "2" });
  });

  test("a stream names who served it in its headers", async () => {
    await using p = pair();
    const res = await chat(p.gw, { stream: true });
    expect(served(res)).toEqual({ provider: "a", model: MODEL_A, attempts: "1" });
    expect((await readSse(res)).data.at(-1)).toBe("[DONE]");
  });

  test("an error after routing names the last target tried and every attempt", async () => {
    await using p = pair();
    p.a.reply({ kind: "error", status: 500 });
    p.b.reply({ kind: "error", status: 503 });
    const res = await chat(p.gw);
    expect(res.status).toBe(502);
    expect(served(res)).toEqual({ provider: "b", model: MODEL_B, attempts: "2" });
  });

  test("a request refused before routing carries no x-chatgate-provider", async () => {
    await using p = pair();
    const res = await chat(p.gw, { messages: "not a list" });
    expect(res.status).toBe(400);
    expect(res.headers.get("x-chatgate-provider")).toBeNull();
  });
});

describe("x-chatgate-dropped-params", () => {
  test("with drop_params, parameters Anthropic cannot honour are dropped and named, JSON and stream", async () => {
    await using fake = fakeAnthropic();
    const provider = anthropicAt("claude", fake, { drop_params: true });
    await using gw = startRouted({ providers: [provider], models: { smart: { targets: [{ provider: "claude", model: "claude-sonnet-4-5" }] } } });
    for (const stream of [false, true]) {
      const res = await chat(gw, { stream, logprobs: true, presence_penalty: 0.5 });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-chatgate-dropped-params")?.split(", ").sort()).toEqual(["logprobs", "presence_penalty"]);
      expect(served(res)).toEqual({ provider: "claude", model: "claude-sonnet-4-5", attempts: "1" });
      await res.text();
    }
  });

  test("without drop_params the same request is a 400 naming the parameter and the provider", async () => {
    await using fake = fakeAnthropic();
    await using gw = startRouted({ providers: [anthropicAt("claude", fake)], models: { smart: { targets: [{ provider: "claude", model: "claude-sonnet-4-5" }] } } });
    const res = await chat(gw, { logprobs: true });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { param: string; message: string; type: string } };
    expect(error).toMatchObject({ type: "invalid_request_error", param: "logprobs" });
    expect(error.message).toContain("claude");
  });
});

describe("one finish record per request", () => {
  test("a JSON success: route, public model, provider, upstream model, status, ok, attempts, usage, timings", async () => {
    await using p = pair();
    const records = recordsOf(p.gw);
    p.a.reply({ kind: "error", status: 500 });
    await (await chat(p.gw)).text();
    expect(records).toHaveLength(1);
    const [r] = records;
    expect(r).toMatchObject({ route: "/v1/chat/completions", stream: false, model: SMART, provider: "b", upstreamModel: MODEL_B, status: 200, outcome: "ok" });
    expect(r!.attempts.map((a) => [a.provider, a.status, a.reason])).toEqual([["a", 500, "upstream_error"], ["b", 200, "ok"]]);
    expect(r!.usage?.total_tokens).toBeGreaterThan(0);
    expect(r!.durationMs).toBeGreaterThanOrEqual(0);
    expect(r!.ttfbMs).toBeDefined();
  });

  test("a complete stream, a truncated one and a client abort each get exactly one record with their outcome", async () => {
    await using p = pair();
    const records = recordsOf(p.gw);
    await readSse(await chat(p.gw, { stream: true, stream_options: { include_usage: true } }));
    p.a.reply({ kind: "stream", cutAfterEvents: 3 });
    await readSse(await chat(p.gw, { stream: true }));
    p.a.reply({ kind: "stream", stallAfterEvents: 2 });
    const client = new AbortController();
    const res = await chat(p.gw, { stream: true }, { signal: client.signal });
    const reader = res.body!.getReader();
    await reader.read();
    client.abort();
    await p.a.calls[2]!.aborted;
    // A stream that ended without the upstream's usage is recorded once its usage is estimated, after
    // the tokenizer's one load (~0.3 s, longer on a busy machine): it counts as in flight until then.
    await p.gw.app.stats.idle();
    expect(records.map((r) => [r.stream, r.outcome, r.status])).toEqual([[true, "ok", 200], [true, "truncated", 200], [true, "client_abort", 200]]);
    expect(records[0]!.usage?.total_tokens).toBeGreaterThan(0);
    expect(records[1]!.errorCode).toMatch(/^upstream_(stream_truncated|connection_error)$/);
  });

  test("a stream the upstream delivered whole (one body) gets its record too", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const records = recordsOf(gw);
    await readSse(await fetch(`${gw.baseURL}/chat/completions`, { method: "POST", body: JSON.stringify({ model: "mock", stream: true, messages: [{ role: "user", content: "a b" }] }) }));
    expect(records.map((r) => [r.provider, r.outcome])).toEqual([["mock", "ok"]]);
  });

  test("the routes that record themselves run no hook of the one that records the other routes' answers", () => {
    const { app } = createApp(parseConfig({ CHATGATE_MOCK: "1", CHATGATE_LEDGER: "0" }));
    const own = new Set(["/v1/chat/completions", "/chat", "/v1/messages", "/v1/embeddings", "/hooks/:name"]);
    const mapResponse = (path: string) => app.routes.filter((r) => r.path === path).map((r) => (r.hooks as { mapResponse?: unknown[] }).mapResponse?.length ?? 0);
    for (const path of own) expect([path, mapResponse(path)]).toEqual([path, [0]]);
    for (const path of ["/", "/health", "/status", "/v1/models", "/v1/models/:model", "/metrics", "/v1/usage", "/docs", "/docs/json", "/v1/messages/count_tokens"]) expect([path, mapResponse(path)]).toEqual([path, [1]]);
  });

  test("requests refused before routing get one record each, with their status", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1", CHATGATE_API_KEYS: "k1" });
    const records = recordsOf(gw);
    const client = new OpenAI({ apiKey: "wrong", baseURL: gw.baseURL, maxRetries: 0 });
    await client.chat.completions.create({ model: "mock", messages: [{ role: "user", content: "x" }] }).catch(() => {});
    await fetch(`${gw.url}/v1/nowhere`);
    await fetch(`${gw.baseURL}/chat/completions`, { method: "POST", headers: { authorization: "Bearer k1" }, body: "{" });
    expect(records.map((r) => [r.status, r.outcome, r.attempts.length])).toEqual([[401, "error", 0], [404, "error", 0], [400, "error", 0]]);
  });
});
