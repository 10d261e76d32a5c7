import { invalidRequest } from "../errors.ts";
import type { ChatRequest } from "../schema.ts";

/** Roles whose messages carry no meaning without content; only an assistant turn may omit it (tool calls). */
const CONTENT_REQUIRED = new Set(["system", "developer", "user", "tool"]);

/** The content part types of OpenAI's chat API, over every role (each provider narrows them for its own). */
const PART_TYPES = new Set(["text", "image_url", "input_audio", "file", "refusal"]);

/**
 * What the schema cannot say without a union that would blur its error messages, checked as
 * OpenAI checks it: a message of these roles needs `content` (`{"role":"user","contnet":"hi"}` is a
 * 400 naming `messages[0].content`, not a request the model answers blind), an array of parts is
 * not empty and each part is of a known type, a text part has its text, a tool message names the
 * call it answers, and an assistant's `tool_calls` is an array.
 */
export function requireMessageContent(messages: ChatRequest["messages"]): void {
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!;
    const content = message.content;
    if (Array.isArray(content)) requireParts(content, `messages[${i}].content`);
    if (message.role === "assistant") {
      const calls = (message as { tool_calls?: unknown }).tool_calls;
      if (calls != null && !Array.isArray(calls)) throw invalidRequest(`Invalid type for 'messages[${i}].tool_calls': expected an array of tool calls.`, `messages[${i}].tool_calls`);
      continue;
    }
    if (!CONTENT_REQUIRED.has(message.role)) continue;
    const param = `messages[${i}].content`;
    if (content === undefined) throw invalidRequest(`Missing required parameter: '${param}'.`, param);
    if (content === null) {
      throw invalidRequest(`Invalid type for '${param}': expected a string or an array of content parts, but got null instead.`, param);
    }
    if (message.role === "tool" && typeof (message as { tool_call_id?: unknown }).tool_call_id !== "string") {
      throw invalidRequest(`Missing required parameter: 'messages[${i}].tool_call_id' (a string naming the tool call this message answers).`, `messages[${i}].tool_call_id`);
    }
  }
}

function requireParts(parts: ReadonlyArray<{ type: string; text?: string }>, param: string): void {
  if (parts.length === 0) throw invalidRequest(`Invalid '${param}': empty array. Expected an array with minimum length 1, but got an empty array instead.`, param);
  for (let j = 0; j < parts.length; j++) {
    const part = parts[j]!;
    if (!PART_TYPES.has(part.type)) {
      throw invalidRequest(`Invalid value for '${param}[${j}].type': '${part.type}'. Supported values are: 'text', 'image_url', 'input_audio', 'file' and 'refusal'.`, `${param}[${j}].type`);
    }
    if (part.type === "text" && part.text === undefined) throw invalidRequest(`Missing required parameter: '${param}[${j}].text'.`, `${param}[${j}].text`);
  }
}
