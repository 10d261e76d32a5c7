import type {
  ChatCompletionAssistantMessageParam,
  ChatCompletionContentPart,
  ChatCompletionMessageParam,
  ChatCompletionMessageToolCall,
  ChatCompletionFunctionTool,
  ChatCompletionToolChoiceOption,
} from "openai/resources/chat/completions";
import { invalidRequest } from "../errors.ts";
import type { ChatRequest } from "../schema.ts";
import { responseFormatOf } from "./output-format.ts";
import type { AnyBlock, CountTokensRequest, MessagesRequest } from "./schema.ts";

type Loose = Record<string, unknown>;
type Params = CountTokensRequest & Partial<MessagesRequest>;

/**
 * An extended-thinking budget as OpenAI's `reasoning_effort`: the mirror of the Anthropic provider's
 * THINKING_BUDGET (low 2048, medium 8192, high 16384), each budget taking the nearest effort at or
 * below it. `adaptive` thinking (the model decides) is `medium`.
 */
export function reasoningEffort(thinking: Params["thinking"]): "low" | "medium" | "high" | undefined {
  if (thinking === undefined || thinking.type === "disabled") return undefined;
  const budget = thinking.budget_tokens;
  if (thinking.type === "adaptive" || budget === undefined) return "medium";
  return budget < 8192 ? "low" : budget < 16384 ? "medium" : "high";
}

/**
 * A Messages request as the gateway's OpenAI-shaped call, for a provider that speaks chat
 * completions (and for everything the gateway reads of a request: the model, token estimates, the
 * ledger). `output_config.format` is `response_format` (strict: see output-format.ts, whose check
 * refuses a schema it cannot keep). What has no OpenAI form is left out: prior thinking blocks,
 * `top_k`, server tools (no `input_schema`), `cache_control`, and fields Anthropic adds that
 * chatgate does not know.
 */
export function toChatRequest(body: Params): ChatRequest {
  const messages: ChatCompletionMessageParam[] = [];
  const system = joinedText(body.system);
  if (system !== undefined) messages.push({ role: "system", content: system });
  for (const turn of body.messages) {
    if (turn.role === "assistant") messages.push(assistantTurn(turn.content));
    else userTurn(turn.content, messages);
  }
  const out: Loose = { model: body.model, messages };
  const effort = reasoningEffort(body.thinking);
  // Reasoning models on OpenAI take only max_completion_tokens; max_tokens is what most compatible servers know.
  // Typed checks, not `!== undefined`: a token count's body is validated for its own fields only,
  // and a `"stop_sequences": null` there was read as an array (a 500).
  if (typeof body.max_tokens === "number") out[effort === undefined ? "max_tokens" : "max_completion_tokens"] = body.max_tokens;
  if (effort !== undefined) out.reasoning_effort = effort;
  if (Array.isArray(body.stop_sequences) && body.stop_sequences.length > 0) out.stop = body.stop_sequences;
  if (typeof body.temperature === "number") out.temperature = body.temperature;
  if (typeof body.top_p === "number") out.top_p = body.top_p;
  if (typeof body.metadata?.user_id === "string") out.user = body.metadata.user_id;
  tools(body, out);
  const format = responseFormatOf(body.output_config?.format);
  if (format !== undefined) out.response_format = format;
  // Usage is asked for so the stream's message_delta can carry it.
  if (body.stream === true) Object.assign(out, { stream: true, stream_options: { include_usage: true } });
  return out as ChatRequest;
}

function tools(body: Params, out: Loose): void {
  const choice = body.tool_choice;
  // Anthropic requires it; translated, a missing name went upstream as `function.name: ""`.
  if (choice?.type === "tool" && !choice.name) throw invalidRequest("tool_choice.name: Field required when tool_choice.type is 'tool'.", "tool_choice.name");
  const functions: ChatCompletionFunctionTool[] = [];
  for (const tool of body.tools ?? []) {
    if (tool.input_schema === undefined) continue;
    const fn: ChatCompletionFunctionTool["function"] = { name: tool.name, parameters: tool.input_schema };
    if (tool.description !== undefined) fn.description = tool.description;
    // Anthropic's strict tool use is OpenAI's strict function calling: arguments that match the schema.
    if (tool.strict === true) fn.strict = true;
    functions.push({ type: "function", function: fn });
  }
  if (functions.length === 0) return;
  out.tools = functions;
  if (choice === undefined) return;
  const map: Record<string, ChatCompletionToolChoiceOption> = { auto: "auto", any: "required", none: "none" };
  out.tool_choice = choice.type === "tool" ? { type: "function", function: { name: choice.name ?? "" } } : map[choice.type];
  if (choice.disable_parallel_tool_use === true) out.parallel_tool_calls = false;
}

/**
 * Text blocks as one string, blank-line separated; undefined when there is no text. A string, not
 * text parts: several OpenAI-compatible servers (DeepSeek's API among them) take only a string in a
 * system message, and a string is what the model would read either way.
 */
function joinedText(content: string | AnyBlock[] | undefined): string | undefined {
  if (content === undefined) return undefined;
  if (typeof content === "string") return content;
  const texts = content.filter((b) => b.type === "text").map((b) => b.text as string);
  return texts.length === 0 ? undefined : texts.join("\n\n");
}

/** A user turn: its tool results as tool messages first (they answer the turn before), then the rest. */
function userTurn(content: string | AnyBlock[], messages: ChatCompletionMessageParam[]): void {
  if (typeof content === "string") {
    messages.push({ role: "user", content });
    return;
  }
  const parts: ChatCompletionContentPart[] = [];
  for (const block of content) {
    if (block.type === "tool_result") {
      const result = block.content as string | AnyBlock[] | undefined;
      const text = typeof result === "string" ? result : (result ?? []).flatMap((b) => (b.type === "text" ? [b.text as string] : b.type === "search_result" ? [searchResultText(b)] : [])).join("\n");
      messages.push({ role: "tool", tool_call_id: block.tool_use_id as string, content: block.is_error === true ? failedTool(text) : text });
      // A tool message holds text only: images a tool returned follow in the user message.
      if (Array.isArray(result)) for (const b of result) if (b.type === "image") parts.push(imagePart(b));
      continue;
    }
    const part = userPart(block);
    if (part !== undefined) parts.push(part);
  }
  if (parts.length === 0) return;
  // Text only (Claude Code sends several text blocks a turn): one string, for servers without content parts.
  const textOnly = parts.every((p) => p.type === "text");
  messages.push({ role: "user", content: textOnly ? parts.map((p) => (p as { text: string }).text).join("\n\n") : parts });
}

/**
 * A failed tool's result (`is_error`) as the model reads it. A chat tool message has no error flag,
 * so the failure is said in its text, prefixed `Error: ` as other Anthropic-to-chat translators do
 * (any-llm; SGLang's Anthropic front end): unmarked, the model takes the error for the tool's output.
 */
const failedTool = (text: string): string => (text === "" ? "Error" : `Error: ${text}`);

function userPart(block: AnyBlock): ChatCompletionContentPart | undefined {
  switch (block.type) {
    case "text":
      return { type: "text", text: block.text as string };
    case "image":
      return imagePart(block);
    case "document":
      return documentPart(block.source as Loose, block.title);
    case "search_result":
      return { type: "text", text: searchResultText(block) };
  }
  return undefined;
}

/** A search result the client supplies (RAG) as text a chat model reads: its title, source, then its text blocks. */
function searchResultText(block: AnyBlock): string {
  const content = Array.isArray(block.content) ? (block.content as Loose[]) : [];
  const texts = content.flatMap((b) => (typeof b.text === "string" ? [b.text] : []));
  return [`${String(block.title ?? "")} (${String(block.source ?? "")})`, ...texts].join("\n\n");
}

function imagePart(block: AnyBlock): ChatCompletionContentPart {
  const source = block.source as Loose;
  if (source.type === "file") return { type: "file", file: { file_id: source.file_id as string } };
  const url = source.type === "url" ? (source.url as string) : `data:${source.media_type as string};base64,${source.data as string}`;
  return { type: "image_url", image_url: { url } };
}

/** A plain-text document as its text, and one of content blocks as theirs; a PDF or a stored file as a file part; a document by URL as a line naming it. */
function documentPart(source: Loose, title: unknown): ChatCompletionContentPart {
  if (source.type === "text" && typeof source.data === "string") return { type: "text", text: source.data };
  if (source.type === "base64") {
    const filename = typeof title === "string" ? title : "document.pdf";
    return { type: "file", file: { file_data: `data:${String(source.media_type)};base64,${String(source.data)}`, filename } };
  }
  if (source.type === "file") return { type: "file", file: { file_id: source.file_id as string } };
  if (source.type === "content") {
    const content = source.content as string | Loose[];
    return { type: "text", text: typeof content === "string" ? content : content.flatMap((b) => (typeof b.text === "string" ? [b.text] : [])).join("\n\n") };
  }
  return { type: "text", text: `Document: ${String(source.url)}` };
}

/** An assistant turn: its text as content, its tool_use blocks as tool calls with their ids; thinking left out. */
function assistantTurn(content: string | AnyBlock[]): ChatCompletionAssistantMessageParam {
  if (typeof content === "string") return { role: "assistant", content };
  let text: string | null = null;
  const calls: ChatCompletionMessageToolCall[] = [];
  for (const block of content) {
    if (block.type === "text") text = (text ?? "") + (block.text as string);
    else if (block.type === "tool_use") {
      calls.push({ id: block.id as string, type: "function", function: { name: block.name as string, arguments: JSON.stringify(block.input) } });
    }
  }
  // A turn of thinking alone (or server tools' blocks) has neither: chat completions require content
  // unless there are tool calls, so it goes as an empty text, keeping the turns' order.
  const turn: ChatCompletionAssistantMessageParam = { role: "assistant", content: text ?? (calls.length > 0 ? null : "") };
  if (calls.length > 0) turn.tool_calls = calls;
  return turn;
}
