import type { ChatCompletion } from "openai/resources/chat/completions";
import type { CompletionUsage } from "openai/resources/completions";
import type { ContentBlock, Message, StopReason, Usage } from "../providers/anthropic/wire.ts";

/** OpenAI's finish reasons as Anthropic's stop reasons (`stop` as `end_turn`: see `stopOf`). */
export function stopReason(finish: string | null | undefined): StopReason {
  switch (finish) {
    case "length":
      return "max_tokens";
    case "tool_calls":
    case "function_call":
      return "tool_use";
    case "content_filter":
      return "refusal";
    default:
      return "end_turn";
  }
}

/**
 * The stop sequence that ended a choice, where the server names it: vLLM and TensorRT-LLM (and
 * chatgate's mock) put the matched string in `stop_reason` beside finish_reason `stop` (a number
 * there is a stop token's id, not a sequence). OpenAI names none.
 */
export function matchedStop(choice: { stop_reason?: unknown } | undefined): string | undefined {
  const matched = choice?.stop_reason;
  return typeof matched === "string" && matched !== "" ? matched : undefined;
}

/**
 * A finish as Anthropic's `stop_reason` and `stop_sequence`: `stop_sequence` with the sequence when
 * the server said which matched; otherwise (OpenAI never says) a `stop` stays `end_turn`.
 */
export function stopOf(finish: string | null | undefined, matched: string | undefined): { stop_reason: StopReason; stop_sequence: string | null } {
  if (finish === "stop" && matched !== undefined) return { stop_reason: "stop_sequence", stop_sequence: matched };
  return { stop_reason: stopReason(finish), stop_sequence: null };
}

/**
 * OpenAI's usage as Anthropic's: cached prompt tokens are Anthropic's cache reads and prompt tokens
 * written to the cache its cache writes, each apart from `input_tokens` (OpenAI's prompt counts them all).
 */
export function anthropicUsage(usage: CompletionUsage | null | undefined): Usage {
  const cached = usage?.prompt_tokens_details?.cached_tokens ?? 0;
  const written = usage?.prompt_tokens_details?.cache_write_tokens ?? 0;
  return {
    input_tokens: Math.max(0, (usage?.prompt_tokens ?? 0) - cached - written),
    cache_creation_input_tokens: written,
    cache_read_input_tokens: cached,
    output_tokens: usage?.completion_tokens ?? 0,
  };
}

/** `msg_` and the upstream's id without its `chatcmpl-`, so the answer can be found in the upstream's logs. */
export const messageId = (id: unknown): string => `msg_${typeof id === "string" && id !== "" ? id.replace(/^chatcmpl-/, "") : crypto.randomUUID().replaceAll("-", "")}`;

/**
 * A tool call's id, or one made in Anthropic's style (`toolu_`) when the upstream sent none: a
 * tool_use block needs one, and the client's tool_result names it.
 */
export const toolUseId = (id: unknown): string => (typeof id === "string" && id !== "" ? id : `toolu_${crypto.randomUUID().replaceAll("-", "")}`);

/** A tool call's arguments as the tool_use block's input: an object, `{}` when they are not one. */
export function toolInput(args: string | undefined): Record<string, unknown> {
  try {
    const input: unknown = JSON.parse(args || "{}");
    return input !== null && typeof input === "object" && !Array.isArray(input) ? (input as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A choice with the stop sequence that ended it, as vLLM names it. */
type Choice = ChatCompletion.Choice & { stop_reason?: unknown };

/** The message with its reasoning as DeepSeek and vLLM send it (`reasoning_content`), or as OpenRouter does (`reasoning`). */
type AssistantMessage = ChatCompletion.Choice["message"] & { reasoning_content?: string | null; reasoning?: string | null };

/**
 * A chat completion's first choice as an Anthropic Message: `reasoning_content` as a thinking
 * block (no signature: none was made), the content (or refusal) as a text block, each tool call as
 * a tool_use block with its id.
 */
export function toMessage(completion: ChatCompletion): Message {
  const choice = completion.choices[0] as Choice | undefined;
  const message = choice?.message as AssistantMessage | undefined;
  const content: ContentBlock[] = [];
  const thinking = message?.reasoning_content || message?.reasoning;
  if (typeof thinking === "string" && thinking !== "") content.push({ type: "thinking", thinking, signature: "" });
  const text = message?.content ?? message?.refusal;
  if (typeof text === "string" && text !== "") content.push({ type: "text", text });
  for (const call of message?.tool_calls ?? []) {
    // A custom tool's call has no function; some providers leave out a function call's `type` (and `id`).
    if (call.type === "custom" || !call.function) continue;
    content.push({ type: "tool_use", id: toolUseId(call.id), name: call.function.name, input: toolInput(call.function.arguments) });
  }
  const finish = message?.refusal && !message.content ? "content_filter" : choice?.finish_reason;
  return {
    id: messageId(completion.id),
    type: "message",
    role: "assistant",
    model: completion.model,
    content,
    ...stopOf(finish, matchedStop(choice)),
    usage: anthropicUsage(completion.usage),
  };
}
