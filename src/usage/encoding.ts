/** The BPE encodings an estimate counts with (gpt-tokenizer's names). */
export type Encoding = "o200k_base" | "cl100k_base";

/** Families on cl100k_base: GPT-4 before 4o, GPT-3.5, and the embeddings of that era. */
const CL100K = /^(gpt-4(?![o.\d])|gpt-3\.5|gpt-35|text-embedding-(3|ada-002))/;

/**
 * The encoding to count `model`'s tokens with. o200k_base for gpt-4o, gpt-4.1, gpt-4.5, gpt-5,
 * the o-series and gpt-oss; cl100k_base for gpt-4 (turbo, 0613, …) and gpt-3.5. A provider prefix
 * (`openai/gpt-4o`, as OpenRouter names models) is ignored.
 *
 * Anything else — Anthropic's models, whose tokenizer is not public, and models we do not know —
 * is counted with o200k_base too: an estimate of the right size, not the provider's count (Claude
 * tends to use somewhat more tokens than o200k_base for the same text).
 */
export function encodingFor(model: string): Encoding {
  const name = model.slice(model.lastIndexOf("/") + 1).toLowerCase();
  return CL100K.test(name) ? "cl100k_base" : "o200k_base";
}
