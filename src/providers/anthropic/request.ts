import type { ChatCompletionCreateParamsBase } from "openai/resources/chat/completions";
import { invalidRequest } from "../../errors.ts";
import { unsupported, type Refuse } from "./errors.ts";
import type { ChatRequest } from "../../schema.ts";
import { toConversation } from "./messages.ts";
import { toToolChoice, toTools } from "./tools.ts";
import type { MessagesRequest } from "./wire.ts";

export interface TranslateOptions {
  /** Provider id, named in errors. */
  provider: string;
  /** The upstream model name to send. */
  model: string;
  stream: boolean;
  /** Anthropic requires `max_tokens`: used when the client sets neither max_tokens nor max_completion_tokens. */
  maxTokensDefault: number;
  /** Drop a parameter Anthropic cannot honour instead of refusing the request with a 400. */
  dropParams: boolean;
}

export interface Translated {
  request: MessagesRequest;
  /** Parameters dropped under `dropParams`, for `x-chatgate-dropped-params`. */
  dropped: string[];
}

/**
 * `reasoning_effort` as an extended-thinking budget. Anthropic's minimum is 1024; `none` turns
 * thinking off, as it does on OpenAI.
 */
export const THINKING_BUDGET: Readonly<Record<string, number>> = {
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 16384,
  xhigh: 32768,
  max: 32768,
};

type Params = ChatCompletionCreateParamsBase & { top_k?: unknown };

/**
 * OpenAI parameters Anthropic has no equivalent for, and when a value would change the answer
 * (a default value — n: 1, logprobs: false, a zero penalty — is honoured by doing nothing).
 * Left alone on purpose, since they never change the answer: `store`, `metadata`, `service_tier`,
 * `prediction`, `prompt_cache_key`/`_retention`, `stream_options.include_obfuscation`, messages'
 * `name`. Unknown fields are not forwarded either: Anthropic rejects unknown
 * fields, and only `top_k` (Anthropic's own) is passed on.
 */
const UNSUPPORTED: ReadonlyArray<readonly [keyof Params, (value: unknown) => boolean, string]> = [
  ["n", (v) => v !== 1, "more than one choice (`n` > 1)"],
  ["logprobs", (v) => v !== false, "log probabilities (`logprobs`)"],
  ["top_logprobs", (v) => v !== 0, "log probabilities (`top_logprobs`)"],
  ["presence_penalty", (v) => v !== 0, "`presence_penalty`"],
  ["frequency_penalty", (v) => v !== 0, "`frequency_penalty`"],
  ["logit_bias", (v) => typeof v !== "object" || Object.keys(v as object).length > 0, "`logit_bias`"],
  ["seed", () => true, "`seed` (no deterministic sampling)"],
  ["audio", () => true, "audio output (`audio`)"],
  ["modalities", (v) => !Array.isArray(v) || v.some((m) => m !== "text"), "output modalities other than text"],
  ["functions", () => true, "legacy `functions` (use `tools`)"],
  ["function_call", () => true, "legacy `function_call` (use `tool_choice`)"],
  ["verbosity", () => true, "`verbosity`"],
  ["web_search_options", () => true, "`web_search_options`"],
];

/**
 * The client's OpenAI request as a Messages request. The schema validated the fields it knows;
 * this reads the rest defensively. A parameter Anthropic cannot honour is a 400
 * (`unsupported_parameter`) naming it and the provider, or, with `dropParams`, dropped and listed.
 */
export function toMessagesRequest(body: ChatRequest, options: TranslateOptions): Translated {
  // One cast at the edge: the request is OpenAI's; the schema checked the part it knows.
  const params = body as unknown as Params;
  const dropped: string[] = [];
  const refuse: Refuse = (param, what, remove = param) => {
    if (!options.dropParams) throw unsupported(options.provider, param, what, remove);
    dropped.push(remove);
  };
  for (const [param, unhonoured, what] of UNSUPPORTED) {
    const value = params[param];
    if (value !== undefined && value !== null && unhonoured(value)) refuse(param, what);
  }
  const { system, messages } = toConversation(params.messages, options.provider);
  const request: MessagesRequest = { model: options.model, max_tokens: maxTokens(params, options), messages };
  if (system !== undefined) request.system = system;
  sampling(params, request, refuse);
  const stops = params.stop == null ? [] : typeof params.stop === "string" ? [params.stop] : params.stop;
  if (stops.length > 0) request.stop_sequences = stops;
  const user = params.user ?? params.safety_identifier;
  if (typeof user === "string" && user !== "") request.metadata = { user_id: user };
  toolUse(params, request, refuse, dropped);
  thinking(params, request, options.provider);
  responseFormat(params, request, refuse);
  if (options.stream) request.stream = true;
  return { request, dropped };
}

/**
 * Tools and the choice among them. When drop_params left no tool, the choice goes too (named when
 * the client sent one), as when the client sends no tools: a choice among none cannot be honoured
 * (`required`, a named tool) and means nothing otherwise.
 */
function toolUse(params: Params, request: MessagesRequest, refuse: Refuse, dropped: string[]): void {
  const tools = toTools(params.tools, refuse);
  if (tools === undefined) return;
  if (tools.length === 0) {
    if (params.tool_choice != null) dropped.push("tool_choice");
    return;
  }
  request.tools = tools;
  const choice = toToolChoice(params.tool_choice, params.parallel_tool_calls, refuse);
  if (choice !== undefined) request.tool_choice = choice;
}

function maxTokens(params: Params, options: TranslateOptions): number {
  return params.max_completion_tokens ?? params.max_tokens ?? options.maxTokensDefault;
}

/** Anthropic's temperature runs 0–1 where OpenAI's runs 0–2: above 1 cannot be honoured. */
function sampling(params: Params, request: MessagesRequest, refuse: Refuse): void {
  const { temperature, top_p: topP, top_k: topK } = params;
  if (typeof temperature === "number") {
    if (temperature > 1) refuse("temperature", "a temperature above 1 (its range is 0 to 1)");
    else request.temperature = temperature;
  }
  if (typeof topP === "number") request.top_p = topP;
  if (typeof topK === "number") request.top_k = topK;
}

/** Anthropic's smallest thinking budget; `budget_tokens` must also stay below `max_tokens`. */
const MIN_THINKING_BUDGET = 1024;

/**
 * `reasoning_effort` → extended thinking. Thinking counts toward `max_tokens` on Anthropic, which
 * must exceed the budget. A limit the client gave bounds reasoning and visible output together
 * (OpenAI's `max_completion_tokens`, and `max_tokens` on reasoning models), so it is sent as it is
 * and the budget is cut to fit under it, as an OpenAI reasoning model may spend the whole limit
 * thinking; a limit with no room for Anthropic's minimum budget is a 400 naming it. With no limit
 * given, the budget is added on top of the default, so the visible answer keeps its room.
 *
 * With thinking on, Anthropic wants the last assistant turn that called tools to start with its
 * signed thinking block, which an OpenAI client never has (it sees no signature): the turn that
 * answers tool results is therefore sent without thinking rather than refused.
 */
function thinking(params: Params, request: MessagesRequest, provider: string): void {
  const effort = params.reasoning_effort;
  if (effort === undefined || effort === null || effort === "none") return;
  const budget = THINKING_BUDGET[effort];
  if (budget === undefined) {
    throw invalidRequest(`reasoning_effort must be one of none, ${Object.keys(THINKING_BUDGET).join(", ")}.`, "reasoning_effort");
  }
  if (lastAssistantCalledTools(request)) return;
  const param = params.max_completion_tokens != null ? "max_completion_tokens" : params.max_tokens != null ? "max_tokens" : undefined;
  if (param === undefined) {
    // The provider's default is the answer's room; the thinking gets its own on top, whatever the effort.
    request.thinking = { type: "enabled", budget_tokens: budget };
    request.max_tokens += budget;
    return;
  }
  if (request.max_tokens <= MIN_THINKING_BUDGET) {
    throw invalidRequest(
      `\`${param}\` is ${request.max_tokens}, which leaves no room for \`reasoning_effort\` '${effort}' on provider '${provider}' (Anthropic): ` +
        `the limit counts reasoning and output together, and Anthropic's thinking budget is at least ${MIN_THINKING_BUDGET} tokens and must be below it. ` +
        `Set \`${param}\` above ${MIN_THINKING_BUDGET}, or \`reasoning_effort\` to 'none'.`,
      param,
    );
  }
  request.thinking = { type: "enabled", budget_tokens: Math.min(budget, request.max_tokens - 1) };
}

function lastAssistantCalledTools(request: MessagesRequest): boolean {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const turn = request.messages[i]!;
    if (turn.role !== "assistant") continue;
    return Array.isArray(turn.content) && turn.content.some((block) => block.type === "tool_use");
  }
  return false;
}

/** `json_schema` maps to structured outputs; `json_object` (JSON without a schema) has no equivalent. */
function responseFormat(params: Params, request: MessagesRequest, refuse: Refuse): void {
  const format = params.response_format;
  if (format === undefined || format === null || format.type === "text") return;
  if (format.type === "json_schema" && format.json_schema && typeof format.json_schema.schema === "object") {
    request.output_config = { format: { type: "json_schema", schema: format.json_schema.schema } };
    return;
  }
  refuse("response_format", `response_format '${format.type}' without a JSON schema`);
}
