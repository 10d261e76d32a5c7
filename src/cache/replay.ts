import type { ChatCompletion, ChatCompletionChunk } from "openai/resources/chat/completions";
import { StreamSeen } from "../providers/provider.ts";
import { DONE_TEXT, encodeEvents } from "../sse-encode.ts";
import { TEXT_FIELDS, type CachedAnswer } from "./stored-answer.ts";

type Delta = ChatCompletionChunk.Choice.Delta & { reasoning_content?: string };

/**
 * A stored answer as the stream a real upstream sends, in one piece: for each choice a role chunk,
 * its text (each text field in one chunk: the whole answer is here already, and splitting it
 * would only cost time), its tool calls, and its finish chunk; then the usage chunk only when the
 * client asked for it (`stream_options.include_usage`, with `usage: null` on every other chunk, as
 * OpenAI does), then `[DONE]`. Id, creation time, model and fingerprint are the stored answer's.
 */
export function replayEvents(completion: ChatCompletion, includeUsage: boolean): Uint8Array {
  const base = {
    id: completion.id,
    object: "chat.completion.chunk",
    created: completion.created,
    model: completion.model,
    ...(completion.service_tier != null ? { service_tier: completion.service_tier } : {}),
    ...(completion.system_fingerprint != null ? { system_fingerprint: completion.system_fingerprint } : {}),
  };
  let text = "";
  const event = (choices: unknown[], usage?: unknown) => {
    text += `data: ${JSON.stringify(includeUsage ? { ...base, choices, usage: usage ?? null } : { ...base, choices })}\n\n`;
  };
  const choice = (index: number, delta: Delta, finish: string | null = null) => ({ index, delta, logprobs: null, finish_reason: finish });
  for (const { index, message, finish_reason } of completion.choices) {
    const fields = message as ChatCompletion.Choice["message"] & { reasoning_content?: string | null };
    event([choice(index, { role: "assistant", content: typeof fields.content === "string" ? "" : null })]);
    for (const field of TEXT_FIELDS) {
      const value = fields[field];
      if (typeof value === "string" && value !== "") event([choice(index, { [field]: value })]);
    }
    const calls = fields.tool_calls ?? [];
    if (calls.length > 0) event([choice(index, { tool_calls: calls.map((call, i) => ({ index: i, ...call })) })]);
    event([choice(index, {}, finish_reason)]);
  }
  if (includeUsage && completion.usage != null) event([], completion.usage);
  return encodeEvents(text + DONE_TEXT);
}

/** A stream that has nothing left after its first read. */
const NOTHING_LEFT: AsyncIterator<Uint8Array, void, undefined> = { next: () => Promise.resolve({ done: true, value: undefined }) };

/**
 * A stored answer as a committed stream the HTTP edge sends like any other: the whole of it in the
 * first read, already complete, with what a real stream's `seen` would say at its end.
 */
export function replayStream(answer: CachedAnswer, includeUsage: boolean) {
  const first = replayEvents(answer.completion, includeUsage);
  const seen = new StreamSeen();
  seen.done = true;
  seen.finished = answer.completion.choices.length;
  seen.usage = answer.completion.usage ?? undefined;
  return { first, rest: NOTHING_LEFT, seen, complete: true, dropped: answer.dropped };
}
