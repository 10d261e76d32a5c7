import type { ChatRequest } from "../schema.ts";
import { countWith } from "../usage/count-with.ts";
import { encodingFor } from "../usage/encoding.ts";
import { promptTokens } from "../usage/prompt.ts";

/**
 * The input tokens of a translated request, counted with the tokenizer of the model's family (in
 * the counting process): an estimate for a model whose tokenizer is not public, like Claude's.
 */
export async function countInputTokens(request: ChatRequest): Promise<number> {
  const encoding = encodingFor(request.model);
  return countWith(encoding, (count) => promptTokens(count, request, encoding));
}
