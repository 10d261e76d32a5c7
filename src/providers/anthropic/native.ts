import type { ChatCompletion } from "openai/resources/chat/completions";
import { badGateway } from "../../errors.ts";
import type { NativeRequest } from "../provider.ts";
import { isMessage, toUsage } from "./response.ts";
import type { Message } from "./wire.ts";
import { serialisedWith } from "../request-body.ts";

/**
 * The body of a native request for `model`: the client's bytes when it named that model, else its
 * body serialised once with the model replaced (an alias, a route's target).
 */
export function nativeBody(native: NativeRequest, model: string): string | Uint8Array {
  return model === native.body.model ? native.raw : serialisedWith(native, { model });
}

/**
 * The request's headers: the provider's, with the client's `anthropic-beta` added to any it has,
 * and the client's `anthropic-version` in place of the provider's (the version its body is written
 * for: Claude Code's gateway contract has both forwarded).
 */
export function nativeHeaders(headers: Record<string, string>, native: NativeRequest): Record<string, string> {
  const beta = native.beta !== undefined && native.beta !== "";
  const version = native.version !== undefined && native.version !== "";
  if (!beta && !version) return headers;
  const out = { ...headers };
  if (beta) out["anthropic-beta"] = headers["anthropic-beta"] === undefined ? native.beta! : `${headers["anthropic-beta"]},${native.beta}`;
  if (version) out["anthropic-version"] = native.version!;
  return out;
}

/**
 * Reads an answer to a native request, passed on as its text: parsed once, to check it is a
 * Message and to read its usage for the finish record (the completion carries nothing else).
 */
export function nativeCompletion(provider: string, text: string): ChatCompletion {
  const message = messageOf(provider, text);
  return { id: message.id, object: "chat.completion", created: 0, model: message.model, choices: [], usage: toUsage(message.usage) };
}

/**
 * A `count_tokens` answer's text, passed on as it is once it is what the API answers (an object
 * with a whole `input_tokens`), or the 502 saying what else it is: never an upstream's other bytes.
 */
export function tokenCountOf(provider: string, text: string): string {
  let count: unknown;
  try {
    count = JSON.parse(text);
  } catch {
    throw badGateway(`Provider '${provider}' answered count_tokens with a body that is not valid JSON.`);
  }
  const tokens = typeof count === "object" && count !== null ? (count as { input_tokens?: unknown }).input_tokens : undefined;
  if (!Number.isSafeInteger(tokens) || (tokens as number) < 0) throw badGateway(`Provider '${provider}' answered count_tokens with JSON that is not a token count.`);
  return text;
}

/** An answer's text as Anthropic's Message, or the 502 saying what else it is. */
export function messageOf(provider: string, text: string): Message {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    throw badGateway(`Provider '${provider}' answered with a body that is not valid JSON.`);
  }
  if (!isMessage(message)) throw badGateway(`Provider '${provider}' answered with JSON that is not a message.`);
  return message;
}
