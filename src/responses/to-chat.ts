import type {
  ChatCompletionAssistantMessageParam,
  ChatCompletionContentPart,
  ChatCompletionFunctionTool,
  ChatCompletionMessageParam,
  ChatCompletionToolChoiceOption,
} from "openai/resources/chat/completions";
import { invalidRequest } from "../errors.ts";
import type { ChatRequest } from "../schema.ts";
import type { ResponseOutputItem } from "openai/resources/responses/responses";
import type { InputItem, ResponsesRequest } from "./schema.ts";

type Loose = Record<string, unknown>;

const STATELESS = "chatgate stores no responses";

/**
 * A Responses request as the gateway's chat completions call. An item reference is the stored item
 * it names (`stored`: the output items of answers given with `store` on). What needs a stored
 * response is refused (previous_response_id, conversation, background), as are tools and items
 * that only OpenAI's servers run (web_search, file_search, …), each naming its field. Reasoning
 * items are left out (a chat model takes no prior reasoning), and so are `metadata` and `store`:
 * OpenAI's chat completions take metadata only with its own `store`.
 */
export function toChatRequest(body: ResponsesRequest, stored?: (id: string) => ResponseOutputItem | undefined): ChatRequest {
  refuseState(body);
  const messages: ChatCompletionMessageParam[] = [];
  if (typeof body.instructions === "string" && body.instructions !== "") messages.push({ role: "system", content: body.instructions });
  if (typeof body.input === "string") messages.push({ role: "user", content: body.input });
  else body.input.forEach((item, i) => inputItem(item as InputItem, `input[${i}]`, messages, stored));
  const out: Loose = { model: body.model, messages };
  if (typeof body.max_output_tokens === "number") out.max_completion_tokens = body.max_output_tokens;
  if (typeof body.temperature === "number") out.temperature = body.temperature;
  if (typeof body.top_p === "number") out.top_p = body.top_p;
  if (body.user !== undefined) out.user = body.user;
  if (body.safety_identifier !== undefined) out.safety_identifier = body.safety_identifier;
  if (typeof body.reasoning?.effort === "string") out.reasoning_effort = body.reasoning.effort;
  responseFormat(body, out);
  tools(body, out);
  // Usage is asked for so response.completed can carry it.
  if (body.stream === true) Object.assign(out, { stream: true, stream_options: { include_usage: true } });
  return out as ChatRequest;
}

function refuseState(body: ResponsesRequest): void {
  const loose = body as Loose;
  if (typeof body.previous_response_id === "string") throw invalidRequest(`previous_response_id is not supported: ${STATELESS}. Send the whole conversation as input items.`, "previous_response_id");
  if (loose.conversation != null) throw invalidRequest(`conversation is not supported: ${STATELESS}. Send the whole conversation as input items.`, "conversation");
  if (body.background === true) throw invalidRequest(`background mode is not supported: ${STATELESS}.`, "background");
}

function inputItem(item: InputItem, at: string, messages: ChatCompletionMessageParam[], stored?: (id: string) => ResponseOutputItem | undefined): void {
  const type = item.type ?? (item.role !== undefined ? "message" : undefined);
  switch (type) {
    case "message":
      return message(item, at, messages);
    case "function_call":
      return functionCall(item, at, messages);
    case "function_call_output":
      messages.push({ role: "tool", tool_call_id: text(item.call_id, `${at}.call_id`), content: outputText(item.output, `${at}.output`) });
      return;
    case "reasoning":
      return;
    case "item_reference": {
      // An item of an earlier answer given with `store` on (src/responses/item-store.ts): as if sent again.
      const id = text(item.id, `${at}.id`);
      const found = stored?.(id);
      // Reasoning is left out of a chat request anyway: one no longer kept is no loss.
      if (found === undefined && id.startsWith("rs_")) return;
      if (found === undefined) throw invalidRequest(`${at}: no item with id '${id.slice(0, 64)}': chatgate keeps the items of answers given with store on in memory for an hour, on this instance only. Send the item itself (with the Vercel AI SDK: providerOptions.openai.store = false).`, `${at}.id`);
      return inputItem(found as unknown as InputItem, at, messages);
    }
  }
  throw invalidRequest(`${at}: input items of type '${String(type)}' are not supported; chatgate takes messages, function_call, function_call_output and reasoning items.`, `${at}.type`);
}

function text(value: unknown, at: string): string {
  if (typeof value !== "string") throw invalidRequest(`Invalid value for '${at}': must be a string.`, at);
  return value;
}

/** A function call's output: a string, or content parts whose text is joined. */
function outputText(output: unknown, at: string): string {
  if (typeof output === "string") return output;
  if (!Array.isArray(output)) throw invalidRequest(`Invalid value for '${at}': must be a string or an array of content parts.`, at);
  return (output as Loose[]).flatMap((p) => (typeof p?.text === "string" ? [p.text] : [])).join("\n");
}

function message(item: InputItem, at: string, messages: ChatCompletionMessageParam[]): void {
  const role = item.role;
  const content = item.content;
  if (typeof content !== "string" && !Array.isArray(content)) throw invalidRequest(`Invalid value for '${at}.content': must be a string or an array of content parts.`, `${at}.content`);
  switch (role) {
    case "system":
    case "developer":
      // `system` for both: OpenAI's chat takes it for every model, and not every compatible server knows `developer`.
      messages.push({ role: "system", content: joined(parts(content, `${at}.content`)) });
      return;
    case "assistant":
      messages.push({ role: "assistant", content: joined(parts(content, `${at}.content`)) });
      return;
    case "user": {
      const list = parts(content, `${at}.content`);
      // Text only: one string, for servers that take no content parts.
      messages.push({ role: "user", content: list.every((p) => p.type === "text") ? joined(list) : list });
      return;
    }
  }
  throw invalidRequest(`Invalid value for '${at}.role': must be one of user, assistant, system, developer.`, `${at}.role`);
}

const joined = (list: ChatCompletionContentPart[]): string => list.map((p) => (p.type === "text" ? p.text : "")).join("\n\n");

function parts(content: string | unknown[], at: string): ChatCompletionContentPart[] {
  if (typeof content === "string") return [{ type: "text", text: content }];
  return content.map((p, i) => contentPart(p as Loose, `${at}[${i}]`));
}

function contentPart(part: Loose, at: string): ChatCompletionContentPart {
  switch (part?.type) {
    case "input_text":
    case "output_text":
      return { type: "text", text: text(part.text, `${at}.text`) };
    case "refusal":
      return { type: "text", text: text(part.refusal, `${at}.refusal`) };
    case "input_image": {
      if (typeof part.image_url === "string") {
        const detail = part.detail === "low" || part.detail === "high" || part.detail === "auto" ? { detail: part.detail as "low" | "high" | "auto" } : {};
        return { type: "image_url", image_url: { url: part.image_url, ...detail } };
      }
      if (typeof part.file_id === "string") return { type: "file", file: { file_id: part.file_id } };
      throw invalidRequest(`Invalid value for '${at}': an input_image needs an image_url or a file_id.`, at);
    }
    case "input_file":
      return filePart(part, at);
  }
  throw invalidRequest(`Invalid value for '${at}.type': content parts of type '${String(part?.type)}' are not supported.`, `${at}.type`);
}

/** A file as chat's file part (data or a stored file's id); a file by URL, which chat cannot fetch, as a line naming it. */
function filePart(part: Loose, at: string): ChatCompletionContentPart {
  if (typeof part.file_data === "string") return { type: "file", file: { file_data: part.file_data, ...(typeof part.filename === "string" ? { filename: part.filename } : {}) } };
  if (typeof part.file_id === "string") return { type: "file", file: { file_id: part.file_id } };
  if (typeof part.file_url === "string") return { type: "text", text: `File: ${part.file_url}` };
  throw invalidRequest(`Invalid value for '${at}': an input_file needs file_data, a file_id or a file_url.`, at);
}

/** A function call joins the assistant message before it (chat puts a turn's calls on its message), or starts one. */
function functionCall(item: InputItem, at: string, messages: ChatCompletionMessageParam[]): void {
  const call = { id: text(item.call_id, `${at}.call_id`), type: "function" as const, function: { name: text(item.name, `${at}.name`), arguments: text(item.arguments, `${at}.arguments`) } };
  const last = messages.at(-1);
  if (last?.role === "assistant") {
    const turn = last as ChatCompletionAssistantMessageParam;
    (turn.tool_calls ??= []).push(call);
    if (turn.content === "") turn.content = null;
    return;
  }
  messages.push({ role: "assistant", content: null, tool_calls: [call] });
}

function responseFormat(body: ResponsesRequest, out: Loose): void {
  const format = body.text?.format;
  if (format === undefined || format.type === "text") return;
  if (format.type === "json_object") {
    out.response_format = { type: "json_object" };
    return;
  }
  if (format.name === undefined || format.schema === undefined) throw invalidRequest("text.format: a json_schema format needs a name and a schema.", "text.format");
  const schema: Loose = { name: format.name, schema: format.schema };
  if (format.description !== undefined) schema.description = format.description;
  if (typeof format.strict === "boolean") schema.strict = format.strict;
  out.response_format = { type: "json_schema", json_schema: schema };
}

function tools(body: ResponsesRequest, out: Loose): void {
  const functions: ChatCompletionFunctionTool[] = (body.tools ?? []).map((tool, i) => {
    if (tool.type !== "function") throw invalidRequest(`tools[${i}]: tools of type '${tool.type}' are not supported: chatgate offers function tools only (built-in tools run on OpenAI's servers).`, `tools[${i}].type`);
    if (tool.name === undefined) throw invalidRequest(`Missing required parameter: 'tools[${i}].name'.`, `tools[${i}].name`);
    const fn: ChatCompletionFunctionTool["function"] = { name: tool.name, parameters: tool.parameters ?? { type: "object", properties: {} } };
    if (typeof tool.description === "string") fn.description = tool.description;
    if (typeof tool.strict === "boolean") fn.strict = tool.strict;
    return { type: "function", function: fn };
  });
  const choice = body.tool_choice;
  if (choice !== undefined && typeof choice !== "string" && choice.type !== "function") {
    throw invalidRequest(`tool_choice: type '${choice.type}' is not supported; use auto, none, required or a function.`, "tool_choice");
  }
  if (functions.length === 0) return;
  out.tools = functions;
  if (typeof body.parallel_tool_calls === "boolean") out.parallel_tool_calls = body.parallel_tool_calls;
  if (choice === undefined) return;
  if (typeof choice === "string") out.tool_choice = choice satisfies ChatCompletionToolChoiceOption;
  else if (!choice.name) throw invalidRequest("Missing required parameter: 'tool_choice.name'.", "tool_choice.name");
  else out.tool_choice = { type: "function", function: { name: choice.name } } satisfies ChatCompletionToolChoiceOption;
}

/** The chat request's fields as the Responses request names them: what a 400 raised after translation names. */
const RESPONSES_FIELD: ReadonlyArray<[RegExp, string]> = [
  [/^messages(\b|\[|\.)/, "input"],
  [/^response_format\b/, "text.format"],
  [/^max_completion_tokens$/, "max_output_tokens"],
  [/^reasoning_effort$/, "reasoning.effort"],
];

/** `param` of an error about the translated chat request, named as the client's Responses request names it. */
export function responsesParam(param: string): string {
  for (const [chat, field] of RESPONSES_FIELD) if (chat.test(param)) return field;
  return param;
}

/** The message of such an error with each field it quotes (in backticks) named as the Responses request names it. */
export const responsesMessage = (message: string): string => message.replace(/`([^`]+)`/g, (_, name: string) => `\`${responsesParam(name)}\``);
