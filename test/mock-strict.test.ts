// Regression (outside audit): the built-in mock accepted what OpenAI refuses (`stop` of 5, a
// `tool_choice` of "sometimes", a refusal part in a user message, …), so a client tested against
// the mock passed where OpenAI answers 400. The mock now judges like OpenAI, in OpenAI's words;
// a real provider's requests are still forwarded for the upstream to judge.
import { describe, expect, test } from "bun:test";
import { OPENAI_ENUMS } from "../src/providers/mock-strict-schema.ts";
import { post, startGateway } from "./support/gateway.ts";
import { fakeOpenAI } from "./support/upstream.ts";
import { specErrors } from "./chat-spec-check.ts";
import { expectOpenAIError } from "./errors-shape.ts";

const user = [{ role: "user", content: "hi" }];
const chat = (extra: Record<string, unknown>) => ({ model: "mock", messages: user, ...extra });
const metadataOf = (pairs: number) => Object.fromEntries(Array.from({ length: pairs }, (_, i) => [`k${i}`, "v"]));

// [what is wrong, param, code, the body, whether OpenAI's schema says so (else only its descriptions do)]
const refused: Array<[string, string, string, Record<string, unknown>, boolean]> = [
  ["five stop sequences", "stop", "array_above_max_length", chat({ stop: ["a", "b", "c", "d", "e"] }), true],
  ["an empty array of stop sequences", "stop", "empty_array", chat({ stop: [] }), true],
  ["a logit bias above 100", "logit_bias.50256", "integer_above_max_value", chat({ logit_bias: { "50256": 150 } }), false],
  ["a logit bias below -100", "logit_bias.50256", "integer_below_min_value", chat({ logit_bias: { "50256": -101 } }), false],
  ["a fractional logit bias", "logit_bias.50256", "invalid_type", chat({ logit_bias: { "50256": 1.5 } }), true],
  ["a tool_choice of sometimes", "tool_choice", "invalid_value", chat({ tool_choice: "sometimes" }), true],
  ["a tool_choice object of an unknown type", "tool_choice.type", "invalid_value", chat({ tool_choice: { type: "bogus" } }), true],
  ["a response_format of an unknown type", "response_format.type", "invalid_value", chat({ response_format: { type: "xml" } }), true],
  ["a json_schema response_format without json_schema", "response_format.json_schema", "missing_required_parameter", chat({ response_format: { type: "json_schema" } }), true],
  ["an unknown service_tier", "service_tier", "invalid_value", chat({ service_tier: "turbo" }), true],
  ["an unknown reasoning_effort", "reasoning_effort", "invalid_value", chat({ reasoning_effort: "extreme" }), true],
  ["an unknown verbosity", "verbosity", "invalid_value", chat({ verbosity: "loud" }), true],
  ["an unknown modality", "modalities[1]", "invalid_value", chat({ modalities: ["text", "video"] }), true],
  ["audio without a voice", "audio.voice", "missing_required_parameter", chat({ audio: { format: "wav" } }), true],
  ["metadata of 17 pairs", "metadata", "object_above_max_properties", chat({ metadata: metadataOf(17) }), false],
  ["a metadata key of 65 characters", `metadata.${"k".repeat(65)}`, "key_above_max_length", chat({ metadata: { ["k".repeat(65)]: "v" } }), false],
  ["a metadata value of 513 characters", "metadata.k", "string_above_max_length", chat({ metadata: { k: "v".repeat(513) } }), false],
  ["a refusal part in a user message", "messages[0].content[0].type", "invalid_value", chat({ messages: [{ role: "user", content: [{ type: "refusal", refusal: "no" }] }] }), true],
  ["an image part in a system message", "messages[0].content[0].type", "invalid_value", chat({ messages: [{ role: "system", content: [{ type: "image_url", image_url: { url: "https://example.com/a.png" } }] }, ...user] }), true],
  ["an image part in an assistant message", "messages[1].content[0].type", "invalid_value", chat({ messages: [...user, { role: "assistant", content: [{ type: "image_url", image_url: { url: "https://example.com/a.png" } }] }] }), true],
  ["a function message without a name", "messages[1].name", "missing_required_parameter", chat({ messages: [...user, { role: "function", content: "42" }] }), true],
  ["top_logprobs without logprobs", "top_logprobs", "invalid_value", chat({ top_logprobs: 2 }), false],
  ["top_logprobs with logprobs false", "top_logprobs", "invalid_value", chat({ top_logprobs: 2, logprobs: false }), false],
];

describe("the built-in mock refuses what OpenAI refuses", () => {
  test.each(refused)("%s gets a 400 naming %s with code %s", async (_, param, code, body, inSchema) => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const error = await expectOpenAIError(await post(`${gw.baseURL}/chat/completions`, body), 400, { type: "invalid_request_error", param, code });
    expect(error.message).toContain(code === "missing_required_parameter" ? `'${param}'` : "");
    // The spec's own schema refuses it too, where the rule is in the schema and not only in its words.
    if (inSchema) expect(await specErrors(body, "CreateChatCompletionRequest")).not.toEqual([]);
  });

  test("a value outside an enum is told in OpenAI's words, with the supported values", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const error = await expectOpenAIError(await post(`${gw.baseURL}/chat/completions`, chat({ tool_choice: "sometimes" })), 400);
    expect(error.message).toBe("Invalid value: 'sometimes'. Supported values are: 'none', 'auto', and 'required'.");
  });

  test("a streamed request is refused with a status too, before any event", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    await expectOpenAIError(await post(`${gw.baseURL}/chat/completions`, chat({ stream: true, stop: [] })), 400, { param: "stop", code: "empty_array" });
  });

  test("a request that uses every judged field within the spec is answered, and the spec agrees it is valid", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const body = chat({
      messages: [
        { role: "developer", content: [{ type: "text", text: "be brief" }] },
        { role: "system", content: "be kind" },
        { role: "user", content: [{ type: "text", text: "look" }, { type: "image_url", image_url: { url: "https://example.com/a.png", detail: "low" } }, { type: "input_audio", input_audio: { data: "AAAA", format: "wav" } }, { type: "file", file: { file_id: "file-1" } }] },
        { role: "assistant", content: [{ type: "text", text: "ok" }, { type: "refusal", refusal: "no" }], tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }] },
        { role: "tool", content: [{ type: "text", text: "42" }], tool_call_id: "call_1" },
        { role: "function", content: null, name: "f" },
        { role: "user", content: "again" },
      ],
      stop: ["a", "b", "c", "d"], logit_bias: { "50256": -100, "1": 100 }, logprobs: true, top_logprobs: 20,
      tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }], tool_choice: { type: "function", function: { name: "f" } },
      response_format: { type: "json_schema", json_schema: { name: "answer", schema: { type: "object" } } },
      service_tier: "flex", reasoning_effort: "low", verbosity: "high", modalities: ["text", "audio"], audio: { voice: "alloy", format: "mp3" },
      metadata: { ...metadataOf(15), ["k".repeat(64)]: "v".repeat(512) }, prediction: { type: "content", content: "x" }, stream_options: null,
    });
    expect(await specErrors(body, "CreateChatCompletionRequest")).toEqual([]);
    const response = await post(`${gw.baseURL}/chat/completions`, body);
    expect({ status: response.status, body: await response.text() }).toMatchObject({ status: 200 });
  });

  test("the enums it judges by are the spec's", async () => {
    const fixture = (await Bun.file(`${import.meta.dir}/fixtures/openai-spec/schemas.json`).json()) as { components: { schemas: Record<string, any> } };
    const schemas = fixture.components.schemas;
    const request = schemas.CreateChatCompletionRequest.allOf[1].properties;
    const enumOf = (name: string) => schemas[name].anyOf[0].enum;
    expect(OPENAI_ENUMS.service_tier).toEqual(enumOf("ServiceTier"));
    expect(OPENAI_ENUMS.reasoning_effort).toEqual(enumOf("ReasoningEffort"));
    expect(OPENAI_ENUMS.verbosity).toEqual(enumOf("Verbosity"));
    expect(OPENAI_ENUMS.modalities).toEqual(schemas.ResponseModalities.anyOf[0].items.enum);
    expect(OPENAI_ENUMS.tool_choice).toEqual(schemas.ChatCompletionToolChoiceOption.oneOf[0].enum);
    expect(OPENAI_ENUMS.function_call).toEqual(request.function_call.oneOf[0].enum);
    expect(OPENAI_ENUMS.audio_format).toEqual(request.audio.properties.format.enum);
    expect(OPENAI_ENUMS.image_detail).toEqual(schemas.ChatCompletionRequestMessageContentPartImage.properties.image_url.properties.detail.enum);
    expect(OPENAI_ENUMS.input_audio_format).toEqual(schemas.ChatCompletionRequestMessageContentPartAudio.properties.input_audio.properties.format.enum);
    expect(OPENAI_ENUMS.allowed_tools_mode).toEqual(schemas.ChatCompletionAllowedTools.properties.mode.enum);
  });
});

describe("only the mock judges values", () => {
  test("a real provider's target gets the same requests forwarded intact, for the upstream to judge", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: "sk-upstream" });
    for (const [, , , body] of refused.slice(0, 6)) {
      const sent = { ...body, model: "gpt-4o" };
      expect((await post(`${gw.baseURL}/chat/completions`, sent)).status).toBe(200);
      expect((await up.nextCall()).body).toEqual(sent);
    }
  });

  test("a translated request valid on its own route is answered by the mock: Anthropic's five stop sequences, a Responses request", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const messages = await post(`${gw.url}/v1/messages`, {
      model: "mock", max_tokens: 64, system: "be brief", stop_sequences: ["a", "b", "c", "d", "e"], metadata: { user_id: "u1" },
      thinking: { type: "enabled", budget_tokens: 2048 }, tool_choice: { type: "auto" },
      tools: [{ name: "look", input_schema: { type: "object" } }],
      messages: [{ role: "user", content: [{ type: "text", text: "hi" }, { type: "image", source: { type: "url", url: "https://example.com/a.png" } }] }],
    });
    expect({ status: messages.status, body: await messages.text() }).toMatchObject({ status: 200 });
    const responses = await post(`${gw.baseURL}/responses`, {
      model: "mock", instructions: "be brief", input: [{ role: "user", content: [{ type: "input_text", text: "hi" }] }],
      text: { format: { type: "json_schema", name: "a", schema: { type: "object" } } }, reasoning: { effort: "low" }, tool_choice: "auto",
      tools: [{ type: "function", name: "look", parameters: { type: "object" } }], metadata: metadataOf(3),
    });
    expect({ status: responses.status, body: await responses.text() }).toMatchObject({ status: 200 });
  });
});
