import type { ChatCompletionTool, ChatCompletionToolChoiceOption } from "openai/resources/chat/completions";
import { invalidRequest } from "../../errors.ts";
import type { Refuse } from "./errors.ts";
import type { Tool, ToolChoice } from "./wire.ts";

/**
 * OpenAI function tools as Anthropic tools: `parameters` is the `input_schema` (an empty object
 * schema when absent, since Anthropic requires one). Custom (free-form text) tools have no
 * Anthropic equivalent: refused, or under drop_params left out (named `tools[k]`), so the list
 * may come back empty. `strict: true` is Anthropic's strict tool use, part of its structured
 * outputs, which need no beta header (as `output_config.format` for `response_format`); `false`, the
 * default on both sides, is not sent.
 */
export function toTools(tools: readonly ChatCompletionTool[] | undefined, refuse: Refuse): Tool[] | undefined {
  if (tools === undefined || tools.length === 0) return undefined;
  const out: Tool[] = [];
  tools.forEach((tool, k) => {
    if (tool.type !== "function") return refuse(`tools[${k}].type`, `tools of type '${tool.type}'`, `tools[${k}]`);
    const fn = tool.function;
    if (typeof fn?.name !== "string") throw invalidRequest("A function tool needs a name.", `tools[${k}].function.name`);
    const one: Tool = { name: fn.name, input_schema: { type: "object", properties: {}, ...fn.parameters } };
    if (typeof fn.description === "string") one.description = fn.description;
    if (fn.strict === true) one.strict = true;
    out.push(one);
  });
  return out;
}

/**
 * `auto`, `none`, `required` (→ `any`) or a named function (→ `tool`); `parallel_tool_calls:
 * false` is `disable_parallel_tool_use` on the choice, so with no choice given it rides on `auto`.
 */
export function toToolChoice(
  choice: ChatCompletionToolChoiceOption | undefined,
  parallel: boolean | undefined,
  refuse: Refuse,
): ToolChoice | undefined {
  const single = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === undefined) return parallel === false ? { type: "auto", ...single } : undefined;
  if (choice === "none") return { type: "none" };
  if (choice === "auto") return { type: "auto", ...single };
  if (choice === "required") return { type: "any", ...single };
  if (typeof choice === "object" && choice !== null && choice.type === "function" && typeof choice.function?.name === "string") {
    return { type: "tool", name: choice.function.name, ...single };
  }
  // `allowed_tools` and custom-tool choices: refused, or dropped (the default, auto, applies).
  const kind = typeof choice === "object" && choice !== null ? choice.type : String(choice);
  refuse("tool_choice", `tool_choice '${kind}'`);
  return parallel === false ? { type: "auto", ...single } : undefined;
}
