// What a webhook sends and gets back. The schemas are the types and the OpenAPI document's; the
// body is checked by hand, in one pass, so each refusal names its field the way OpenAI's do.
import { Type, type Static } from "@sinclair/typebox";
import { invalidRequest } from "../errors.ts";

/** Longest `text`, in characters: a chat message, not a document. */
export const MAX_TEXT = 32_768;
/** Longest `from` and `id`, in characters. */
export const MAX_FROM = 128;
/** Largest body a hook reads (or the gateway's max_body_bytes when lower): a text at its longest, escaped, fits. */
export const MAX_HOOK_BODY = 256 * 1024;

export const HOOK_ACTIONS = ["chat", "reset"] as const;

export const HookRequest = Type.Object(
  {
    text: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_TEXT, description: "the sender's message; required for chat" })),
    from: Type.String({ minLength: 1, maxLength: MAX_FROM, description: "who sent it: the conversation it belongs to" }),
    action: Type.Optional(Type.Union(HOOK_ACTIONS.map((a) => Type.Literal(a)), { default: "chat", description: "chat: answer text; reset: forget this sender's conversation" })),
    id: Type.Optional(Type.String({ maxLength: MAX_FROM, description: "the delivery's own id: not read, but it makes two bodies with the same text differ (a signed body is taken once)" })),
  },
  { additionalProperties: false },
);
export type HookRequest = Static<typeof HookRequest>;

export const HookResponse = Type.Object({
  reply: Type.Union([Type.String(), Type.Null()], { description: "the model's answer; null for reset" }),
  model: Type.String({ description: "the model that answered (for reset: the hook's model)" }),
  session: Type.Object({ from: Type.String(), turns: Type.Integer({ description: "exchanges of this sender's conversation now remembered" }) }),
  usage: Type.Union([Type.Object({ prompt_tokens: Type.Integer(), completion_tokens: Type.Integer(), total_tokens: Type.Integer() }, { additionalProperties: true }), Type.Null()]),
});
export type HookResponse = Static<typeof HookResponse>;

/** A message to a hook, checked: `text` is there when the action is chat. */
export type HookMessage = { action: "chat"; from: string; text: string } | { action: "reset"; from: string };

const FIELDS: ReadonlySet<string> = new Set(Object.keys(HookRequest.properties));

const isText = (value: unknown, max: number): value is string => typeof value === "string" && value.length > 0 && value.length <= max;

const invalid = (field: string, expected: string) => invalidRequest(`Invalid value for '${field}': expected ${expected}.`, field);
const missing = (field: string) => invalidRequest(`Missing required parameter: '${field}'.`, field);

/** The parsed body as a message, or the 400 naming the first field at fault. */
export function hookMessage(body: Record<string, unknown>): HookMessage {
  for (const field of Object.keys(body)) {
    if (!FIELDS.has(field)) throw invalidRequest(`Unrecognized request argument supplied: ${field} (a hook takes text, from, action and id).`, field);
  }
  const { text, from, action = "chat", id } = body;
  if (from === undefined) throw missing("from");
  if (!isText(from, MAX_FROM)) throw invalid("from", `a string of 1 to ${MAX_FROM} characters`);
  if (action !== "chat" && action !== "reset") throw invalid("action", "chat or reset");
  if (id !== undefined && (typeof id !== "string" || id.length > MAX_FROM)) throw invalid("id", `a string of at most ${MAX_FROM} characters`);
  if (action === "reset") return { action, from };
  if (text === undefined) throw missing("text");
  if (!isText(text, MAX_TEXT)) throw invalid("text", `a non-empty string of at most ${MAX_TEXT} characters`);
  return { action, from, text };
}
