// The scenarios and the three modes' sizes. Durations are per run; a full run is
// rounds × scenarios × targets runs (chatgate-redis runs only the non-stream ones: ONLY), so
// these numbers set the wall time (≈ 11 min by default).
import type { GatewayFront, UpstreamApi } from "./client.ts";
import type { TargetName } from "./commands.ts";
import type { VerifyLevel } from "./verify.ts";
import type { BenchKnobs } from "./wire.ts";

export interface Scenario {
  id: string;
  title: string;
  stream: boolean;
  concurrency: number;
  promptBytes: number;
  knobs: BenchKnobs;
  /** Duration-bound runs use the mode's duration; count-bound ones (500 streams) their own count. */
  fixedRequests: number | null;
  verify: VerifyLevel;
  /**
   * The API the mock speaks (default openai). With anthropic, direct and passthrough send the mock
   * a Messages request; chatgate gets the OpenAI request and translates both ways.
   */
  upstream?: UpstreamApi;
  /**
   * With an anthropic upstream, what chatgate is asked (default openai, translated); anthropic: the
   * same Messages request as direct and passthrough, on chatgate's /v1/messages, relayed as is.
   */
  front?: GatewayFront;
}

const SHORT_PROMPT = 40;

export const SCENARIOS: readonly Scenario[] = [
  { id: "ns-c1", title: "non-stream c1", stream: false, concurrency: 1, promptBytes: SHORT_PROMPT, knobs: {}, fixedRequests: null, verify: "full" },
  { id: "ns-c16", title: "non-stream c16", stream: false, concurrency: 16, promptBytes: SHORT_PROMPT, knobs: {}, fixedRequests: null, verify: "full" },
  {
    // Every target gets the Messages request; chatgate relays it to its Anthropic provider and the
    // mock's bytes back, the cost read against ns-c16 (a chat completion to an OpenAI target). Run
    // right after it in every round, so the two are compared at the same moment of the run (placed
    // last, they came after the heavy scenarios, when every target, the mock included, cost more).
    id: "msg-ns-c16",
    title: "Messages non-stream c16 (Anthropic upstream, pass-through)",
    stream: false,
    concurrency: 16,
    promptBytes: SHORT_PROMPT,
    knobs: {},
    fixedRequests: null,
    verify: "full",
    upstream: "anthropic",
    front: "anthropic",
  },
  { id: "ns-c64", title: "non-stream c64", stream: false, concurrency: 64, promptBytes: SHORT_PROMPT, knobs: {}, fixedRequests: null, verify: "full" },
  { id: "s-c1", title: "stream c1", stream: true, concurrency: 1, promptBytes: SHORT_PROMPT, knobs: {}, fixedRequests: null, verify: "full" },
  { id: "s-c32", title: "stream c32", stream: true, concurrency: 32, promptBytes: SHORT_PROMPT, knobs: {}, fixedRequests: null, verify: "light" },
  {
    // 26 Anthropic events in and out of every target (s-c32: 23 OpenAI chunks + [DONE]); right
    // after s-c32, as msg-ns-c16 follows ns-c16.
    id: "msg-s-c32",
    title: "Messages stream c32 (Anthropic upstream, pass-through)",
    stream: true,
    concurrency: 32,
    promptBytes: SHORT_PROMPT,
    knobs: {},
    fixedRequests: null,
    verify: "light",
    upstream: "anthropic",
    front: "anthropic",
  },
  {
    id: "paced-c32",
    title: "paced stream c32 (5 ms/chunk)",
    stream: true,
    concurrency: 32,
    promptBytes: SHORT_PROMPT,
    knobs: { delay_ms: 5 },
    fixedRequests: null,
    verify: "light",
  },
  {
    id: "large-ns-c16",
    title: "large non-stream c16 (32 KB in, 4 KB out)",
    stream: false,
    concurrency: 16,
    promptBytes: 32 * 1024,
    knobs: { answer_bytes: 4096 },
    fixedRequests: null,
    verify: "full",
  },
  {
    id: "large-s-c16",
    title: "large stream c16 (32 KB in, 4 KB out)",
    stream: true,
    concurrency: 16,
    promptBytes: 32 * 1024,
    knobs: { answer_bytes: 4096 },
    fixedRequests: null,
    verify: "light",
  },
  {
    // 20 ms between chunks keeps each stream open ~0.45 s, so all 500 are open at once.
    id: "streams-500",
    title: "500 concurrent streams (20 ms/chunk)",
    stream: true,
    concurrency: 500,
    promptBytes: SHORT_PROMPT,
    knobs: { delay_ms: 20 },
    fixedRequests: 1000,
    verify: "full",
  },
  {
    id: "tr-ns-c16",
    title: "translated non-stream c16 (Anthropic upstream)",
    stream: false,
    concurrency: 16,
    promptBytes: SHORT_PROMPT,
    knobs: {},
    fixedRequests: null,
    verify: "full",
    upstream: "anthropic",
  },
  {
    // 26 Anthropic events in; chatgate answers 23 OpenAI chunks + [DONE].
    id: "tr-s-c32",
    title: "translated stream c32 (Anthropic upstream)",
    stream: true,
    concurrency: 32,
    promptBytes: SHORT_PROMPT,
    knobs: {},
    fixedRequests: null,
    verify: "light",
    upstream: "anthropic",
  },
];

/**
 * Targets that run only some scenarios (every other target runs all). chatgate-redis is there for
 * what Redis adds to a request: the key's rpm, tpm and budget checked and settled in Redis instead
 * of memory, the same few round trips on every path, which the non-stream scenarios show best
 * (the Redis budget lines read ns-c1 and ns-c16; ns-c64 is the most load Redis sees). Streams,
 * translation and the Messages route would add wall time, not information.
 */
export const ONLY: Partial<Record<TargetName, readonly string[]>> = { "chatgate-redis": ["ns-c1", "ns-c16", "ns-c64"] };

/** Whether `target` runs scenario `s` (warm-up included). */
export function runsScenario(target: TargetName, s: Scenario): boolean {
  return ONLY[target]?.includes(s.id) ?? true;
}

/** Scenarios run unmeasured per target before round 1, when selected (JIT and pools settle on each path). */
export const WARMUP_IDS: readonly string[] = ["ns-c16", "s-c32", "tr-ns-c16", "tr-s-c32", "msg-ns-c16", "msg-s-c32"];

export interface Mode {
  name: "full" | "quick" | "smoke";
  rounds: number;
  durationMs: number;
  /** Start-ups timed per target (median reported). */
  starts: number;
  /** Wait after the last load before "RSS after load" is read. */
  settleMs: number;
  /** Unmeasured load per target before round 1; chatgate's CPU per request still falls for ~5 s of load. */
  warmupMs: number;
  /** Count-bound scenarios are scaled by this. */
  countScale: number;
  checkBudget: boolean;
}

export const MODES: Record<Mode["name"], Mode> = {
  full: { name: "full", rounds: 3, durationMs: 4000, starts: 5, settleMs: 30_000, warmupMs: 3000, countScale: 1, checkBudget: true },
  quick: { name: "quick", rounds: 1, durationMs: 2000, starts: 3, settleMs: 0, warmupMs: 1000, countScale: 0.5, checkBudget: true },
  smoke: { name: "smoke", rounds: 1, durationMs: 500, starts: 1, settleMs: 0, warmupMs: 300, countScale: 0.5, checkBudget: false },
};

export interface SoakOptions {
  seconds: number;
  warmupSeconds: number;
  concurrency: number;
}
