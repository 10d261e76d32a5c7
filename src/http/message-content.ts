import { invalidRequest } from "../errors.ts";
import type { ChatRequest } from "../schema.ts";

/** Roles whose messages carry no meaning without content; only an assistant turn may omit it (tool calls). */
const CONTENT_REQUIRED = new Set(["system", "developer", "user", "tool"]);

/**
 * What the schema cannot say without a union that would blur its error messages: a message of
 * these roles needs `content`, as on OpenAI (`{"role":"user","contnet":"hi"}` is a 400 naming
 * `messages[0].content`, not a request the model answers blind).
 */
export function requireMessageContent(messages: ChatRequest["messages"]): void {
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!;
    if (!CONTENT_REQUIRED.has(message.role)) continue;
    const param = `messages[${i}].content`;
    if (message.content === undefined) throw invalidRequest(`Missing required parameter: '${param}'.`, param);
    if (message.content === null) {
      throw invalidRequest(`Invalid type for '${param}': expected a string or an array of content parts, but got null instead.`, param);
    }
  }
}
