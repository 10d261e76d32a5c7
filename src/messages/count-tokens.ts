import type { ChatRequest } from "../schema.ts";
import { encodingFor } from "../usage/encoding.ts";
import { promptTokens } from "../usage/prompt.ts";
import { loadCounter } from "../usage/tokenizer.ts";

/**
 * The input tokens of a translated request, counted with the tokenizer of the model's family (the
 * first count loads it): an estimate for a model whose tokenizer is not public, like Claude's.
 */
export async function countInputTokens(request: ChatRequest): Promise<number> {
  const encoding = encodingFor(request.model);
  const count = await loadCounter(encoding);
  return promptTokens(count, request, encoding);
}
