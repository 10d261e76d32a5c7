// How a text is cut before gpt-tokenizer counts it, shared by the gateway (the sample, the
// scaling) and the counting process (the pieces), and the fallback when no tokenizer answers.

/** Counts the tokens of a text. Strings that look like special tokens (`<|endoftext|>`) count as the plain text they are, as in a prompt. */
export type CountText = (text: string) => number;

/** Four bytes a token: what a count falls back to when the tokenizer cannot answer (a broken build). */
const utf8 = new TextEncoder();
export const roughCount: CountText = (text) => Math.ceil(utf8.encode(text).length / 4);

/** Text longer than this is counted on its first SAMPLE_CHARS characters and scaled by length. */
export const SAMPLE_CHARS = 32_768;
/** No piece handed to the tokenizer is longer than this. */
export const PIECE_CHARS = 256;
/** How far back from a piece's end a space is looked for, so a cut falls between words. */
const CUT_WINDOW = 48;

/** What of `text` is counted: all of it, or its first SAMPLE_CHARS characters. */
export function sampleOf(text: string): string {
  return text.length > SAMPLE_CHARS ? text.slice(0, SAMPLE_CHARS) : text;
}

/** `tokens` counted on `sample` (sampleOf(text)) scaled to the whole of `text` by length. */
export function scaledCount(tokens: number, sample: string, text: string): number {
  return sample.length === text.length ? tokens : Math.round((tokens * text.length) / sample.length);
}

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
    const sample = sampleOf(text);
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
    return scaledCount(tokens, sample, text);
  };
}
