// Regression (outside audit): a 400 for a value nested in a union-typed field named the field, not
// the value. TypeBox reports a failing union once, at the union, so `content: [{"type": "text",
// "text": 5}]` was a 400 naming `messages[0].content` ("must be a string or an array of content
// parts") where OpenAI names `messages[0].content[0].text`. The same mapper answers every route.
import { describe, expect, test } from "bun:test";
import { post, startGateway } from "./support/gateway.ts";
import { fakeOpenAI } from "./support/upstream.ts";
import { expectOpenAIError } from "./errors-shape.ts";

const user = (content: unknown) => [{ role: "user", content }];
const chat = (extra: Record<string, unknown>) => ({ model: "mock", messages: user("hi"), ...extra });

// [what is wrong, the param OpenAI names, what the message says, the body]
const nested: Array<[string, string, string, Record<string, unknown>]> = [
  ["a text part whose text is a number", "messages[0].content[0].text", "must be a string", chat({ messages: user([{ type: "text", text: 5 }]) })],
  ["a content part without a type", "messages[0].content[0].type", "Missing required parameter", chat({ messages: user([{ text: "x" }]) })],
  ["a content part that is a string", "messages[0].content[0]", "must be an object", chat({ messages: user(["hi"]) })],
  ["stream_options.include_usage as a string", "stream_options.include_usage", "must be a boolean", chat({ stream: true, stream_options: { include_usage: "yes" } })],
  ["prediction.type as a number", "prediction.type", "must be a string", chat({ prediction: { type: 1 } })],
  ["a number among the stop sequences", "stop[1]", "must be a string", chat({ stop: ["a", 5] })],
  ["a metadata value that is a number", "metadata.team", "must be a string", chat({ metadata: { team: 1 } })],
];

// A union the value's shape does not narrow to one member keeps the union's own text, which names the choices.
const whole: Array<[string, string, string, Record<string, unknown>]> = [
  ["numeric content", "messages[0].content", "must be a string or an array of content parts", chat({ messages: user(5) })],
  ["stop as a number", "stop", "must be a string or an array of strings", chat({ stop: 5 })],
  ["stream_options as a string", "stream_options", "include_usage", chat({ stream_options: "yes" })],
];

describe("a 400 names the value at fault inside a union-typed field", () => {
  test.each(nested)("%s gets a 400 naming %s, not its parent", async (_, param, says, body) => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const error = await expectOpenAIError(await post(`${gw.baseURL}/chat/completions`, body), 400, { type: "invalid_request_error", param });
    expect(error.message).toContain(`'${param}'`);
    expect(error.message).toContain(says);
  });

  test.each(whole)("%s still names %s with the union's own words", async (_, param, says, body) => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const error = await expectOpenAIError(await post(`${gw.baseURL}/chat/completions`, body), 400, { type: "invalid_request_error", param });
    expect(error.message).toContain(says);
  });

  test("the deeper param is the same for a real provider's target, and nothing goes upstream", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: "sk-upstream" });
    const body = { model: "gpt-4o", messages: user([{ type: "text", text: 5 }]) };
    await expectOpenAIError(await post(`${gw.baseURL}/chat/completions`, body), 400, { param: "messages[0].content[0].text" });
    expect(up.calls).toHaveLength(0);
  });

  test("/v1/messages names the nested field in Anthropic's notation", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const response = await post(`${gw.url}/v1/messages`, { model: "mock", max_tokens: 8, messages: user("hi"), system: [{ text: "be brief" }] });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error", message: "system.0.type: Field required." } });
  });

  test("/v1/responses names the nested field", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const response = await post(`${gw.baseURL}/responses`, { model: "mock", input: "hi", reasoning: { effort: 5 } });
    await expectOpenAIError(response, 400, { type: "invalid_request_error", param: "reasoning.effort" });
  });
});
