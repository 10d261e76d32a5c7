// Stream resume (issue 10): a known answer, gateways whose routes resume broken streams in front of
// fake upstreams that continue a prefill the way real providers do, and readers of what the client
// got (events and comments in order) with the assertions every resumed stream must pass.
import { expect } from "bun:test";
import { countTokens as o200k } from "gpt-tokenizer/encoding/o200k_base";
import { createParser } from "eventsource-parser";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import type { CompletionUsage } from "openai/resources/completions";
import type { FinishRecord } from "../../src/gateway/finish.ts";
import { TestClock } from "./clock.ts";
import { anthropicAt, openaiAt, type ConfigDoc, type ProviderDoc, type TargetDoc } from "./config-file.ts";
import { fakeAnthropic, type FakeAnthropic } from "./fake-anthropic.ts";
import type { TestGateway } from "./gateway.ts";
import { startRouted } from "./routed.ts";
import { wordCount, type RecordedCall } from "./scripted-body.ts";
import { fakeOpenAI, type ContinuationStyle, type FakeOpenAI } from "./upstream.ts";

/** The known answer: 60 words, no trailing whitespace. */
export const ANSWER =
  "Stream resume lets a gateway finish an answer that its provider dropped halfway through. The router keeps every character it already sent, asks the same model or another capable one to continue from exactly that point, and splices the remainder onto the open connection, so the client sees one unbroken reply with one id, as if nothing had gone wrong.";
export const WORDS = ANSWER.split(" ");

/** What the client holds after `n` pieces: " word" pieces leave no trailing space, "word " pieces one. */
export const firstWords = (n: number, spaceAfter = false): string => WORDS.slice(0, n).join(" ") + (spaceAfter ? " " : "");

export const QUESTION = [{ role: "user", content: "Please explain stream resume in one short paragraph." }];
/** The prompt tokens the fakes count for a fresh request: the words of QUESTION. */
export const P = wordCount(QUESTION[0]!.content);

/**
 * Usage summed over a break after `k` pieces and one continuation of the rest. The continuation
 * reports its own counts (the fakes count words); the broken part is estimated as chatgate does
 * it (src/gateway/resume-seam.ts): its completion is the tokenizer's count (o200k_base) of the text
 * the client got from it (`delivered`, default the first `k` words), its prompt the continuation's
 * less that count, or the prompt it reported itself (`promptReported`: Anthropic's message_start).
 */
export function summedUsage(k: number, options: { delivered?: string; promptReported?: boolean } = {}): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  const broken = o200k(options.delivered ?? firstWords(k));
  const next = P + k;
  const prompt = (options.promptReported ? P : Math.max(0, next - broken)) + next;
  const completion = broken + (WORDS.length - k);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export type Continuation = ContinuationStyle | "none";
export type ProviderId = "a" | "b" | "c" | "claude";

/** The config keys of stream resume, beside those ConfigDoc knows. */
export type ResumeProvider = ProviderDoc & { continuation?: Continuation };
export type ResumeTarget = TargetDoc & { continuation?: Continuation };
export interface ResumeModel {
  resume?: boolean;
  max_resumes?: number;
  targets: ResumeTarget[];
}
export type ResumeDoc = Omit<ConfigDoc, "providers" | "models"> & { providers: ResumeProvider[]; models: Record<string, ResumeModel> };

export const SMART = "smart";
export const CLAUDE = "claude-sonnet-4-5";
/** The model each provider is asked for on route `smart`. */
export const MODEL_OF: Record<ProviderId, string> = { a: "model-a", b: "model-b", c: "model-c", claude: CLAUDE };

export interface ResumeOptions {
  /** The route's targets in order (default a, b). */
  targets?: ProviderId[];
  /** Each provider's `continuation` (unset: the key is left out, so the default, none). */
  continuation?: Partial<Record<ProviderId, Continuation>>;
  /** Per-target `continuation` overrides on the route. */
  targetContinuation?: Partial<Record<ProviderId, Continuation>>;
  /** More keys per provider (timeouts, …). */
  provider?: Partial<Record<ProviderId, Partial<ProviderDoc>>>;
  /** The route's `resume` (default true; null leaves the key out). */
  resume?: boolean | null;
  max_resumes?: number;
  /** Top-level settings: retries (same-target continuation needs > 0), cooldown, timeout. */
  config?: Omit<ConfigDoc, "providers" | "models">;
  /** More public models (e.g. one addressing a single target). */
  models?: Record<string, ResumeModel>;
}

export interface ResumeSetup extends AsyncDisposable {
  a: FakeOpenAI;
  b: FakeOpenAI;
  c: FakeOpenAI;
  claude: FakeAnthropic;
  gw: TestGateway;
  clock: TestClock;
  doc: ResumeDoc;
  /** Every finish record, in order. */
  records: FinishRecord[];
  /** Resolves with the next finish record. */
  nextRecord(): Promise<FinishRecord>;
}

/** Route `smart` over fake providers a, b, c (OpenAI) and claude (Anthropic), resume on, clock injected. */
export function resumeSetup(options: ResumeOptions = {}): ResumeSetup {
  const a = fakeOpenAI();
  const b = fakeOpenAI();
  const c = fakeOpenAI();
  const claude = fakeAnthropic();
  const clock = new TestClock();
  const provider = (id: ProviderId): ResumeProvider => {
    const extra = { ...options.provider?.[id], ...(options.continuation?.[id] === undefined ? {} : { continuation: options.continuation[id] }) };
    return id === "claude" ? anthropicAt(id, claude, extra) : openaiAt(id, { a, b, c }[id], extra);
  };
  const target = (id: ProviderId): ResumeTarget => ({
    provider: id,
    model: MODEL_OF[id],
    ...(options.targetContinuation?.[id] === undefined ? {} : { continuation: options.targetContinuation[id] }),
  });
  const route: ResumeModel = { targets: (options.targets ?? ["a", "b"]).map(target) };
  if (options.resume !== null) route.resume = options.resume ?? true;
  if (options.max_resumes !== undefined) route.max_resumes = options.max_resumes;
  const doc: ResumeDoc = {
    providers: (["a", "b", "c", "claude"] as const).map(provider),
    models: { [SMART]: route, ...options.models },
    ...options.config,
  };
  const gw = startRouted(doc as ConfigDoc, clock.overrides);
  const records: FinishRecord[] = [];
  const waiting: Array<(r: FinishRecord) => void> = [];
  gw.app.gateway.finishes.subscribe((record) => {
    records.push(record);
    waiting.shift()?.(record);
  });
  return {
    a, b, c, claude, gw, clock, doc, records,
    nextRecord: () => new Promise((resolve) => waiting.push(resolve)),
    [Symbol.asyncDispose]: async () => {
      await gw.stop();
      await Promise.all([a.stop(), b.stop(), c.stop(), claude.stop()]);
    },
  };
}

/** POSTs a streamed chat request for `smart` asking QUESTION (usage asked for unless `extra` says otherwise). */
export function ask(gw: { url: string }, extra: Record<string, unknown> = {}): Promise<Response> {
  const body = JSON.stringify({ model: SMART, messages: QUESTION, stream: true, stream_options: { include_usage: true }, ...extra });
  return fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body });
}

export type Item = { data: string } | { comment: string };
export interface ErrorEvent {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface StreamRead {
  status: number;
  headers: Headers;
  /** The body exactly as received. */
  text: string;
  /** Events' data and comments, in the order they came. */
  items: Item[];
  comments: string[];
  /** The chunks (data that parsed as a chunk, not [DONE], not an error). */
  chunks: ChatCompletionChunk[];
  errors: ErrorEvent[];
  done: boolean;
  /** Choice 0's content, assembled. */
  content: string;
}

export async function readStream(res: Response): Promise<StreamRead> {
  const text = await res.text();
  const items: Item[] = [];
  createParser({ onEvent: (e) => items.push({ data: e.data }), onComment: (comment) => items.push({ comment }) }).feed(text);
  const chunks: ChatCompletionChunk[] = [];
  const errors: ErrorEvent[] = [];
  let done = false;
  for (const item of items) {
    if (!("data" in item)) continue;
    if (item.data === "[DONE]") {
      done = true;
      continue;
    }
    const value = JSON.parse(item.data) as ChatCompletionChunk | ErrorEvent;
    if ("error" in value) errors.push(value);
    else chunks.push(value);
  }
  const comments = items.flatMap((item) => ("comment" in item ? [item.comment] : []));
  const content = chunks.map((chunk) => chunk.choices.find((choice) => choice.index === 0)?.delta?.content ?? "").join("");
  return { status: res.status, headers: res.headers, text, items, comments, chunks, errors, done, content };
}

/** The comments other than heartbeats. */
const seamComments = (read: StreamRead) => read.comments.filter((c) => c !== "keep-alive");

/** The chunks before and after the first seam comment. */
export function aroundSeam(read: StreamRead): { before: ChatCompletionChunk[]; after: ChatCompletionChunk[] } {
  const at = read.items.findIndex((item) => "comment" in item && item.comment.startsWith("resumed on "));
  const parse = (items: Item[]) =>
    items.flatMap((item) => ("data" in item && item.data !== "[DONE]" ? [JSON.parse(item.data) as ChatCompletionChunk | ErrorEvent] : [])).filter((v): v is ChatCompletionChunk => !("error" in v));
  return { before: parse(read.items.slice(0, at)), after: parse(read.items.slice(at + 1)) };
}

export interface Seam {
  /** `provider/model` the comment names. */
  on: string | RegExp;
  /** Characters of assistant text the client held before the seam. */
  after: number;
}

/**
 * A resumed stream as the client must see it: 200, one id and one `created` on every chunk, choice
 * index 0 only, exactly one role chunk (the first), the seam comments given and no other, the
 * known answer assembled exactly, one finish chunk (stop), the usage chunk when given, `[DONE]`
 * last, no error event. `models` are the `model` fields before the first seam and after the last.
 */
export function expectResumed(read: StreamRead, expected: { seams: Seam[]; models: [string, string]; usage?: Partial<CompletionUsage>; answer?: string }): void {
  expect(read.errors).toEqual([]);
  expect(read.status).toBe(200);
  expect(read.content).toBe(expected.answer ?? ANSWER);
  expect(new Set(read.chunks.map((c) => c.id)).size).toBe(1);
  expect(new Set(read.chunks.map((c) => c.created)).size).toBe(1);
  expect(read.chunks.flatMap((c) => c.choices.map((choice) => choice.index)).every((i) => i === 0)).toBe(true);
  const roles = read.chunks.filter((c) => c.choices.some((choice) => choice.delta?.role !== undefined));
  expect(roles).toHaveLength(1);
  expect(roles[0]).toBe(read.chunks[0]!);
  const comments = seamComments(read);
  expect(comments).toHaveLength(expected.seams.length);
  expected.seams.forEach((seam, i) => {
    const match = /^resumed on (\S+) after (\d+) characters$/.exec(comments[i]!);
    expect(match).not.toBeNull();
    if (typeof seam.on === "string") expect(match![1]).toBe(seam.on);
    else expect(match![1]).toMatch(seam.on);
    expect(Number(match![2])).toBe(seam.after);
  });
  const { before, after } = aroundSeam(read);
  expect(new Set(before.map((c) => c.model))).toEqual(new Set([expected.models[0]]));
  const lastSeam = read.items.findLastIndex((item) => "comment" in item && item.comment.startsWith("resumed on "));
  const tail = read.items.slice(lastSeam + 1).flatMap((item) => ("data" in item && item.data !== "[DONE]" ? [JSON.parse(item.data) as ChatCompletionChunk] : []));
  expect(tail.length).toBeGreaterThan(0);
  expect(new Set(tail.map((c) => c.model))).toEqual(new Set([expected.models[1]]));
  expect(after.length).toBeGreaterThan(0);
  const finishes = read.chunks.flatMap((c) => c.choices.flatMap((choice) => (choice.finish_reason ? [choice.finish_reason] : [])));
  expect(finishes).toEqual(["stop"]);
  if (expected.usage !== undefined) {
    const usage = read.chunks.filter((c) => c.usage);
    expect(usage).toHaveLength(1);
    expect(usage[0]).toBe(read.chunks.at(-1)!);
    expect(usage[0]!.choices).toEqual([]);
    expect(usage[0]!.usage).toMatchObject(expected.usage);
  }
  expect(read.done).toBe(true);
  expect(read.text.endsWith("data: [DONE]\n\n")).toBe(true);
  expect(read.text.match(/data: \[DONE\]/g)).toHaveLength(1);
}

/**
 * A stream that was not resumed, or whose resume ran out: the text so far, then exactly one error
 * event as the last thing in the body, no `[DONE]`. Returns that error.
 */
export function expectOneErrorEvent(read: StreamRead, sentSoFar: string): ErrorEvent["error"] {
  expect(read.status).toBe(200);
  expect(read.content).toBe(sentSoFar);
  expect(read.errors).toHaveLength(1);
  expect(read.done).toBe(false);
  expect(read.text).not.toContain("[DONE]");
  const last = read.items.at(-1)!;
  expect("data" in last && (JSON.parse(last.data) as Partial<ErrorEvent>).error !== undefined).toBe(true);
  expect(read.text.endsWith(`data: ${(last as { data: string }).data}\n\n`)).toBe(true);
  expect(new Set(read.chunks.map((c) => c.id)).size).toBeLessThanOrEqual(1);
  return read.errors[0]!.error;
}

/** The codes a cut stream's error may carry (a reset may show as either). */
export const CUT_CODES = /^upstream_(stream_truncated|connection_error)$/;

interface OpenAIBody {
  messages: Array<Record<string, unknown>>;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  continue_final_message?: boolean;
  add_generation_prompt?: boolean;
  model: string;
}

/**
 * The continuation request an OpenAI-type target got: the client's messages plus one assistant
 * message with `text` in `style`, streamed with usage asked for; vLLM's flags only for vllm.
 */
export function expectContinuation(call: RecordedCall, style: ContinuationStyle, text: string, model: string): void {
  const body = call.body as OpenAIBody;
  expect(body.model).toBe(model);
  const trailing = style === "prefix" ? { role: "assistant", content: text, prefix: true } : { role: "assistant", content: text };
  expect(body.messages).toEqual([...QUESTION, trailing]);
  expect(body.stream).toBe(true);
  expect(body.stream_options?.include_usage).toBe(true);
  if (style === "vllm") {
    expect(body.continue_final_message).toBe(true);
    expect(body.add_generation_prompt).toBe(false);
  } else {
    expect(body).not.toHaveProperty("continue_final_message");
    expect(body).not.toHaveProperty("add_generation_prompt");
  }
}

/** The first request a target got is the client's own: no trailing assistant message, no continuation flags. */
export function expectFresh(call: RecordedCall): void {
  const body = call.body as OpenAIBody;
  expect(body.messages).toEqual(QUESTION);
  expect(body).not.toHaveProperty("continue_final_message");
}

/** Resolves with `promise`, or rejects if it has not settled within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: Timer | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
