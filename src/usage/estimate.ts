// Usage for a request whose upstream reported none: counted with a real tokenizer from the request
// and from what the client was sent.
import type { ChatCompletion } from "openai/resources/chat/completions";
import type { CompletionUsage } from "openai/resources/completions";
import type { EmbeddingRequest } from "../embeddings-schema.ts";
import type { ChatRequest } from "../schema.ts";
import { countWith } from "./count-with.ts";
import { completionText, type Delivered } from "./delivered.ts";
import { encodingFor, type Encoding } from "./encoding.ts";
import { promptTokens } from "./prompt.ts";
import type { CountText } from "./tokenizer.ts";

/**
 * A usage to count because the upstream did not report it (or reported only its prompt), counted
 * once, off the main thread (see count-texts.ts). A finish record that carries it says
 * `usageEstimated`.
 */
export class Estimate {
  private made: Promise<CompletionUsage | undefined> | undefined;
  private result: CompletionUsage | undefined;

  constructor(
    readonly encoding: Encoding,
    private readonly counting: (count: CountText) => CompletionUsage,
  ) {}

  /** An estimate already counted: a record that carries it is published at once. */
  static of(usage: CompletionUsage): Estimate {
    const estimate = new Estimate("o200k_base", () => usage);
    estimate.result = usage;
    estimate.made = Promise.resolve(usage);
    return estimate;
  }

  /** The usage if it is counted already (an `Estimate.of`, or once `count()` resolved), else undefined. */
  now(): CompletionUsage | undefined {
    return this.result;
  }

  /** The usage, counted the first time; never rejects (undefined when counting failed, reported). */
  count(): Promise<CompletionUsage | undefined> {
    this.made ??= countWith(this.encoding, this.counting).then(
      (usage) => (this.result = usage),
      (err: unknown) => void console.error("chatgate: a usage estimate failed:", err),
    );
    return this.made;
  }
}

/** What an estimate reads of a stream (the provider's StreamSeen). */
export interface SeenUsage {
  /** What the upstream reported, if anything. */
  readonly usage: CompletionUsage | undefined;
  /** The report has the prompt but not the final completion count (a stream cut before it came). */
  readonly completionUnknown: boolean;
  /** What the client was sent. */
  readonly delivered: Delivered;
}

/**
 * A stream's usage: the upstream's report when it made one, else an estimate of the prompt (the
 * upstream's own prompt count when it gave one) and of the text the client was sent.
 */
export function streamUsage(seen: SeenUsage, request: ChatRequest, model: string): CompletionUsage | Estimate {
  const reported = seen.usage;
  if (reported !== undefined && !seen.completionUnknown) return reported;
  const encoding = encodingFor(model);
  return new Estimate(encoding, (count) => {
    const prompt = reported?.prompt_tokens || promptTokens(count, request, encoding);
    return withCounts(prompt, seen.delivered.tokens(count), reported);
  });
}

/**
 * A request's usage read at most once, by its finish record and by its client when the upstream
 * reported none (a Messages answer must carry counts): `get` for the record, `settled` for the client.
 */
export function sharedUsage(usage: () => CompletionUsage | Estimate | undefined): { get: () => CompletionUsage | Estimate | undefined; settled: () => Promise<CompletionUsage | undefined> } {
  let read = false;
  let found: CompletionUsage | Estimate | undefined;
  const get = () => (read ? found : ((read = true), (found = usage())));
  return { get, settled: async () => { const u = get(); return u instanceof Estimate ? u.count() : u; } };
}

/** A JSON answer's usage: the upstream's, or an estimate of the request and the answer's text. */
export function completionUsage(completion: ChatCompletion, request: ChatRequest, model: string): CompletionUsage | Estimate {
  if (completion.usage) return completion.usage;
  const encoding = encodingFor(model);
  return new Estimate(encoding, (count) => withCounts(promptTokens(count, request, encoding), count(completionText(completion))));
}

/** A request whose client left before any answer came: the prompt the upstream was sent, nothing delivered. */
export function sentPromptUsage(request: ChatRequest, model: string): Estimate {
  const encoding = encodingFor(model);
  return new Estimate(encoding, (count) => withCounts(promptTokens(count, request, encoding), 0));
}

/** An embeddings request that ended before its answer (the client left): its input as sent upstream, counted. */
export function sentInputUsage(input: EmbeddingRequest["input"], model: string): Estimate {
  const encoding = encodingFor(model);
  return new Estimate(encoding, (count) => withCounts(inputTokens(count, input), 0));
}

/** Texts counted with the tokenizer; token ids are their own count. */
function inputTokens(count: CountText, input: EmbeddingRequest["input"]): number {
  if (typeof input === "string") return count(input);
  let tokens = 0;
  for (const item of input) tokens += typeof item === "string" ? count(item) : typeof item === "number" ? 1 : item.length;
  return tokens;
}

/** Usage with these counts; the prompt's details (cached tokens) kept from a partial report. */
export function withCounts(prompt: number, completion: number, partial?: CompletionUsage): CompletionUsage {
  const usage: CompletionUsage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  if (partial?.prompt_tokens_details) usage.prompt_tokens_details = partial.prompt_tokens_details;
  return usage;
}
