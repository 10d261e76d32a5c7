import type { ChatCompletion } from "openai/resources/chat/completions";
import type { CompletionUsage } from "openai/resources/completions";
import type {
  Response,
  ResponseFunctionToolCall,
  ResponseOutputItem,
  ResponseOutputMessage,
  ResponseReasoningItem,
  ResponseUsage,
} from "openai/resources/responses/responses";
import type { ResponsesRequest } from "./schema.ts";

/** The Response object as chatgate sends it: the SDK's type without the `output_text` its SDK adds itself, and fields OpenAI alone has. */
export type ResponseBody = Omit<Response, "output_text" | "access_programs"> & { completed_at?: number | null; store?: boolean };

const hex = (): string => crypto.randomUUID().replaceAll("-", "");

/** `resp_` and the upstream's id without its `chatcmpl-`, so the answer can be found in the upstream's logs. */
export const responseId = (id: unknown): string => `resp_${typeof id === "string" && id !== "" ? id.replace(/^chatcmpl-/, "") : hex()}`;
export const itemId = (prefix: "msg" | "fc" | "rs"): string => `${prefix}_${hex()}`;
/** A tool call's id, or one made when the upstream sent none: the client's function_call_output names it. */
export const callId = (id: unknown): string => (typeof id === "string" && id !== "" ? id : `call_${hex()}`);

/** OpenAI's chat usage as the Responses API's. */
export function responseUsage(usage: CompletionUsage | null | undefined): ResponseUsage {
  const input = usage?.prompt_tokens ?? 0;
  const output = usage?.completion_tokens ?? 0;
  return {
    input_tokens: input,
    input_tokens_details: {
      cached_tokens: usage?.prompt_tokens_details?.cached_tokens ?? 0,
      cache_write_tokens: usage?.prompt_tokens_details?.cache_write_tokens ?? 0,
    },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: usage?.completion_tokens_details?.reasoning_tokens ?? 0 },
    total_tokens: usage?.total_tokens ?? input + output,
  };
}

/** A finish reason as the response's status: `length` and `content_filter` leave it incomplete, saying why. */
export function statusOf(finish: string | null | undefined): Pick<ResponseBody, "status" | "incomplete_details"> {
  if (finish === "length") return { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } };
  if (finish === "content_filter") return { status: "incomplete", incomplete_details: { reason: "content_filter" } };
  return { status: "completed", incomplete_details: null };
}

/**
 * A Response in progress: the request's settings echoed as OpenAI echoes them (the fields its spec
 * marks required among them), no output and no usage yet.
 */
export function responseShell(body: ResponsesRequest, id: string, model: string, createdAt: number): ResponseBody {
  const format = body.text?.format ?? { type: "text" as const };
  return {
    id, object: "response", created_at: createdAt, status: "in_progress", background: false, completed_at: null, error: null, incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    model,
    output: [],
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: { effort: (body.reasoning?.effort ?? null) as NonNullable<Response["reasoning"]>["effort"], summary: null },
    // On unless asked off: the answer's output items are kept for a later item_reference (item-store.ts).
    store: body.store !== false,
    temperature: body.temperature ?? 1,
    text: { format: format as NonNullable<Response["text"]>["format"] },
    tool_choice: (body.tool_choice ?? "auto") as Response["tool_choice"],
    tools: (body.tools ?? []) as Response["tools"],
    top_p: body.top_p ?? 1,
    truncation: "disabled",
    usage: undefined,
    user: body.user,
    safety_identifier: body.safety_identifier ?? null,
    metadata: body.metadata ?? {},
  };
}

/** The message with its reasoning as DeepSeek and vLLM send it (`reasoning_content`), or as OpenRouter does (`reasoning`). */
type AssistantMessage = ChatCompletion.Choice["message"] & { reasoning_content?: string | null; reasoning?: string | null };

export const reasoningItem = (text: string): ResponseReasoningItem => ({ type: "reasoning", id: itemId("rs"), summary: [{ type: "summary_text", text }] });

export const messageItem = (id: string, status: ResponseOutputMessage["status"], content: ResponseOutputMessage["content"]): ResponseOutputMessage => ({
  type: "message", id, status, role: "assistant", content,
});

export const functionCallItem = (id: string, call: string, name: string, args: string, status: ResponseFunctionToolCall["status"]): ResponseFunctionToolCall => ({
  type: "function_call", id, call_id: call, name, arguments: args, status,
});

/**
 * A chat completion's first choice as a Response: `reasoning_content` as a reasoning item (its text
 * as a summary: chat models send no other), the content or refusal as a message, each tool call as
 * a function_call item with its call id.
 */
export function toResponse(completion: ChatCompletion, body: ResponsesRequest, now: number): ResponseBody {
  const choice = completion.choices[0];
  const message = choice?.message as AssistantMessage | undefined;
  const output: ResponseOutputItem[] = [];
  // A message cut by max_output_tokens or a content filter is incomplete, as its response is.
  const said = statusOf(choice?.finish_reason).status === "incomplete" ? "incomplete" : "completed";
  const thinking = message?.reasoning_content || message?.reasoning;
  if (typeof thinking === "string" && thinking !== "") output.push(reasoningItem(thinking));
  if (typeof message?.content === "string" && message.content !== "") {
    output.push(messageItem(itemId("msg"), said, [{ type: "output_text", text: message.content, annotations: [], logprobs: [] }]));
  } else if (typeof message?.refusal === "string" && message.refusal !== "") {
    output.push(messageItem(itemId("msg"), said, [{ type: "refusal", refusal: message.refusal }]));
  }
  for (const call of message?.tool_calls ?? []) {
    // A custom tool's call has no function; some providers leave out a function call's `type` (and `id`).
    if (call.type === "custom" || !call.function) continue;
    output.push(functionCallItem(itemId("fc"), callId(call.id), call.function.name, call.function.arguments || "{}", "completed"));
  }
  const created = typeof completion.created === "number" ? completion.created : Math.floor(now / 1000);
  return {
    ...responseShell(body, responseId(completion.id), completion.model, created),
    ...statusOf(choice?.finish_reason),
    completed_at: Math.floor(now / 1000),
    output,
    usage: responseUsage(completion.usage),
  };
}
