import type { ChatCompletion } from "openai/resources/chat/completions";

/** An answer as the cache keeps it: who produced it, and the completion a JSON request gets. */
export interface StoredAnswer {
  /** The provider that answered. */
  provider: string;
  /** The upstream model that produced the answer. */
  model: string;
  /** Request parameters the provider dropped (`drop_params`) when it produced the answer. */
  dropped?: readonly string[];
  /** The `chat.completion` JSON text: the upstream's own for a JSON answer, rebuilt for a stream's. */
  json: string;
}

/** A stored answer read back: the completion parsed once, for a stream's replay and usage. */
export interface CachedAnswer extends StoredAnswer {
  completion: ChatCompletion;
}

/** Bumped when the stored form changes: answers stored in another form are misses, never misread. */
const FORMAT = 1;

/**
 * One text per answer, for any store: a JSON header line (JSON never holds a raw line break), then
 * the completion's JSON as it is, so a JSON hit sends the stored text without re-serialising it.
 */
export function encodeAnswer(answer: StoredAnswer): string {
  const head = { v: FORMAT, provider: answer.provider, model: answer.model, ...(answer.dropped?.length ? { dropped: answer.dropped } : {}) };
  return `${JSON.stringify(head)}\n${answer.json}`;
}

/** The answer in `text`; undefined when it is not one this version stored (then the lookup is a miss). */
export function decodeAnswer(text: string): CachedAnswer | undefined {
  const end = text.indexOf("\n");
  if (end === -1) return undefined;
  try {
    const head = JSON.parse(text.slice(0, end)) as { v?: unknown; provider?: unknown; model?: unknown; dropped?: unknown };
    if (head.v !== FORMAT || typeof head.provider !== "string" || typeof head.model !== "string") return undefined;
    const json = text.slice(end + 1);
    const completion = JSON.parse(json) as ChatCompletion;
    if (!storable(completion)) return undefined;
    const dropped = Array.isArray(head.dropped) ? head.dropped.filter((d): d is string => typeof d === "string") : undefined;
    return { provider: head.provider, model: head.model, ...(dropped?.length ? { dropped } : {}), json, completion };
  } catch {
    return undefined;
  }
}

/** The text fields of an assistant message that a stream sends as string deltas, in the order replayed. */
export const TEXT_FIELDS = ["reasoning_content", "content", "refusal"] as const;

/** Message fields a replayed stream can carry whatever their value (besides TEXT_FIELDS and tool_calls). */
const IGNORABLE = new Set(["role"]);

/**
 * Whether an answer is whole and can be replayed as a stream the way a real one would look: every
 * choice has its finish reason and a message of text fields and function tool calls only. An
 * answer with log probabilities, audio, annotations, a legacy `function_call` or anything else a
 * replay would lose is not stored.
 */
export function storable(completion: ChatCompletion): boolean {
  const choices = completion?.choices;
  if (!Array.isArray(choices) || choices.length === 0 || typeof completion.id !== "string") return false;
  return choices.every((choice) => {
    if (choice?.finish_reason == null || choice.logprobs != null || typeof choice.message !== "object" || choice.message === null) return false;
    return Object.entries(choice.message).every(([field, value]) => {
      if (value === null || value === undefined || IGNORABLE.has(field)) return true;
      if ((TEXT_FIELDS as readonly string[]).includes(field)) return typeof value === "string";
      if (field === "tool_calls") return Array.isArray(value) && value.every(isFunctionCall);
      return Array.isArray(value) && value.length === 0; // `annotations: []`
    });
  });
}

function isFunctionCall(call: unknown): boolean {
  const c = call as { id?: unknown; type?: unknown; function?: { name?: unknown; arguments?: unknown } };
  return typeof c?.id === "string" && c.type === "function" && typeof c.function?.name === "string" && typeof c.function.arguments === "string";
}
