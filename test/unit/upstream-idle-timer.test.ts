// Every upstream call turns off Bun's own socket idle timer (5 minutes by default), which cut a long
// non-streamed answer (a reasoning model's) and had the call made again: chatgate's own timers
// (first_byte, idle, total) bound each call. Asserted on the fetch each provider makes.
import { expect, test } from "bun:test";
import { AnthropicProvider } from "../../src/providers/anthropic/provider.ts";
import { OpenAIProvider } from "../../src/providers/openai.ts";
import type { ChatCall } from "../../src/providers/provider.ts";

const TIMEOUTS = { firstByteMs: 60_000, idleMs: 60_000, totalMs: 60_000 };
const body = { model: "m", messages: [{ role: "user" as const, content: "hi" }] };
const call = (stream: boolean): ChatCall => {
  const b = stream ? { ...body, stream: true } : body;
  return { body: b as ChatCall["body"], raw: JSON.stringify(b) };
};

function spy(): { fetch: typeof fetch; inits: RequestInit[] } {
  const inits: RequestInit[] = [];
  const fake = (async (_url: string, init: RequestInit) => {
    inits.push(init);
    return new Response(JSON.stringify({ error: { message: "no", type: "invalid_request_error" } }), { status: 400, headers: { "content-type": "application/json" } });
  }) as unknown as typeof fetch;
  return { fetch: fake, inits };
}

test("chat completions, JSON and streamed, embeddings and model lists: timeout false on every upstream fetch", async () => {
  const { fetch, inits } = spy();
  const openai = new OpenAIProvider({ id: "o", baseUrl: "http://127.0.0.1:9/v1", apiKey: "k", timeouts: TIMEOUTS, fetch });
  const signal = new AbortController().signal;
  await openai.complete(call(false), { signal, model: "m" }).catch(() => {});
  await openai.stream(call(true), { signal, model: "m" }).catch(() => {});
  await openai.embed!({ kind: "embeddings", body: { model: "e", input: "x" }, raw: '{"model":"e","input":"x"}' } as never, { signal, model: "e" }).catch(() => {});
  await openai.models({ signal }).catch(() => {});
  const anthropic = new AnthropicProvider({ id: "a", baseUrl: "http://127.0.0.1:9", apiKey: "k", timeouts: TIMEOUTS, fetch });
  await anthropic.complete(call(false), { signal, model: "claude" }).catch(() => {});
  await anthropic.stream(call(true), { signal, model: "claude" }).catch(() => {});
  await anthropic.models({ signal }).catch(() => {});
  expect(inits.length).toBe(7);
  expect(inits.map((i) => (i as { timeout?: unknown }).timeout)).toEqual(Array(7).fill(false));
});
