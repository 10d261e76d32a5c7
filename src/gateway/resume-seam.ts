// A continuation's chunks as the client's one stream (the seam), and the usage summed over the
// attempts that produced the answer.
import { createParser } from "eventsource-parser";
import type { CompletionUsage } from "openai/resources/completions";
import { DONE_TEXT, encodeEvents } from "../sse-encode.ts";
import { nonEmpty } from "./resume-transcript.ts";

/** One attempt that produced part of the answer: what it reported, and what it delivered. */
export interface Part {
  usage: CompletionUsage | undefined;
  /** `usage` has the prompt only (an Anthropic stream cut before its final counts). */
  promptOnly?: boolean;
  contentChunks: number;
  /** The text it delivered. */
  text: string;
  /** The tokens of `text`, once counted (a part that broke without its counts is, as it breaks). */
  tokens?: number;
}

/** Whether `part` reported its completion's tokens: else they are estimated from its text. */
export const reportedCompletion = (part: Part): boolean => part.usage !== undefined && !part.promptOnly;

/**
 * Sums the usage of every attempt that produced the answer. A part that broke before reporting
 * its counts is estimated: its completion as the tokens of the text it delivered (`tokens`,
 * counted when it broke) or else as its chunks (about a token each on OpenAI's streams), and its
 * prompt as the next part's prompt less that completion (the next prompt is the same request plus
 * this part's text).
 */
export function summedUsage(broken: readonly Part[], last: CompletionUsage | undefined): CompletionUsage | undefined {
  if (last === undefined && broken.every((p) => p.usage === undefined)) return undefined;
  let prompt = last?.prompt_tokens ?? 0;
  let completion = last?.completion_tokens ?? 0;
  let nextPrompt = prompt;
  // Cached prompt tokens (and cache writes) as each part reported them: priced once, at the cached rate, as for one request.
  let cached = last?.prompt_tokens_details?.cached_tokens ?? 0;
  let written = last?.prompt_tokens_details?.cache_write_tokens ?? 0;
  for (let i = broken.length - 1; i >= 0; i--) {
    const part = broken[i]!;
    const partCompletion = reportedCompletion(part) ? part.usage!.completion_tokens : (part.tokens ?? Math.max(part.usage?.completion_tokens ?? 0, part.contentChunks));
    const partPrompt = part.usage?.prompt_tokens ? part.usage.prompt_tokens : Math.max(0, nextPrompt - partCompletion);
    prompt += partPrompt;
    completion += partCompletion;
    cached += part.usage?.prompt_tokens_details?.cached_tokens ?? 0;
    written += part.usage?.prompt_tokens_details?.cache_write_tokens ?? 0;
    nextPrompt = partPrompt;
  }
  const usage: CompletionUsage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  if (cached > 0 || written > 0) usage.prompt_tokens_details = { cached_tokens: cached, ...(written > 0 ? { cache_write_tokens: written } : {}) };
  return usage;
}

/**
 * A continuation's chunks as the client's one stream: the original `id` and `created`, choice 0,
 * no role chunk, the whitespace already sent not sent again, one comment at the seam, usage summed.
 */
export class Seam {
  /** The answer so far, continuation included. */
  text: string;
  contentChunks = 0;
  /** A tool call, refusal or reasoning came in the continuation: no further resume. */
  other = false;
  private out = "";
  /**
   * A chunk carrying usage that came while a broken part's tokens were still being counted, and
   * what followed it: held until `release()`, when the sum can be made.
   */
  private held: { chunk: Record<string, unknown>; rest: string } | undefined;
  /** Whether a broken part's count is still being made (the stream clears it once the counts are in). */
  countPending = false;
  /** Whitespace the client already has that the prefill left out: dropped from the continuation's start. */
  private pending: string;
  /** Where this continuation's own text starts in `text`. */
  private readonly start: number;
  private readonly decoder = new TextDecoder();
  private readonly parser = createParser({ onEvent: ({ data }) => this.event(data) });

  constructor(
    private readonly id: string,
    private readonly created: number,
    sent: string,
    private readonly includeUsage: boolean,
    private readonly broken: readonly Part[],
    servedBy: string,
  ) {
    this.text = sent;
    this.start = sent.length;
    this.pending = sent.slice(sent.trimEnd().length);
    this.out = `: resumed on ${servedBy} after ${sent.length} characters\n\n`;
  }

  /** The text this continuation added. */
  get added(): string {
    return this.text.slice(this.start);
  }

  push(bytes: Uint8Array): Uint8Array {
    this.parser.feed(this.decoder.decode(bytes, { stream: true }));
    const out = this.out;
    this.out = "";
    return encodeEvents(out);
  }

  /** Whether a chunk carrying usage waits for the counts: await them, then `release()`. */
  get holding(): boolean {
    return this.held !== undefined;
  }

  /** The held chunk with its usage summed (the counts are in now), and what came after it. */
  release(): Uint8Array {
    const { chunk, rest } = this.held!;
    this.held = undefined;
    this.countPending = false;
    chunk.usage = summedUsage(this.broken, (chunk.usage ?? undefined) as CompletionUsage | undefined) ?? null;
    return encodeEvents(`data: ${JSON.stringify(chunk)}\n\n${rest}`);
  }

  private emit(text: string): void {
    if (this.held !== undefined) this.held.rest += text;
    else this.out += text;
  }

  /** A chunk whose usage is the continuation's own: sent with the sum over every part (or held until it can be made). */
  private withSummedUsage(chunk: Record<string, unknown>): void {
    if (this.countPending && this.held === undefined) {
      this.held = { chunk, rest: "" };
      return;
    }
    chunk.usage = summedUsage(this.broken, (chunk.usage ?? undefined) as CompletionUsage | undefined) ?? null;
    this.emit(`data: ${JSON.stringify(chunk)}\n\n`);
  }

  private event(data: string): void {
    if (data === "[DONE]") {
      this.emit(DONE_TEXT);
      return;
    }
    let chunk: Record<string, unknown>;
    try {
      chunk = JSON.parse(data) as Record<string, unknown>;
    } catch {
      return;
    }
    if (chunk === null || typeof chunk !== "object" || !Array.isArray(chunk.choices)) return;
    chunk.id = this.id;
    chunk.created = this.created;
    const choices = chunk.choices as Record<string, unknown>[];
    // Usage on a chunk of its own (OpenAI), or on the finish chunk (Mistral and others): the sum
    // over every part, when the client asked for usage.
    const usage = chunk.usage !== null && typeof chunk.usage === "object" ? (chunk.usage as CompletionUsage) : undefined;
    if (choices.length === 0) {
      if (!this.includeUsage) return;
      chunk.usage = usage ?? null;
      this.withSummedUsage(chunk);
      return;
    }
    chunk.choices = choices.filter((choice) => this.choice(choice));
    if ((chunk.choices as unknown[]).length === 0 && !(this.includeUsage && usage !== undefined)) return;
    if (!this.includeUsage) delete chunk.usage;
    else if (usage !== undefined) return this.withSummedUsage(chunk);
    else chunk.usage = null;
    this.emit(`data: ${JSON.stringify(chunk)}\n\n`);
  }

  /** Rewrites one choice in place; false when nothing is left of it to send. */
  private choice(choice: Record<string, unknown>): boolean {
    choice.index = 0;
    const delta = (choice.delta ?? {}) as Record<string, unknown>;
    delete delta.role;
    if (typeof delta.content === "string") {
      let content = delta.content;
      if (this.pending !== "") {
        let same = 0;
        while (same < content.length && same < this.pending.length && content[same] === this.pending[same]) same++;
        this.pending = same === content.length ? this.pending.slice(same) : "";
        content = content.slice(same);
      }
      if (content === "") delete delta.content;
      else {
        delta.content = content;
        this.text += content;
        this.contentChunks++;
      }
    }
    if (delta.tool_calls != null || nonEmpty(delta.refusal) || nonEmpty(delta.reasoning_content)) this.other = true;
    return Object.keys(delta).length > 0 || choice.finish_reason != null;
  }
}
