// The counting process (`chatgate __count-tokens`, started by src/usage/count-texts.ts over IPC):
// gpt-tokenizer's encodings load here, not in the gateway, and all their memory goes back to the
// system when it exits: when told to (idle), or when the gateway that started it is gone.
import type { Encoding } from "./encoding.ts";
import { boundedCount, type CountText } from "./tokenizer.ts";

/** A batch to count: every text with `encoding` (the main thread has sampled them already). */
export interface CountRequest {
  id: number;
  encoding: Encoding;
  texts: string[];
}

/** The counts of a CountRequest's texts, in order; or why they could not be counted. */
export interface CountReply {
  id: number;
  counts?: number[];
  error?: string;
}

type EncodingModule = { countTokens: (text: string, options?: { disallowedSpecial?: Set<string> }) => number };

/**
 * Loaded on the process's first count with each: o200k_base measured ~0.3–0.6 s of CPU, ~25 MB of
 * heap and ~70 MB of RSS at its peak; cl100k_base about half of that. In the compiled binary each
 * is its own chunk (`--splitting`), read only here.
 */
const LOADERS: Record<Encoding, () => Promise<EncodingModule>> = {
  o200k_base: () => import("gpt-tokenizer/encoding/o200k_base"),
  cl100k_base: () => import("gpt-tokenizer/encoding/cl100k_base"),
};

/** No special token is refused: a prompt that contains `<|endoftext|>` is text, not an error. */
const AS_TEXT = { disallowedSpecial: new Set<string>() };

const counters = new Map<Encoding, Promise<CountText>>();

function counter(encoding: Encoding): Promise<CountText> {
  let loading = counters.get(encoding);
  if (loading === undefined) {
    const load = LOADERS[encoding];
    if (load === undefined) return Promise.reject(new Error(`unknown encoding '${String(encoding)}'`));
    loading = load().then((module) => boundedCount((text) => module.countTokens(text, AS_TEXT)));
    // A failed load is not kept: the next batch tries again.
    loading.catch(() => counters.delete(encoding));
    counters.set(encoding, loading);
  }
  return loading;
}

process.on("message", (request: CountRequest) => {
  void answer(request).then((reply) => process.send?.(reply));
});
process.on("disconnect", () => process.exit(0));

async function answer({ id, encoding, texts }: CountRequest): Promise<CountReply> {
  try {
    const count = await counter(encoding);
    return { id, counts: texts.map(count) };
  } catch (err) {
    return { id, error: err instanceof Error ? err.message : String(err) };
  }
}
