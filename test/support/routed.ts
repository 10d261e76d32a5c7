// In-process gateways on a config file, in front of fake upstreams: what the routing and
// resilience tests share.
import type { AppOverrides } from "../../src/generation.ts";
import type { Env } from "../../src/config.ts";
import { TestClock } from "./clock.ts";
import { openaiAt, routedEnv, type ConfigDoc, type ProviderDoc } from "./config-file.ts";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { post, startGateway, type TestGateway } from "./gateway.ts";
import { DEFAULT_WORDS, SSE_DONE, chatCompletionChunks, sseEvent } from "./openai-wire.ts";
import { fakeOpenAI, type FakeOpenAI } from "./upstream.ts";

/** The in-process gateway on config `doc`; `overrides` inject the clock (see ./clock.ts). */
export function startRouted(doc: ConfigDoc, overrides: AppOverrides = {}, env: Env = {}): TestGateway {
  return startGateway({ ...routedEnv(doc), ...env }, overrides);
}

/** The public name of the two-target route, and the model each target is asked for. */
export const SMART = "smart";
export const MODEL_A = "model-a";
export const MODEL_B = "model-b";

export interface Pair extends AsyncDisposable {
  /** The primary: provider `a`, asked for `model-a`. */
  a: FakeOpenAI;
  /** The fallback: provider `b`, asked for `model-b`. */
  b: FakeOpenAI;
  gw: TestGateway;
  clock: TestClock;
}

export interface PairOptions {
  /** Top-level settings (retries, cooldown, …); retries and cooldown are off unless set here. */
  config?: Omit<ConfigDoc, "providers" | "models">;
  /** More keys for provider `a` (timeouts, models). */
  a?: Partial<ProviderDoc>;
  b?: Partial<ProviderDoc>;
  clock?: TestClock;
  /** The app keeps the real clock and sleep (for deadlines that real upstream time must count against). */
  realTime?: boolean;
  /** Environment variables, which win over the file (CHATGATE_TIMEOUT_MS, …). */
  env?: Env;
}

/**
 * Route `smart` → `a/model-a`, then `b/model-b`: two fake OpenAI upstreams behind one gateway
 * whose waits go through an injected clock. `await using` stops all three.
 */
export function pair(options: PairOptions = {}): Pair {
  const a = fakeOpenAI();
  const b = fakeOpenAI();
  const clock = options.clock ?? new TestClock();
  const gw = startRouted(
    {
      providers: [openaiAt("a", a, options.a), openaiAt("b", b, options.b)],
      models: { [SMART]: { targets: [{ provider: "a", model: MODEL_A }, { provider: "b", model: MODEL_B }] } },
      ...options.config,
    },
    options.realTime ? {} : clock.overrides,
    options.env,
  );
  return { a, b, gw, clock, [Symbol.asyncDispose]: () => gw.stop().then(() => Promise.all([a.stop(), b.stop()])).then(() => {}) };
}

export const HI = [{ role: "user", content: "hi" }];

/** POSTs a chat request for `model` (default `smart`) with `extra` fields to the gateway. */
export function chat(gw: TestGateway, extra: Record<string, unknown> = {}, init: { signal?: AbortSignal } = {}): Promise<Response> {
  const body = JSON.stringify({ model: SMART, messages: HI, ...extra });
  return fetch(`${gw.baseURL}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body, signal: init.signal });
}

export interface ErrorJson {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** The status and OpenAI error body of a failed request. */
export async function errorOf(res: Response): Promise<{ status: number; text: string; error: ErrorJson["error"] }> {
  const text = await res.text();
  return { status: res.status, text, error: (JSON.parse(text) as ErrorJson).error };
}

/**
 * The exact bytes a fake OpenAI upstream sends for its default stream of `model` (all of it with
 * `[DONE]`, or its first `count` events), with the id and creation time taken from `first`, the
 * first chunk the client received: what the client must get when that upstream served it.
 */
export function upstreamBytes(model: string, first: string, count?: number): string {
  const { id, created } = JSON.parse(first) as ChatCompletionChunk;
  const events = chatCompletionChunks(model, DEFAULT_WORDS, false).map((chunk) => sseEvent({ ...chunk, id, created }));
  return count === undefined ? events.join("") + SSE_DONE : events.slice(0, count).join("");
}

/** The `n`th call (from 1) the fake received, now or when it comes; takes the calls before it from `nextCall`. */
export async function callNumber(fake: FakeOpenAI, n: number) {
  for (;;) {
    const call = await fake.nextCall();
    if (fake.calls.indexOf(call) === n - 1) return call;
  }
}

/** Resolves with `promise`, or fails the test if it has not settled within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: Timer | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

export { post };
