// POST /v1/chat/completions (JSON) in front of an OpenAI-compatible upstream, and POST /chat, the
// simple endpoint. The official openai SDK is the client; the fake upstream records what arrived.
import { describe, expect, test } from "bun:test";
import { readSse } from "./support/sse.ts";
import type { ChatCompletion, ChatCompletionCreateParamsNonStreaming } from "openai/resources/chat/completions";
import { post, startGateway } from "./support/gateway.ts";
import { fakeOpenAI } from "./support/upstream.ts";
import { chatCompletion } from "./support/openai-wire.ts";
import { specErrors } from "./chat-spec-check.ts";

const UPSTREAM_KEY = "sk-upstream-secret";
const upstreamEnv = (url: string, extra: Record<string, string> = {}) => ({ OPENAI_BASE_URL: url, OPENAI_API_KEY: UPSTREAM_KEY, ...extra });

/** A request using every field OpenAI documents for chat completions, plus one it does not. */
function everyField(): ChatCompletionCreateParamsNonStreaming & Record<string, unknown> {
  return {
    model: "gpt-4o",
    messages: [
      { role: "developer", content: "Answer in French." },
      { role: "system", content: [{ type: "text", text: "Be brief." }] },
      {
        role: "user",
        name: "ada",
        content: [
          { type: "text", text: "What is in this image?" },
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=", detail: "low" } },
        ],
      },
      { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "look", arguments: '{"at":"image"}' } }] },
      { role: "tool", tool_call_id: "call_1", content: "a cat" },
    ],
    tools: [
      {
        type: "function",
        function: { name: "look", description: "Looks", parameters: { type: "object", properties: { at: { type: "string" } }, required: ["at"] }, strict: true },
      },
    ],
    tool_choice: { type: "function", function: { name: "look" } },
    parallel_tool_calls: false,
    response_format: { type: "json_schema", json_schema: { name: "answer", schema: { type: "object" }, strict: true } },
    n: 2,
    stop: ["\n\n", "END"],
    seed: 42,
    logprobs: true,
    top_logprobs: 3,
    user: "user-1234",
    stream_options: null,
    max_completion_tokens: 256,
    temperature: 0.2,
    top_p: 0.9,
    presence_penalty: -1.5,
    frequency_penalty: 1.5,
    logit_bias: { "50256": -100 },
    metadata: { ticket: "T-1" },
    store: false,
    x_chatgate_test_unknown: { nested: [1, "two", { three: true }], empty: {} },
  };
}

describe("POST /v1/chat/completions with an OpenAI-compatible upstream", () => {
  test("the answer is the upstream's chat.completion unchanged, byte for byte, unknown fields included", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway(upstreamEnv(up.url));
    const sent = { ...chatCompletion("gpt-4o", "Bonjour"), x_upstream_extra: { kept: true } };
    const bytes = JSON.stringify(sent, null, 1);
    up.reply({ kind: "raw", status: 200, body: bytes }, { kind: "raw", status: 200, body: bytes });

    const viaSdk = await gw.client().chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "Salut" }] });
    const { _request_id: _, ...fields } = viaSdk as ChatCompletion & { _request_id?: unknown };
    expect(fields).toEqual(sent);

    const raw = await post(`${gw.baseURL}/chat/completions`, { model: "gpt-4o", messages: [{ role: "user", content: "Salut" }] });
    expect(raw.status).toBe(200);
    expect(raw.headers.get("content-type")).toStartWith("application/json");
    expect(await raw.text()).toBe(bytes);
  });

  test("a completion from the fake upstream conforms to OpenAI's CreateChatCompletionResponse schema", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway(upstreamEnv(up.url));
    const response = await post(`${gw.baseURL}/chat/completions`, { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
    const body: unknown = await response.json();
    expect(await specErrors(body, "CreateChatCompletionResponse")).toEqual([]);
    expect(body).toMatchObject({ object: "chat.completion", model: "gpt-4o-mini", choices: [{ message: { content: "Hello from upstream" } }] });
  });

  test("every request field reaches the upstream intact, tools, images and unknown fields included", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway(upstreamEnv(up.url));
    const sent = everyField();
    await gw.client().chat.completions.create(sent);
    const call = await up.nextCall();
    expect(call).toMatchObject({ method: "POST", path: "/v1/chat/completions" });
    expect(call.body).toEqual(sent);
    expect(JSON.parse(call.rawBody)).toEqual(sent);
    expect(up.calls).toHaveLength(1);
  });

  test("numbers reach the upstream as written, even where JavaScript would round them", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway(upstreamEnv(up.url));
    // 2^53 + 1 has no exact double: a gateway that parsed and re-serialised would send ...992.
    const text = '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"seed":9007199254740993,"x_big":12345678901234567890123}';
    expect((await post(`${gw.baseURL}/chat/completions`, text)).status).toBe(200);
    const { rawBody } = await up.nextCall();
    expect(rawBody).toContain('"seed":9007199254740993');
    expect(rawBody).toContain('"x_big":12345678901234567890123');
  });

  test("the upstream gets Authorization: Bearer OPENAI_API_KEY and never the client's key", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway(upstreamEnv(up.url, { CHATGATE_API_KEYS: "sk-client-key-1,sk-client-key-2" }));
    await gw.client("sk-client-key-2").chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
    await using open = startGateway(upstreamEnv(up.url));
    await open.client("sk-client-key-open").chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });

    for (const call of [await up.nextCall(), await up.nextCall()]) {
      expect(call.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
      const everything = JSON.stringify(call.headers) + call.rawBody;
      expect(everything).not.toContain("sk-client-key");
    }
  });
});

describe("POST /chat", () => {
  test("a non-streamed answer is {content, tokensUsed} with tokensUsed the upstream's usage.total_tokens", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway(upstreamEnv(up.url));
    up.reply({ kind: "completion", content: "Paris is the capital.", usage: { prompt_tokens: 11, completion_tokens: 31, total_tokens: 42 } });
    const response = await post(`${gw.url}/chat`, { message: "Capital of France?" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toStartWith("application/json");
    expect(await response.json()).toEqual({ content: "Paris is the capital.", tokensUsed: 42 });
  });

  test("without a model it asks the upstream for CHATGATE_DEFAULT_MODEL, with the message as the user's", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway(upstreamEnv(up.url, { CHATGATE_DEFAULT_MODEL: "acme-default-model" }));
    expect((await post(`${gw.url}/chat`, { message: "hello there" })).status).toBe(200);
    const call = await up.nextCall();
    expect(call.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(call.body).toMatchObject({ model: "acme-default-model", messages: [{ role: "user", content: "hello there" }] });
  });

  test("with a model it asks the upstream for that model instead of the default", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway(upstreamEnv(up.url, { CHATGATE_DEFAULT_MODEL: "acme-default-model" }));
    expect((await post(`${gw.url}/chat`, { message: "hi", model: "gpt-4o" })).status).toBe(200);
    expect((await up.nextCall()).body).toMatchObject({ model: "gpt-4o" });
  });

  test("a streamed answer is one data: {content} event per delta, then [DONE]", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway(upstreamEnv(up.url));
    up.reply({ kind: "stream", words: ["Bon", "jour", " à", " tous"] });
    const response = await post(`${gw.url}/chat`, { message: "greet", stream: true });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toStartWith("text/event-stream");
    const data = (await readSse(response)).data;
    expect(data.at(-1)).toBe("[DONE]");
    expect(data.slice(0, -1).map((d) => JSON.parse(d))).toEqual([{ content: "Bon" }, { content: "jour" }, { content: " à" }, { content: " tous" }]);
    expect((await up.nextCall()).body).toMatchObject({ stream: true, messages: [{ role: "user", content: "greet" }] });
  });

  test("a stream cut by the upstream ends with an error event and no [DONE]", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway(upstreamEnv(up.url));
    up.reply({ kind: "stream", words: ["one", " two", " three"], cutAfterEvents: 3 });
    const data = (await readSse(await post(`${gw.url}/chat`, { message: "count", stream: true }))).data;
    expect(data).not.toContain("[DONE]");
    expect(data.slice(0, 2).map((d) => JSON.parse(d))).toEqual([{ content: "one" }, { content: " two" }]);
    expect(JSON.parse(data.at(-1)!)).toMatchObject({ error: { type: "server_error", message: expect.any(String) } });
  });

  const badMessages: Array<[string, Record<string, unknown>]> = [
    ["a body without message", { model: "gpt-4o" }],
    ["a number as message", { message: 42 }],
    ["null as message", { message: null }],
    ["an array as message", { message: ["hi"] }],
    ["an object as message", { message: { content: "hi" } }],
  ];
  test.each(badMessages)("%s gets a 400 naming param message, and nothing goes upstream", async (_, body) => {
    await using up = fakeOpenAI();
    await using gw = startGateway(upstreamEnv(up.url));
    const response = await post(`${gw.url}/chat`, body);
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toStartWith("application/json");
    expect(await response.json()).toEqual({ error: { message: expect.stringContaining("message"), type: "invalid_request_error", param: "message", code: null } });
    expect(up.calls).toHaveLength(0);
  });
});
