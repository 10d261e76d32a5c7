// In-process gateways with client keys (`keys:` in a config file) in front of an upstream that holds
// its answers until the test lets them go: what the per-key limit tests share.
import type { FinishRecord } from "../../src/gateway/finish.ts";
import { TestClock } from "./clock.ts";
import { routedEnv, type ConfigDoc } from "./config-file.ts";
import { startGateway, type TestGateway } from "./gateway.ts";
import { chatCompletion, chatCompletionChunks, modelObject, SSE_DONE, sseEvent } from "./openai-wire.ts";

export const sha256Hex = (text: string): string => new Bun.CryptoHasher("sha256").update(text).digest("hex");

/** A `keys:` entry as the file takes it; `secret` is what the client sends (the file holds its digest). */
export interface KeyDoc {
  id: string;
  secret: string;
  rpm?: number;
  tpm?: number;
  budget?: { usd: number; period: "day" | "month" };
  models?: string[];
}

type Usage = { prompt_tokens: number; completion_tokens: number; total_tokens: number };

export interface GatedUpstream extends AsyncDisposable {
  url: string;
  /** The chat requests received, in order. */
  calls: Record<string, unknown>[];
  /** Resolves once `n` chat requests have arrived (held or not). */
  arrived(n: number): Promise<void>;
  /** While held, every chat request waits; `release` answers the waiting ones and lets later ones through. */
  hold(): void;
  release(): void;
  /** The usage every answer reports (default 5 prompt + 3 completion tokens). */
  usage: Usage;
  stop(): Promise<void>;
}

/** An OpenAI-compatible upstream whose answers wait while it is held: requests stay in flight as long as a test needs. */
export function gatedUpstream(): GatedUpstream {
  let gate: PromiseWithResolvers<void> | undefined;
  const waiters: { n: number; resolve: () => void }[] = [];
  const up: GatedUpstream = {
    url: "",
    calls: [],
    usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
    arrived(n) {
      if (up.calls.length >= n) return Promise.resolve();
      const { promise, resolve } = Promise.withResolvers<void>();
      waiters.push({ n, resolve });
      return promise;
    },
    hold: () => void (gate ??= Promise.withResolvers<void>()),
    release() {
      gate?.resolve();
      gate = undefined;
    },
    stop: () => server.stop(true),
    [Symbol.asyncDispose]: () => server.stop(true),
  };
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const path = new URL(request.url).pathname;
      if (request.method === "GET" && path === "/v1/models") return Response.json({ object: "list", data: ["gpt-4o-mini", "gpt-4o"].map(modelObject) });
      const body = (await request.json()) as Record<string, unknown>;
      up.calls.push(body);
      for (const w of waiters.filter((w) => up.calls.length >= w.n)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
      if (gate !== undefined) await gate.promise;
      const model = String(body.model);
      if (body.stream !== true) return Response.json(chatCompletion(model, "Hello from upstream", up.usage));
      const chunks = chatCompletionChunks(model, ["Hello"], true);
      chunks.at(-1)!.usage = up.usage;
      return new Response(chunks.map(sseEvent).join("") + SSE_DONE, { headers: { "content-type": "text/event-stream" } });
    },
  });
  up.url = `http://127.0.0.1:${server.port}/v1`;
  return up;
}

/** 2026-06-15 12:00:30 UTC: 30 s before the clock minute ends, 11 h 59 m 30 s before the UTC day does. */
export const T0 = Date.UTC(2026, 5, 15, 12, 0, 30);

/** Provider `a`, and the public names `smart` → gpt-4o-mini ($0.15/$0.60 per 1M tokens), `other` → gpt-4o, `mystery` → a model without a price. */
export function keyedDoc(up: GatedUpstream, keys: KeyDoc[], extra: Record<string, unknown> = {}): ConfigDoc & Record<string, unknown> {
  return {
    // The provider lists its models, so a name nothing serves is a 404 at the gateway, as on OpenAI.
    providers: [{ id: "a", type: "openai", base_url: up.url, api_key: "sk-upstream", models: ["gpt-4o-mini", "gpt-4o", "mystery-model"] }],
    models: {
      smart: { targets: [{ provider: "a", model: "gpt-4o-mini" }] },
      other: { targets: [{ provider: "a", model: "gpt-4o" }] },
      mystery: { targets: [{ provider: "a", model: "mystery-model" }] },
    },
    keys: keys.map(({ secret, ...rest }) => ({ ...rest, key: `sha256:${sha256Hex(secret)}` })),
    ...extra,
  };
}

export interface Keyed extends AsyncDisposable {
  gw: TestGateway;
  up: GatedUpstream;
  clock: TestClock;
  /** Every finish record, in the order requests ended. */
  records: FinishRecord[];
  /** The environment the gateway was started with: what a reload parses again. */
  env: Record<string, string>;
}

/** The in-process gateway on keyedDoc, its clock at T0, the usage ledger off (its own tests cover it). */
export function keyed(keys: KeyDoc[], options: { extra?: Record<string, unknown>; env?: Record<string, string> } = {}): Keyed {
  const up = gatedUpstream();
  const clock = new TestClock(T0);
  const env = { ...routedEnv(keyedDoc(up, keys, options.extra)), CHATGATE_LEDGER: "0", ...options.env };
  const gw = startGateway(env, clock.overrides);
  const records: FinishRecord[] = [];
  gw.app.gateway.finishes.subscribe((record) => void records.push(record));
  return { gw, up, clock, records, env, [Symbol.asyncDispose]: () => gw.stop().then(() => up.stop()) };
}

/** POSTs a chat request with `key`'s secret for `model` (default `smart`). */
export function chatAs(gw: TestGateway, secret: string | undefined, extra: Record<string, unknown> = {}, path = "/v1/chat/completions"): Promise<Response> {
  const body = path === "/chat" ? { message: "hi", ...extra } : { model: "smart", messages: [{ role: "user", content: "hi" }], ...extra };
  return fetch(`${gw.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(secret === undefined ? {} : { authorization: `Bearer ${secret}` }) },
    body: JSON.stringify(body),
  });
}

/** GETs `path` with `key`'s secret. */
export function getAs(gw: TestGateway, secret: string, path: string): Promise<Response> {
  return fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${secret}` } });
}
