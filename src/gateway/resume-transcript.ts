// What a resumed stream's client has been sent, read back from its chunks, and the request that
// asks a target for the rest of it.
import { forEachChunk } from "../providers/chunk-events.ts";
import type { Continuation } from "../config/provider-spec.ts";
import type { GatewayError } from "../errors.ts";
import type { ChatCall } from "../providers/provider.ts";

/** What the client has been sent so far, read back from the chunks. */
export interface Transcript {
  id: string;
  created: number;
  /** The one choice's content, as the client assembled it. */
  text: string;
  /** Content-bearing chunks (about one token each). */
  contentChunks: number;
  /** One choice of text only: no tool call, refusal, reasoning, logprobs, or finish yet. */
  continuable: boolean;
}

/** Whether a request may ever be resumed: one choice, no log probabilities. */
export function resumableRequest(call: ChatCall): boolean {
  // A native request may be answered in its own format, which a continuation cannot splice.
  if (call.native !== undefined) return false;
  const body = call.body as ChatCall["body"] & { logprobs?: unknown; top_logprobs?: unknown };
  return (body.n ?? 1) === 1 && !body.logprobs && body.top_logprobs == null;
}

/** Reads the chunks a client was sent (whole SSE events of `chat.completion.chunk`s) back into a transcript. */
export function readTranscript(chunks: readonly Uint8Array[]): Transcript | undefined {
  let id: unknown;
  let created: unknown;
  let text = "";
  let contentChunks = 0;
  let continuable = true;
  forEachChunk(chunks, (chunk) => {
    id ??= chunk.id;
    created ??= chunk.created;
    for (const choice of chunk.choices) {
      const delta = (choice.delta ?? {}) as Record<string, unknown>;
      if (choice.index !== 0 || choice.logprobs != null || choice.finish_reason != null) continuable = false;
      if (delta.tool_calls != null || delta.function_call != null || nonEmpty(delta.refusal) || nonEmpty(delta.reasoning_content)) continuable = false;
      if (nonEmpty(delta.content)) {
        text += delta.content;
        contentChunks++;
      }
    }
  });
  if (typeof id !== "string") return undefined;
  return { id, created: typeof created === "number" ? created : Math.floor(Date.now() / 1000), text, contentChunks, continuable };
}

export const nonEmpty = (v: unknown): v is string => typeof v === "string" && v !== "";

/** The original request with the partial answer appended in the target's continuation style. */
export function continuationCall(call: ChatCall, text: string, style: Exclude<Continuation, "none">): ChatCall {
  // Anthropic refuses a prefill that ends in whitespace; the whitespace already sent is not sent again (Seam).
  const prefill = text.trimEnd();
  const messages: unknown[] = [...call.body.messages];
  if (prefill !== "") messages.push(style === "prefix" ? { role: "assistant", content: prefill, prefix: true } : { role: "assistant", content: prefill });
  const body: Record<string, unknown> = { ...call.body, messages, stream: true, stream_options: { include_usage: true } };
  if (style === "vllm" && prefill !== "") {
    body.continue_final_message = true;
    body.add_generation_prompt = false;
  }
  return { body: body as unknown as ChatCall["body"], raw: JSON.stringify(body), requestId: call.requestId, trace: call.trace };
}

/** A continuation refused for its shape (the last message's role, prefill), not for passing trouble. */
export function refusesContinuation(err: GatewayError): boolean {
  const status = err.upstreamStatus ?? err.status;
  return (status === 400 || status === 422) && /prefill|assistant|final message|last message|role|prefix|continue_final_message/i.test(err.message);
}
