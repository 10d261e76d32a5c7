import type { Encoding } from "./encoding.ts";

/** Counts the tokens of a text. Strings that look like special tokens (`<|endoftext|>`) count as the plain text they are, as in a prompt. */
export type CountText = (text: string) => number;

type EncodingModule = { countTokens: (text: string, options?: { disallowedSpecial?: Set<string> }) => number };

/**
 * gpt-tokenizer's encodings, each loaded on first use and kept: in the compiled binary (its own
 * chunk under `--splitting`, never read at start-up) loading o200k_base measured ~0.3–0.6 s of
 * CPU, ~25 MB of heap kept and ~70 MB of RSS at its peak; cl100k_base about half of that. Only an
 * answer that ends without the upstream's usage needs one, so most processes never load either.
 */
const LOADERS: Record<Encoding, () => Promise<EncodingModule>> = {
  o200k_base: () => import("gpt-tokenizer/encoding/o200k_base"),
  cl100k_base: () => import("gpt-tokenizer/encoding/cl100k_base"),
};

/** No special token is refused: a prompt that contains `<|endoftext|>` is text, not an error. */
const AS_TEXT = { disallowedSpecial: new Set<string>() };

/** Four bytes a token: what a count falls back to when the tokenizer cannot be loaded (a broken build). */
const utf8 = new TextEncoder();
export const roughCount: CountText = (text) => Math.ceil(utf8.encode(text).length / 4);

/** Text longer than this is counted on its first SAMPLE_CHARS characters and scaled by length. */
export const SAMPLE_CHARS = 32_768;
/** No piece handed to the tokenizer is longer than this. */
export const PIECE_CHARS = 256;
/** How far back from a piece's end a space is looked for, so a cut falls between words. */
const CUT_WINDOW = 48;

/**
 * Counts `text` in pieces of at most PIECE_CHARS, cut at a space where one is near, over at most
 * SAMPLE_CHARS. Byte-pair merging costs the square of a word's length, and a word can be as long
 * as the text (a run of one character: 128 KiB of "yyyy…" took minutes of the event loop), so no
 * piece may be long. The cuts add at most a token a piece; the sample bounds the work per count,
 * whatever the size of a prompt or an answer.
 */
export function boundedCount(count: CountText): CountText {
  return (text) => {
    if (text === "") return 0;
    const sample = text.length > SAMPLE_CHARS ? text.slice(0, SAMPLE_CHARS) : text;
    let tokens = 0;
    for (let at = 0; at < sample.length; ) {
      let end = Math.min(at + PIECE_CHARS, sample.length);
      if (end < sample.length) {
        const space = sample.lastIndexOf(" ", end);
        if (space > at && space >= end - CUT_WINDOW) end = space;
      }
      tokens += count(sample.slice(at, end));
      at = end;
    }
    return sample === text ? tokens : Math.round((tokens * text.length) / sample.length);
  };
}

const ready = new Map<Encoding, CountText>();
const pending = new Map<Encoding, Promise<CountText>>();

/** The counter for `encoding` if it is loaded already, else undefined (see loadCounter). */
export function counterNow(encoding: Encoding): CountText | undefined {
  return ready.get(encoding);
}

/**
 * The counter for `encoding`, loading it the first time. Never rejects: a tokenizer that fails to
 * load is reported once and replaced by roughCount, so a record waiting on it is still written.
 */
export function loadCounter(encoding: Encoding, onFailure: (err: unknown) => void = reportFailure): Promise<CountText> {
  const now = ready.get(encoding);
  if (now !== undefined) return Promise.resolve(now);
  let loading = pending.get(encoding);
  if (loading === undefined) {
    loading = LOADERS[encoding]().then(
      (module): CountText => boundedCount((text) => module.countTokens(text, AS_TEXT)),
      (err: unknown): CountText => {
        onFailure(err);
        return roughCount;
      },
    ).then((count) => {
      ready.set(encoding, count);
      pending.delete(encoding);
      return count;
    });
    pending.set(encoding, loading);
  }
  return loading;
}

function reportFailure(err: unknown): void {
  console.error("chatgate: the tokenizer could not be loaded; usage estimates fall back to 4 bytes a token:", err);
}
