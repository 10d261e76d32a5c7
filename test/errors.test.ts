// One error shape everywhere, and what chatgate says about bodies it will not take: malformed,
// not an object, against the schema (with the exact `param`), unknown routes, too large.
import { describe, expect, test } from "bun:test";
import { post, startGateway } from "./support/gateway.ts";
import { fakeOpenAI } from "./support/upstream.ts";
import { chunk, expectOpenAIError, rawHttp } from "./errors-shape.ts";

const messages = [{ role: "user", content: "hi" }];
const valid = (extra: Record<string, unknown> = {}) => ({ model: "gpt-4o", messages, ...extra });

describe("one error shape everywhere", () => {
  test("every kind of error is {error: {message, type, param, code}} as application/json", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ CHATGATE_MOCK: "1", OPENAI_BASE_URL: up.url, OPENAI_API_KEY: "sk-upstream-secret" });
    await using keyed = startGateway({ CHATGATE_MOCK: "1", CHATGATE_API_KEYS: "sk-client" });
    await using limited = startGateway({ CHATGATE_MOCK: "1", CHATGATE_RATE_LIMIT_MAX: "1" });
    await using small = startGateway({ CHATGATE_MOCK: "1", CHATGATE_MAX_BODY_BYTES: "64" });
    await using none = startGateway({});
    const completions = `${gw.baseURL}/chat/completions`;

    await expectOpenAIError(await post(completions, "{not json"), 400, { type: "invalid_request_error", param: null });
    await expectOpenAIError(await post(completions, valid({ temperature: 9 })), 400, { type: "invalid_request_error", param: "temperature" });
    await expectOpenAIError(await post(`${gw.url}/chat`, {}), 400, { param: "message" });
    await expectOpenAIError(await fetch(`${keyed.baseURL}/models`), 401, { type: "invalid_request_error", code: "invalid_api_key", param: null });
    await expectOpenAIError(await fetch(`${gw.url}/v2/everything`), 404, { param: null });
    await expectOpenAIError(await fetch(`${gw.baseURL}/models/no-such-model`), 404, { code: "model_not_found" });
    await expectOpenAIError(await post(`${small.baseURL}/chat/completions`, valid({ pad: "x".repeat(100) })), 413);
    await post(`${limited.url}/chat`, { message: "first" });
    await expectOpenAIError(await post(`${limited.url}/chat`, { message: "second" }), 429, { code: "rate_limit_exceeded" });
    up.reply({ kind: "error", status: 500 });
    await expectOpenAIError(await post(completions, valid()), 502, { type: "server_error" });
    await expectOpenAIError(await post(`${none.baseURL}/chat/completions`, valid()), 503, { code: "no_provider_configured" });
  });
});

describe("bodies that are not a JSON object", () => {
  const notObjects: Array<[string, string]> = [
    ["malformed JSON", '{"model": "gpt-4o", "messages": ['],
    ["a trailing comma", '{"model": "gpt-4o",}'],
    ["an empty body", ""],
    ["whitespace only", "  \n "],
    ["a JSON array", JSON.stringify([valid()])],
    ["a JSON string", JSON.stringify(JSON.stringify(valid()))],
    ["a JSON number", "42"],
    ["JSON null", "null"],
    ["JSON true", "true"],
  ];
  test.each(notObjects)("%s gets a 400 invalid_request_error on both chat endpoints, nothing upstream", async (_, body) => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: "sk-upstream-secret" });
    await expectOpenAIError(await post(`${gw.baseURL}/chat/completions`, body), 400, { type: "invalid_request_error", param: null });
    await expectOpenAIError(await post(`${gw.url}/chat`, body), 400, { type: "invalid_request_error", param: null });
    expect(up.calls).toHaveLength(0);
  });

  test("a compressed body (Content-Encoding gzip, br) is a 415 saying so, in each API's shape; identity is read as usual", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const gzipped = Bun.gzipSync(new TextEncoder().encode(JSON.stringify(valid())));
    const chat = await fetch(`${gw.baseURL}/chat/completions`, { method: "POST", headers: { "content-type": "application/json", "content-encoding": "gzip" }, body: gzipped });
    await expectOpenAIError(chat, 415, { type: "invalid_request_error", code: "unsupported_content_encoding", message: "Request bodies with Content-Encoding 'gzip' are not supported; send the body uncompressed." });
    const messagesRes = await post(`${gw.url}/v1/messages`, { model: "mock", max_tokens: 5, messages }, { "content-encoding": "br" });
    expect([messagesRes.status, ((await messagesRes.json()) as { type: string; error: { type: string } })]).toMatchObject([415, { type: "error", error: { type: "invalid_request_error" } }]);
    expect((await post(`${gw.baseURL}/chat/completions`, valid(), { "content-encoding": "identity" })).status).toBe(200);
  });

  test("a body sent as text/plain or without a content type is still read as JSON", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: "sk-upstream-secret" });
    const completions = `${gw.baseURL}/chat/completions`;
    expect((await post(completions, valid(), { "content-type": "text/plain" })).status).toBe(200);
    expect((await fetch(completions, { method: "POST", body: new Blob([JSON.stringify(valid())]) })).status).toBe(200);
    await expectOpenAIError(await post(completions, "model=gpt-4o", { "content-type": "application/x-www-form-urlencoded" }), 400, { param: null });
  });
});

// [what is wrong, the param OpenAI would name, the body]
const violations: Array<[string, string, Record<string, unknown>]> = [
  ["a missing model", "model", { messages }],
  ["an empty model", "model", valid({ model: "" })],
  ["a numeric model", "model", valid({ model: 4 })],
  ["a null model", "model", valid({ model: null })],
  ["missing messages", "messages", { model: "gpt-4o" }],
  ["messages as an object", "messages", valid({ messages: { role: "user", content: "hi" } })],
  ["messages as a string", "messages", valid({ messages: "hi" })],
  ["empty messages", "messages", valid({ messages: [] })],
  ["a message that is a string", "messages[0]", valid({ messages: ["hi"] })],
  ["a message without a role", "messages[0].role", valid({ messages: [{ content: "hi" }] })],
  ["an unknown role", "messages[0].role", valid({ messages: [{ role: "wizard", content: "hi" }] })],
  ["a numeric role", "messages[0].role", valid({ messages: [{ role: 1, content: "hi" }] })],
  ["a bad role on the second message", "messages[1].role", valid({ messages: [...messages, { role: "robot", content: "x" }] })],
  ["numeric content", "messages[0].content", valid({ messages: [{ role: "user", content: 5 }] })],
  ["object content", "messages[0].content", valid({ messages: [{ role: "user", content: { text: "hi" } }] })],
  ["boolean content", "messages[0].content", valid({ messages: [{ role: "user", content: true }] })],
  ["a content part that is a string", "messages[0].content[0]", valid({ messages: [{ role: "user", content: ["hi"] }] })],
  ["a numeric name", "messages[0].name", valid({ messages: [{ role: "user", content: "hi", name: 5 }] })],
  ["temperature below 0", "temperature", valid({ temperature: -0.1 })],
  ["temperature above 2", "temperature", valid({ temperature: 2.01 })],
  ["temperature as a string", "temperature", valid({ temperature: "1" })],
  ["top_p below 0", "top_p", valid({ top_p: -0.5 })],
  ["top_p above 1", "top_p", valid({ top_p: 1.01 })],
  ["n of 0", "n", valid({ n: 0 })],
  ["a fractional n", "n", valid({ n: 1.5 })],
  ["n as a string", "n", valid({ n: "2" })],
  ["max_tokens of 0", "max_tokens", valid({ max_tokens: 0 })],
  ["negative max_tokens", "max_tokens", valid({ max_tokens: -5 })],
  ["max_tokens as a string", "max_tokens", valid({ max_tokens: "100" })],
  ["max_tokens past a 32-bit integer, as OpenAI refuses it", "max_tokens", valid({ max_tokens: 1e308 })],
  ["max_completion_tokens past a 32-bit integer", "max_completion_tokens", valid({ max_completion_tokens: 2_147_483_648 })],
  ["presence_penalty below -2", "presence_penalty", valid({ presence_penalty: -2.5 })],
  ["presence_penalty above 2", "presence_penalty", valid({ presence_penalty: 2.5 })],
  ["frequency_penalty below -2", "frequency_penalty", valid({ frequency_penalty: -3 })],
  ["frequency_penalty above 2", "frequency_penalty", valid({ frequency_penalty: 2.1 })],
  ["stream as a string", "stream", valid({ stream: "true" })],
  ["stream_options as a string", "stream_options", valid({ stream_options: "include_usage" })],
  ["stop as a number", "stop", valid({ stop: 5 })],
  ["seed as a string", "seed", valid({ seed: "42" })],
  ["logprobs as a string", "logprobs", valid({ logprobs: "true" })],
  ["top_logprobs above 20", "top_logprobs", valid({ top_logprobs: 21 })],
  ["user as a number", "user", valid({ user: 12 })],
  ["tools as a string", "tools", valid({ tools: "search" })],
  ["tool_choice as a number", "tool_choice", valid({ tool_choice: 1 })],
  ["parallel_tool_calls as a string", "parallel_tool_calls", valid({ parallel_tool_calls: "no" })],
  ["response_format as a string", "response_format", valid({ response_format: "json" })],
  ["max_completion_tokens of 0", "max_completion_tokens", valid({ max_completion_tokens: 0 })],
  ["logit_bias as a string", "logit_bias", valid({ logit_bias: "none" })],
  ["store as a number", "store", valid({ store: 12345 })],
  ["metadata as a string", "metadata", valid({ metadata: "str" })],
  ["metadata with a number value", "metadata.team", valid({ metadata: { team: 1 } })],
  ["modalities as a string", "modalities", valid({ modalities: "text" })],
  ["functions as an object", "functions", valid({ functions: {} })],
  ["function_call as a boolean", "function_call", valid({ function_call: true })],
  ["audio as a string", "audio", valid({ audio: "alloy" })],
  ["prediction as an array", "prediction", valid({ prediction: [1] })],
  ["reasoning_effort as a number", "reasoning_effort", valid({ reasoning_effort: 1 })],
  ["service_tier as an object", "service_tier", valid({ service_tier: {} })],
  ["verbosity as a boolean", "verbosity", valid({ verbosity: true })],
  ["web_search_options as a string", "web_search_options", valid({ web_search_options: "on" })],
  ["safety_identifier as a number", "safety_identifier", valid({ safety_identifier: 7 })],
  ["prompt_cache_key as an array", "prompt_cache_key", valid({ prompt_cache_key: ["k"] })],
  ["an empty array of content parts", "messages[0].content", valid({ messages: [{ role: "user", content: [] }] })],
  ["a content part of an unknown type", "messages[0].content[0].type", valid({ messages: [{ role: "user", content: [{ type: "bogus" }] }] })],
  ["a text part without its text", "messages[0].content[1].text", valid({ messages: [{ role: "user", content: [{ type: "text", text: "a" }, { type: "text" }] }] })],
  ["a tool message without tool_call_id", "messages[1].tool_call_id", valid({ messages: [...messages, { role: "tool", content: "42" }] })],
  ["a tool message with a numeric tool_call_id", "messages[1].tool_call_id", valid({ messages: [...messages, { role: "tool", content: "42", tool_call_id: 7 }] })],
  ["an assistant's tool_calls as a string", "messages[1].tool_calls", valid({ messages: [...messages, { role: "assistant", tool_calls: "x" }] })],
];

describe("schema violations", () => {
  test.each(violations)("%s gets a 400 invalid_request_error naming param %s", async (_, param, body) => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: "sk-upstream-secret" });
    const error = await expectOpenAIError(await post(`${gw.baseURL}/chat/completions`, body), 400, { type: "invalid_request_error", param });
    expect(error.message).toContain(param);
    expect(up.calls).toHaveLength(0);
  });

  test("the edges of every range, null optional fields and every role are accepted and forwarded", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: "sk-upstream-secret" });
    const roles = ["system", "developer", "user", "assistant", "tool"].map((role) => ({ role, content: `as ${role}`, ...(role === "tool" ? { tool_call_id: "call_1" } : {}) }));
    const accepted = [
      valid({ temperature: 0, top_p: 0, n: 1, max_tokens: 1, presence_penalty: -2, frequency_penalty: -2 }),
      valid({ temperature: 2, top_p: 1, n: 128, max_tokens: 2_147_483_647, presence_penalty: 2, frequency_penalty: 2 }),
      valid({ temperature: null, top_p: null, n: null, max_tokens: null, stop: null, seed: null, stream: null }),
      valid({ messages: roles }),
      valid({ store: true, metadata: { team: "a" }, modalities: ["text"], reasoning_effort: "low", service_tier: "auto", verbosity: "low", safety_identifier: "u1", prompt_cache_key: "k", prediction: { type: "content", content: "x" }, web_search_options: {}, audio: null }),
      valid({ messages: [{ role: "user", content: [{ type: "text", text: "a" }, { type: "image_url", image_url: { url: "https://example.com/a.png" } }] }] }),
    ];
    for (const body of accepted) {
      const response = await post(`${gw.baseURL}/chat/completions`, body);
      expect({ status: response.status, body }).toEqual({ status: 200, body });
      expect((await up.nextCall()).body).toEqual(body);
    }
  });
});

describe("routes and methods", () => {
  test("an unknown route gets a 404 OpenAI error, whatever the method", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    await expectOpenAIError(await fetch(`${gw.url}/v1/fine_tuning/jobs`, { method: "POST", body: "{}" }), 404, { type: "invalid_request_error" });
    await expectOpenAIError(await fetch(`${gw.url}/nowhere/at/all?x=1`), 404);
    await expectOpenAIError(await fetch(`${gw.url}/v1/chat/completions/extra`, { method: "POST", body: JSON.stringify(valid()) }), 404);
  });

  test("a known route with the wrong method gets a 404 or 405 OpenAI error", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const wrong: Array<[string, string]> = [
      ["GET", "/v1/chat/completions"],
      ["PUT", "/v1/chat/completions"],
      ["GET", "/chat"],
      ["POST", "/v1/models"],
      ["DELETE", "/v1/models/mock"],
      ["POST", "/health"],
      ["PATCH", "/status"],
    ];
    for (const [method, path] of wrong) {
      const response = await fetch(`${gw.url}${path}`, { method, body: method === "GET" ? undefined : "{}" });
      expect({ method, path, status: response.status === 405 ? 404 : response.status }).toEqual({ method, path, status: 404 });
      await expectOpenAIError(response, response.status);
    }
  });
});

describe("bodies over CHATGATE_MAX_BODY_BYTES", () => {
  const LIMIT = 1000;
  const padded = (size: number) => {
    const body = JSON.stringify(valid({ pad: "" }));
    return body.replace('"pad":""', `"pad":"${"x".repeat(size - body.length)}"`);
  };

  test("a body with Content-Length over the limit gets 413 on both chat endpoints; one at the limit passes", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: "sk-upstream-secret", CHATGATE_MAX_BODY_BYTES: String(LIMIT) });
    expect(padded(LIMIT + 1)).toHaveLength(LIMIT + 1);
    await expectOpenAIError(await post(`${gw.baseURL}/chat/completions`, padded(LIMIT + 1)), 413, { code: "request_too_large" });
    await expectOpenAIError(await post(`${gw.url}/chat`, { message: "x".repeat(LIMIT) }), 413, { code: "request_too_large" });
    expect(up.calls).toHaveLength(0);
    expect((await post(`${gw.baseURL}/chat/completions`, padded(LIMIT))).status).toBe(200);
  });

  test("a chunked body without Content-Length gets 413 once it passes the limit", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: "sk-upstream-secret", CHATGATE_MAX_BODY_BYTES: String(LIMIT) });
    const port = Number(new URL(gw.url).port);
    const head = (path: string) =>
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`;
    const body = padded(LIMIT * 3);
    const parts = [body.slice(0, 700), body.slice(700, 1400), body.slice(1400)].map(chunk);
    const answer = await rawHttp(port, head("/v1/chat/completions"), [...parts, "0\r\n\r\n"]);
    expect(answer.status).toBe(413);
    expect(answer.text).toContain('"code":"request_too_large"');
    expect(answer.text.toLowerCase()).toContain("content-type: application/json");

    const fine = await rawHttp(port, head("/v1/chat/completions"), [chunk(padded(LIMIT).slice(0, 500)), chunk(padded(LIMIT).slice(500)), "0\r\n\r\n"]);
    expect(fine.status).toBe(200);
    expect(up.calls).toHaveLength(1);
  });

  test("a streamed request body over the limit gets 413 through fetch as well", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1", CHATGATE_MAX_BODY_BYTES: String(LIMIT) });
    const bytes = new TextEncoder().encode(padded(LIMIT * 4));
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < bytes.length; at += 512) controller.enqueue(bytes.subarray(at, at + 512));
        controller.close();
      },
    });
    const response = await fetch(`${gw.baseURL}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body });
    await expectOpenAIError(response, 413, { code: "request_too_large" });
  });
});
