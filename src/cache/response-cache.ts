import type { CompletionUsage } from "openai/resources/completions";
import type { Attempt } from "../gateway/finish.ts";
import type { ChatCall, Completion } from "../providers/provider.ts";
import type { CacheMode } from "./cache-control.ts";
import { cacheKey } from "./cache-key.ts";
import { decodeAnswer, encodeAnswer, storable, type CachedAnswer } from "./stored-answer.ts";
import type { CacheStore } from "./store.ts";
import { StreamRecorder } from "./stream-answer.ts";

/** Most stream bytes kept for the cache per stream (stream resume keeps as much: src/gateway/resume.ts). */
const MAX_RECORDED_BYTES = 4 * 1024 * 1024;

/**
 * What the cache did for a request, as `x-chatgate-cache` says it: `hit` (answered from the
 * cache, no upstream call), `miss` (looked up — or, with `no-cache`, not read — and answered
 * upstream; the answer is stored if it completes), `skip` (the cache took no part: off for the
 * model, `no-store`, a request it does not cache, or refused before it got that far).
 */
export type CacheStatus = "hit" | "miss" | "skip";

/** How long answers are kept, per public model name; 0 is off. Reloaded with the config. */
export interface CachePolicy {
  /** For every model name not in `models` (CHATGATE_CACHE_TTL, the file's `cache.ttl`). */
  ttlMs: number;
  /** A public model's own `cache.ttl` (its `models:` entry), which wins. */
  models: ReadonlyMap<string, number>;
}

/** A request the cache takes part in: its key, its answer's time to live, and whether a stored answer may serve it. */
export interface CacheUse {
  key: string;
  ttlMs: number;
  read: boolean;
}

/** Who produced an answer being stored. */
export interface Producer {
  provider: string;
  model: string;
}

/**
 * The response cache: an exact match on the request's canonical form (cache-key.ts), answers kept
 * per public model name in a CacheStore. Only built when some model has it on; a request for a
 * model with it off computes no key. Never throws: a store that fails is a miss, and logged.
 */
export class ResponseCache {
  /** Keys computed so far (requests the cache took part in): what shows that a model with it off costs nothing. */
  keysComputed = 0;
  private failing = false;

  constructor(
    readonly store: CacheStore,
    private readonly policy: CachePolicy,
    private readonly log: (line: string) => void = (line) => console.error(line),
  ) {}

  /** Whether `policy` caches any model at all. */
  static enabled(policy: CachePolicy): boolean {
    return policy.ttlMs > 0 || [...policy.models.values()].some((ttl) => ttl > 0);
  }

  /** The request's part in the cache; undefined (skip) when its model is not cached, the client said `no-store`, or it asks for log probabilities. */
  use(call: ChatCall, mode: CacheMode): CacheUse | undefined {
    if (mode === "bypass") return undefined;
    const ttlMs = this.policy.models.get(call.body.model) ?? this.policy.ttlMs;
    if (ttlMs <= 0 || !cacheable(call.body)) return undefined;
    this.keysComputed++;
    let key: string;
    try {
      key = cacheKey(call.body);
    } catch {
      // Nested past the stack (a body JSON.parse took): such a request is simply not cached.
      return undefined;
    }
    return { key, ttlMs, read: mode === "use" };
  }

  /** The stored answer for `use`, when it may be read and one is there. */
  async lookup(use: CacheUse): Promise<CachedAnswer | undefined> {
    if (!use.read) return undefined;
    try {
      const text = await this.store.get(use.key);
      this.recovered();
      return text === undefined ? undefined : decodeAnswer(text);
    } catch (err) {
      this.failed("read", err);
      return undefined;
    }
  }

  /** Stores a JSON answer when it is whole (every choice finished) and replayable. */
  saveCompletion(use: CacheUse, answer: Completion, by: Producer): void {
    if (!storable(answer.completion)) return;
    this.save(use, { ...by, dropped: answer.dropped, json: answer.json });
  }

  /**
   * A recorder of the stream's chunks, for `saveStream` when it ends. It holds no more than stream
   * resume holds (4 MiB), so many long streams at once cannot pile up memory for answers too long
   * to cache. The store's own limit applies to the answer rebuilt from them, not to these bytes:
   * SSE framing is many times the text it carries.
   */
  recorder(first: Uint8Array, rest: AsyncIterator<Uint8Array, void, undefined>): StreamRecorder {
    return new StreamRecorder(first, rest, MAX_RECORDED_BYTES);
  }

  /**
   * Stores a stream's answer, rebuilt as one completion from what the client got; only a stream
   * that ended with `[DONE]` after every choice's finish reason is stored.
   */
  saveStream(use: CacheUse, recorded: StreamRecorder, call: ChatCall, usage: CompletionUsage | undefined, by: Producer, dropped?: readonly string[]): void {
    const completion = recorded.answer(call.body.n ?? 1, usage);
    if (completion !== undefined) this.save(use, { ...by, dropped, json: JSON.stringify(completion) });
  }

  private save(use: CacheUse, answer: Parameters<typeof encodeAnswer>[0]): void {
    this.store.set(use.key, encodeAnswer(answer), use.ttlMs).then(this.recovered, (err: unknown) => this.failed("write", err));
  }

  private readonly recovered = (): void => {
    if (!this.failing) return;
    this.failing = false;
    this.log("chatgate: response cache: the store answers again");
  };

  /** Logged once per run of failures, not once per request. */
  private failed(what: string, err: unknown): void {
    if (this.failing) return;
    this.failing = true;
    this.log(`chatgate: response cache: a ${what} failed (${err instanceof Error ? err.message : String(err)}); requests go upstream until the store answers again`);
  }
}

/**
 * Requests whose answers are not cached: log probabilities are per token, and a replayed stream
 * (one chunk per text field) could not carry them the way a real stream does.
 */
function cacheable(body: ChatCall["body"]): boolean {
  const b = body as ChatCall["body"] & { logprobs?: unknown; top_logprobs?: unknown };
  return b.logprobs !== true && b.top_logprobs == null;
}

/**
 * Whether every part of an answer came from `model`: a stream continued (stream resume) on
 * another model is a blend of two models' writing, and is never stored as either's answer.
 */
export function sameModelThroughout(attempts: readonly Attempt[], model: string): boolean {
  return attempts.every((a) => a.reason !== "resumed" || a.model === model);
}
