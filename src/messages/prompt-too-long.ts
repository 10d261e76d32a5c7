import type { GatewayError } from "../errors.ts";

/** What OpenAI (and vLLM, SGLang, most compatible servers) say of a prompt beyond the context window. */
const LIMIT = /maximum context length is (\d+)/i;
/** Anthropic's own words, which an Anthropic target's error (coded the same way) already has. */
const ANTHROPIC = /^prompt is too long/i;
/** The prompt's size in their words: vLLM's "(N in the messages, …)", OpenAI's "resulted in N tokens". */
const PROMPT = [/(\d+) in the messages/i, /resulted in (\d+) tokens/i, /requested (\d+) tokens/i];

/**
 * An upstream's refusal of a prompt too long for the model, in Anthropic's words for it
 * (`prompt is too long: 130000 tokens > 128000 maximum`), the numbers taken from the upstream's
 * message when it gives them; undefined for any other error. Claude Code matches "prompt is too
 * long" to compact its conversation and retry, so the wording matters more than the numbers.
 * OpenAI marks the error with its code; vLLM sends a bare 400 whose message says the same.
 */
export function promptTooLong(err: GatewayError): string | undefined {
  const said = err.message;
  if (ANTHROPIC.test(said) || (err.code !== "context_length_exceeded" && !(err.status === 400 && LIMIT.test(said)))) return undefined;
  const limit = LIMIT.exec(said)?.[1];
  const prompt = PROMPT.map((re) => re.exec(said)?.[1]).find((n) => n !== undefined);
  return limit !== undefined && prompt !== undefined ? `prompt is too long: ${prompt} tokens > ${limit} maximum` : `prompt is too long: ${said}`;
}
