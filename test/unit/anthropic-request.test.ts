import { describe, expect, test } from "bun:test";
import { GatewayError } from "../../src/errors.ts";
import { toMessagesRequest, type TranslateOptions } from "../../src/providers/anthropic/request.ts";
import type { ChatRequest } from "../../src/schema.ts";

const OPTIONS: TranslateOptions = { provider: "claude", model: "claude-sonnet-4-5", stream: false, maxTokensDefault: 4096, dropParams: false };

const translate = (body: Record<string, unknown>, options: Partial<TranslateOptions> = {}) =>
  toMessagesRequest({ model: "smart", messages: [{ role: "user", content: "Hi" }], ...body } as ChatRequest, { ...OPTIONS, ...options });

function refusal(body: Record<string, unknown>): GatewayError {
  try {
    translate(body);
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error("expected a GatewayError");
}

const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

describe("OpenAI request → Anthropic Messages request", () => {
  test("a plain request gets the upstream model, the default max_tokens and the user's text", () => {
    expect(translate({}).request).toEqual({ model: "claude-sonnet-4-5", max_tokens: 4096, messages: [{ role: "user", content: "Hi" }] });
  });

  test("system and developer messages, wherever they stand, become the top-level system as text blocks", () => {
    const { request } = translate({
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Hi" },
        { role: "developer", content: [{ type: "text", text: "Answer in French." }] },
      ],
    });
    expect(request.system).toEqual([{ type: "text", text: "Be brief." }, { type: "text", text: "Answer in French." }]);
    expect(request.messages).toEqual([{ role: "user", content: "Hi" }]);
  });

  test("a single system message is sent as a string", () => {
    expect(translate({ messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }] }).request.system).toBe("Be brief.");
  });

  test("consecutive messages of one role are merged into one turn, in order", () => {
    const { request } = translate({
      messages: [
        { role: "user", content: "First" },
        { role: "user", content: [{ type: "text", text: "Second" }] },
        { role: "assistant", content: "Reply" },
        { role: "assistant", content: "More" },
        { role: "user", content: "Third" },
      ],
    });
    expect(request.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "First" }, { type: "text", text: "Second" }] },
      { role: "assistant", content: [{ type: "text", text: "Reply" }, { type: "text", text: "More" }] },
      { role: "user", content: "Third" },
    ]);
  });

  test("a data URL image becomes a base64 source with its media type; an https URL a url source", () => {
    const { request } = translate({
      messages: [{
        role: "user",
        content: [
          { type: "text", text: "Compare" },
          { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}`, detail: "high" } },
          { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
        ],
      }],
    });
    expect(request.messages[0]!.content).toEqual([
      { type: "text", text: "Compare" },
      { type: "image", source: { type: "base64", media_type: "image/png", data: PNG } },
      { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
    ]);
  });

  test("an image type Anthropic does not read, or a non-base64 data URL, is a 400 naming the part", () => {
    const bmp = refusal({ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "data:image/bmp;base64,AAAA" } }] }] });
    expect(bmp.status).toBe(400);
    expect(bmp.param).toBe("messages[0].content[0].image_url.url");
    expect(refusal({ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "data:image/png,rawbytes" } }] }] }).param).toBe("messages[0].content[0].image_url.url");
    expect(refusal({ messages: [{ role: "user", content: [{ type: "input_audio", input_audio: { data: "", format: "wav" } }] }] }).param).toBe("messages[0].content[0].type");
  });

  test("several tool calls in one assistant turn keep their ids, and their results become one user turn", () => {
    const { request } = translate({
      messages: [
        { role: "user", content: "Weather in SF and Paris?" },
        {
          role: "assistant",
          content: "",
          tool_calls: [
            { id: "toolu_1", type: "function", function: { name: "get_weather", arguments: "{\"location\":\"SF\"}" } },
            { id: "toolu_2", type: "function", function: { name: "get_weather", arguments: "{\"location\":\"Paris\"}" } },
          ],
        },
        { role: "tool", tool_call_id: "toolu_1", content: "18°C" },
        { role: "tool", tool_call_id: "toolu_2", content: [{ type: "text", text: "21°C" }] },
        { role: "user", content: "Thanks" },
      ],
    });
    expect(request.messages).toEqual([
      { role: "user", content: "Weather in SF and Paris?" },
      {
        role: "assistant",
        content: [
          { type: "tool_use", id: "toolu_1", name: "get_weather", input: { location: "SF" } },
          { type: "tool_use", id: "toolu_2", name: "get_weather", input: { location: "Paris" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_1", content: "18°C" },
          { type: "tool_result", tool_use_id: "toolu_2", content: [{ type: "text", text: "21°C" }] },
          { type: "text", text: "Thanks" },
        ],
      },
    ]);
  });

  test("tool call arguments that are not a JSON object are a 400 naming the argument", () => {
    const call = (args: string) => ({
      messages: [{ role: "user", content: "x" }, { role: "assistant", content: null, tool_calls: [{ id: "t", type: "function", function: { name: "f", arguments: args } }] }],
    });
    expect(refusal(call("{not json")).param).toBe("messages[1].tool_calls[0].function.arguments");
    expect(refusal(call("[1,2]")).param).toBe("messages[1].tool_calls[0].function.arguments");
    expect(translate(call("")).request.messages[1]!.content).toEqual([{ type: "tool_use", id: "t", name: "f", input: {} }]);
  });

  test("a tool message without tool_call_id is a 400 naming it", () => {
    expect(refusal({ messages: [{ role: "tool", content: "x" }] }).param).toBe("messages[0].tool_call_id");
  });

  test("tools become input_schema tools; tool_choice auto, none, required and a named function map across", () => {
    const tools = [{ type: "function", function: { name: "get_weather", description: "Weather", parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] } } }];
    const { request } = translate({ tools, tool_choice: "required" });
    expect(request.tools).toEqual([{ name: "get_weather", description: "Weather", input_schema: { type: "object", properties: { location: { type: "string" } }, required: ["location"] } }]);
    expect(request.tool_choice).toEqual({ type: "any" });
    expect(translate({ tools, tool_choice: "auto" }).request.tool_choice).toEqual({ type: "auto" });
    expect(translate({ tools, tool_choice: "none" }).request.tool_choice).toEqual({ type: "none" });
    expect(translate({ tools, tool_choice: { type: "function", function: { name: "get_weather" } } }).request.tool_choice).toEqual({ type: "tool", name: "get_weather" });
    expect(translate({ tools }).request.tool_choice).toBeUndefined();
  });

  test("parallel_tool_calls: false disables parallel tool use, with or without a tool_choice", () => {
    const tools = [{ type: "function", function: { name: "f" } }];
    expect(translate({ tools, parallel_tool_calls: false }).request.tool_choice).toEqual({ type: "auto", disable_parallel_tool_use: true });
    expect(translate({ tools, parallel_tool_calls: false, tool_choice: "required" }).request.tool_choice).toEqual({ type: "any", disable_parallel_tool_use: true });
    expect(translate({ tools: [{ type: "function", function: { name: "f" } }] }).request.tools![0]!.input_schema).toEqual({ type: "object", properties: {} });
  });

  test("stop, max tokens, temperature, top_p and user map to their Anthropic fields", () => {
    const { request } = translate({ stop: "END", max_completion_tokens: 300, max_tokens: 999, temperature: 0.2, top_p: 0.9, user: "user-42" });
    expect(request).toMatchObject({ stop_sequences: ["END"], max_tokens: 300, temperature: 0.2, top_p: 0.9, metadata: { user_id: "user-42" } });
    expect(translate({ stop: ["a", "b"], max_tokens: 50 }).request).toMatchObject({ stop_sequences: ["a", "b"], max_tokens: 50 });
  });

  test("reasoning_effort becomes a thinking budget under the client's token limit, which is never raised", () => {
    // No limit given: the default (4096) stays the answer's room, the budget on top, for every effort.
    expect(translate({ reasoning_effort: "low" }).request).toMatchObject({ thinking: { type: "enabled", budget_tokens: 2048 }, max_tokens: 6144 });
    expect(translate({ reasoning_effort: "minimal" }).request).toMatchObject({ thinking: { type: "enabled", budget_tokens: 1024 }, max_tokens: 5120 });
    expect(translate({ reasoning_effort: "high", max_tokens: 20000 }).request).toMatchObject({ thinking: { type: "enabled", budget_tokens: 16384 }, max_tokens: 20000 });
    expect(translate({ reasoning_effort: "high", max_completion_tokens: 5000 }).request).toMatchObject({ thinking: { type: "enabled", budget_tokens: 4999 }, max_tokens: 5000 });
    expect(refusal({ reasoning_effort: "high", max_tokens: 1000 }).param).toBe("max_tokens");
    expect(translate({ reasoning_effort: "none" }).request.thinking).toBeUndefined();
    expect(refusal({ reasoning_effort: "extreme" }).param).toBe("reasoning_effort");
  });

  test("the turn answering tool results goes without thinking: the client has no signed thinking block to send back", () => {
    const messages = [
      { role: "user", content: "Weather?" },
      { role: "assistant", content: null, tool_calls: [{ id: "t1", type: "function", function: { name: "w", arguments: "{}" } }] },
      { role: "tool", tool_call_id: "t1", content: "sunny" },
    ];
    expect(translate({ reasoning_effort: "medium", messages }).request.thinking).toBeUndefined();
    expect(translate({ reasoning_effort: "medium", messages: [...messages, { role: "assistant", content: "Sunny." }, { role: "user", content: "And tomorrow?" }] }).request.thinking).toEqual({ type: "enabled", budget_tokens: 8192 });
  });

  test("response_format json_schema maps to structured outputs; text is a no-op", () => {
    const schema = { type: "object", properties: { answer: { type: "string" } } };
    expect(translate({ response_format: { type: "json_schema", json_schema: { name: "a", schema } } }).request.output_config).toEqual({ format: { type: "json_schema", schema } });
    expect(translate({ response_format: { type: "text" } }).request.output_config).toBeUndefined();
  });

  test.each([
    ["n", { n: 2 }],
    ["logprobs", { logprobs: true }],
    ["top_logprobs", { top_logprobs: 3 }],
    ["presence_penalty", { presence_penalty: 0.5 }],
    ["frequency_penalty", { frequency_penalty: -1 }],
    ["logit_bias", { logit_bias: { "50256": -100 } }],
    ["seed", { seed: 7 }],
    ["response_format", { response_format: { type: "json_object" } }],
    ["temperature", { temperature: 1.5 }],
    ["tool_choice", { tools: [{ type: "function", function: { name: "f" } }], tool_choice: { type: "allowed_tools", allowed_tools: { mode: "auto", tools: [] } } }],
  ])("%s that Anthropic cannot honour is a 400 naming it and the provider", (param, body) => {
    const error = refusal(body);
    expect(error).toMatchObject({ status: 400, type: "invalid_request_error", code: "unsupported_parameter", param });
    expect(error.message).toContain("'claude'");
  });

  test("default values of unsupported parameters are honoured by doing nothing", () => {
    expect(translate({ n: 1, logprobs: false, presence_penalty: 0, frequency_penalty: 0, logit_bias: {}, modalities: ["text"] }).dropped).toEqual([]);
  });

  test("with drop_params the parameters are dropped and listed instead", () => {
    const { request, dropped } = translate({ n: 3, seed: 1, temperature: 1.7, logprobs: true }, { dropParams: true });
    expect(dropped).toEqual(["n", "logprobs", "seed", "temperature"]);
    expect(request.temperature).toBeUndefined();
  });

  test("fields that never change the answer are left out without a word, and nothing unknown is forwarded", () => {
    const { request, dropped } = translate({ store: true, metadata: { a: "b" }, service_tier: "auto", stream_options: { include_usage: true }, x_vendor: 1 });
    expect(dropped).toEqual([]);
    expect(Object.keys(request).sort()).toEqual(["max_tokens", "messages", "model"]);
  });

  test("a streamed request asks Anthropic to stream", () => {
    expect(translate({}, { stream: true }).request.stream).toBe(true);
  });
});
