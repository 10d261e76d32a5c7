import type { ChatCompletion, ChatCompletionMessage, ChatCompletionMessageFunctionToolCall } from "openai/resources/chat/completions";
import type { CompletionUsage } from "openai/resources/completions";
import type { Message, MessageDeltaUsage, StopDetails, StopReason, Usage } from "./wire.ts";

export type FinishReason = ChatCompletion.Choice["finish_reason"];

/** The assistant message with the thinking text, as `reasoning_content` (DeepSeek's field, which clients read). */
export type AssistantMessage = ChatCompletionMessage & { reasoning_content?: string };

/**
 * Anthropic's stop reasons as OpenAI's finish reasons. `pause_turn` (a server-tool turn paused
 * to be continued) ends this answer as it is; a refusal is OpenAI's `content_filter`; an
 * unknown future reason is a plain stop rather than a failure.
 */
export function finishReason(reason: StopReason | null | undefined): FinishReason {
  switch (reason) {
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return "tool_calls";
    case "refusal":
      return "content_filter";
    default:
      return "stop";
  }
}

/** A refusal's explanation, when Anthropic gives one: OpenAI's `refusal` text. */
export const refusalText = (reason: StopReason | null | undefined, details: StopDetails | null | undefined): string | null =>
  reason === "refusal" && typeof details?.explanation === "string" ? details.explanation : null;

/**
 * Anthropic's usage as OpenAI's: input, cache reads and cache writes are all prompt tokens
 * (Anthropic counts them apart), cache reads are also `cached_tokens` and cache writes
 * `cache_write_tokens` (priced apart by Anthropic, so a client's bill needs them).
 */
export function toUsage(usage: Usage | MessageDeltaUsage): CompletionUsage {
  const read = usage.cache_read_input_tokens ?? 0;
  const write = usage.cache_creation_input_tokens ?? 0;
  const prompt = (usage.input_tokens ?? 0) + read + write;
  const completion = usage.output_tokens;
  const out: CompletionUsage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: read, cache_write_tokens: write },
  };
  const thinking = usage.output_tokens_details?.thinking_tokens;
  if (typeof thinking === "number") out.completion_tokens_details = { reasoning_tokens: thinking };
  return out;
}

/**
 * A Message as a ChatCompletion: text blocks joined as `content`, thinking joined as
 * `reasoning_content`, tool_use blocks as tool calls with their ids and the input serialised as
 * the arguments string. Redacted thinking and server-tool blocks have no OpenAI form and are left out.
 * The id is Anthropic's message id, so a request can be found in Anthropic's logs.
 */
export function toChatCompletion(message: Message, created = Math.floor(Date.now() / 1000)): ChatCompletion {
  let text: string | null = null;
  let reasoning: string | undefined;
  const calls: ChatCompletionMessageFunctionToolCall[] = [];
  for (const block of message.content) {
    if (block.type === "text" && "text" in block) text = (text ?? "") + block.text;
    else if (block.type === "thinking" && "thinking" in block) reasoning = (reasoning ?? "") + block.thinking;
    else if (block.type === "tool_use" && "input" in block) {
      calls.push({ id: block.id, type: "function", function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
    }
  }
  const assistant: AssistantMessage = { role: "assistant", content: text, refusal: refusalText(message.stop_reason, message.stop_details) };
  if (calls.length > 0) assistant.tool_calls = calls;
  if (reasoning !== undefined) assistant.reasoning_content = reasoning;
  return {
    id: message.id,
    object: "chat.completion",
    created,
    model: message.model,
    choices: [{ index: 0, message: assistant, logprobs: null, finish_reason: finishReason(message.stop_reason) }],
    usage: toUsage(message.usage),
  };
}

/** Whether parsed JSON is a Message (what a 2xx answer must be). */
export function isMessage(value: unknown): value is Message {
  if (value === null || typeof value !== "object") return false;
  const m = value as Partial<Message>;
  return m.type === "message" && typeof m.id === "string" && typeof m.model === "string" && Array.isArray(m.content) && typeof m.usage === "object" && m.usage !== null;
}
