// Routing and resilience (issue 9) against the compiled binary, as a user runs it: a config file
// given by CHATGATE_CONFIG, fake upstreams in this process, real waits (kept to about a second).
import { beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import type { ChatCompletion, ChatCompletionChunk } from "openai/resources/chat/completions";
import { DEFAULT_MODEL } from "./support/anthropic-wire.ts";
import { compiledBinary, spawnBinary } from "./support/binary.ts";
import { anthropicAt, keyOf, openaiAt, routedEnv, type ConfigDoc } from "./support/config-file.ts";
import { fakeAnthropic } from "./support/fake-anthropic.ts";
import type { GatewayProcess } from "./support/process.ts";
import { fakeOpenAI } from "./support/upstream.ts";

// Built once per source state, shared with the other binary tests; the build outlasts a test's timeout.
beforeAll(() => compiledBinary(), 120_000);

/** The binary on config `doc`, rate limiting off (the weighted test sends 200 requests). */
const binaryOn = (doc: ConfigDoc): Promise<GatewayProcess> => spawnBinary({ ...routedEnv(doc), CHATGATE_RATE_LIMIT_MAX: "0" });

const TWO = { smart: { targets: [{ provider: "a", model: "model-a" }, { provider: "b", model: "model-b" }] } };

function ask(gw: GatewayProcess, model = "smart"): Promise<Response> {
  const body = JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] });
  return fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body });
}

async function modelOf(res: Response): Promise<string> {
  expect(res.status).toBe(200);
  return ((await res.json()) as ChatCompletion).model;
}

describe("the compiled binary routes by its config file", () => {
  test("a priority route falls back after the first target's 500s are retried", async () => {
    await using a = fakeOpenAI();
    await using b = fakeOpenAI();
    await using gw = await binaryOn({ providers: [openaiAt("a", a), openaiAt("b", b)], models: TWO, retries: 1 });
    a.reply({ kind: "error", status: 500 }, { kind: "error", status: 500 });
    expect(await modelOf(await ask(gw))).toBe("model-b");
    expect(a.calls.map((c) => (c.body as { model: string }).model)).toEqual(["model-a", "model-a"]);
    expect(b.calls.map((c) => (c.body as { model: string }).model)).toEqual(["model-b"]);
  });

  test("a 429 with Retry-After 1 s is waited for, then the same target answers", async () => {
    await using a = fakeOpenAI();
    await using b = fakeOpenAI();
    await using gw = await binaryOn({ providers: [openaiAt("a", a), openaiAt("b", b)], models: TWO, retries: 2, max_retry_wait: "10s" });
    a.reply({ kind: "error", status: 429, headers: { "retry-after": "1" } });
    const answer = ask(gw);
    await a.nextCall();
    const first = performance.now();
    await a.nextCall();
    const waited = performance.now() - first;
    expect(await modelOf(await answer)).toBe("model-a");
    expect(waited).toBeGreaterThanOrEqual(950);
    expect(waited).toBeLessThan(1_500);
    expect(b.calls).toHaveLength(0);
  });

  test("a target that failed cooldown_after times shows in /status as cooling down, with its last error and no key, and is skipped", async () => {
    await using a = fakeOpenAI();
    await using b = fakeOpenAI();
    await using gw = await binaryOn({ providers: [openaiAt("a", a), openaiAt("b", b)], models: TWO, cooldown_after: 1, cooldown: "30s" });
    a.reply({ kind: "error", status: 500 });
    const before = Date.now();
    expect(await modelOf(await ask(gw))).toBe("model-b");
    const after = Date.now();
    const text = await (await fetch(`${gw.url}/status`)).text();
    expect(text).not.toContain(keyOf("a"));
    const [target, ...others] = (JSON.parse(text) as { targets: { cooling_until: string }[] }).targets;
    expect(others).toEqual([]);
    expect(target).toMatchObject({ provider: "a", model: "model-a", state: "cooling_down", failures_in_a_row: 1, last_error: "500 upstream_error" });
    const until = Date.parse(target!.cooling_until);
    expect(until).toBeGreaterThanOrEqual(before + 30_000 - 1_000);
    expect(until).toBeLessThanOrEqual(after + 30_000 + 1_000);
    expect(await modelOf(await ask(gw))).toBe("model-b");
    expect([a.calls.length, b.calls.length]).toEqual([1, 2]);
  });

  test("an Anthropic target streams through the openai SDK as OpenAI chunks with Anthropic's own model", async () => {
    await using claude = fakeAnthropic();
    await using gw = await binaryOn({ providers: [anthropicAt("claude", claude)], models: { smart: { targets: [{ provider: "claude", model: "claude-sonnet-4-5" }] } } });
    claude.reply({ kind: "stream", model: DEFAULT_MODEL });
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "unused", maxRetries: 0, timeout: 10_000 });
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of await client.chat.completions.create({ model: "smart", messages: [{ role: "user", content: "hi" }], stream: true })) chunks.push(chunk);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe("Hello from Claude");
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("stop");
    expect(new Set(chunks.map((c) => c.model))).toEqual(new Set([DEFAULT_MODEL]));
    expect(claude.calls.map((c) => c.body)).toEqual([expect.objectContaining({ model: "claude-sonnet-4-5", stream: true })]);
  });

  test("a weighted route (3:1) splits 200 requests' first picks by weight", async () => {
    await using heavy = fakeOpenAI();
    await using light = fakeOpenAI();
    await using gw = await binaryOn({
      providers: [openaiAt("heavy", heavy), openaiAt("light", light)],
      models: { cheap: { strategy: "weighted", targets: [{ provider: "heavy", model: "m-heavy", weight: 3 }, { provider: "light", model: "m-light", weight: 1 }] } },
    });
    const answers = await Promise.all(Array.from({ length: 200 }, () => ask(gw, "cheap").then(modelOf)));
    expect(answers.filter((m) => m === "m-heavy").length).toBe(heavy.calls.length);
    expect(heavy.calls.length + light.calls.length).toBe(200);
    // Math.random here: 75 % ± 10 points is more than 3 standard deviations at n = 200.
    expect(Math.abs(heavy.calls.length / 200 - 0.75)).toBeLessThan(0.1);
  });
});
