// POST /v1/responses (OpenAI's Responses API) in front of chat completions targets: the openai
// SDK's responses.create and the Vercel AI SDK's default OpenAI model as clients, the request
// translated on the way in (asserted on what the fake upstream received), the answer translated on
// the way out (JSON, the exact event sequence, and what each SDK makes of them).
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, jsonSchema, stepCountIs, streamText, tool } from "ai";
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import type { ResponseInputItem, ResponseStreamEvent } from "openai/resources/responses/responses";
import { scrape } from "./metrics-scrape.ts";
import { GPT, TWO_CALLS, chunkStream, completionWith, eventsOf } from "./support/messages.ts";
import { openaiAt } from "./support/config-file.ts";
import { post, type TestGateway } from "./support/gateway.ts";
import { everyRecord } from "./support/records.ts";
import { startRouted } from "./support/routed.ts";
import { fakeOpenAI, type FakeOpenAI } from "./support/upstream.ts";

const SSE = "text/event-stream";
const ON_MOCK = "on-mock";
const ON_OPENAI = "on-openai";

interface Targets extends AsyncDisposable {
  oa: FakeOpenAI;
  gw: TestGateway;
  client: OpenAI;
}

/** A gateway with a route to the mock and one to a fake OpenAI-compatible upstream. */
function startTargets(env: Record<string, string> = {}, apiKey = "unused"): Targets {
  const oa = fakeOpenAI();
  const gw = startRouted(
    {
      providers: [openaiAt("oa", oa, { models: [GPT] }), { id: "m", type: "mock" }],
      models: { [ON_MOCK]: { targets: [{ provider: "m", model: "mock" }] }, [ON_OPENAI]: { targets: [{ provider: "oa", model: GPT }] } },
    },
    {},
    env,
  );
  return { oa, gw, client: gw.client(apiKey), [Symbol.asyncDispose]: () => gw.stop().then(() => oa.stop()) };
}

/** The Vercel AI SDK's default OpenAI model (the Responses API) pointed at the gateway. */
const aiModel = (gw: TestGateway, model: string) => createOpenAI({ baseURL: gw.baseURL, apiKey: "unused" })(model);

const WEATHER = {
  type: "function" as const, name: "weather", description: "The weather in a city", strict: false,
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

describe("the openai SDK's responses.create", () => {
  test("a JSON request on the mock is a completed Response with a message, output_text and usage", async () => {
    await using t = startTargets();
    const response = await t.client.responses.create({ model: ON_MOCK, input: "hello there friend" });
    expect(response).toMatchObject({
      object: "response", status: "completed", model: "mock", error: null, incomplete_details: null, instructions: null,
      output: [{ type: "message", role: "assistant", status: "completed", content: [{ type: "output_text", text: "hello there friend", annotations: [] }] }],
      usage: { input_tokens: 3, output_tokens: 3, total_tokens: 6, input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } },
    });
    expect(response.id).toStartWith("resp_");
    expect(response.output[0]!.id).toStartWith("msg_");
    expect(response.output_text).toBe("hello there friend");
  });

  test("max_output_tokens reached is status incomplete with reason max_output_tokens, JSON and stream", async () => {
    await using t = startTargets();
    const response = await t.client.responses.create({ model: ON_MOCK, input: "hello there friend", max_output_tokens: 2 });
    expect([response.status, response.incomplete_details, response.output_text, response.max_output_tokens]).toEqual(["incomplete", { reason: "max_output_tokens" }, "hello there ", 2]);
    const events: ResponseStreamEvent[] = [];
    for await (const event of await t.client.responses.create({ model: ON_MOCK, input: "hello there friend", max_output_tokens: 2, stream: true })) events.push(event);
    const last = events.at(-1)!;
    expect(last.type).toBe("response.incomplete");
    expect((last as { response: OpenAI.Responses.Response }).response.incomplete_details).toEqual({ reason: "max_output_tokens" });
  });

  test("a stream is the Responses API's event sequence with sequence numbers and no [DONE]; the SDK reassembles its text", async () => {
    await using t = startTargets();
    const res = await post(`${t.gw.baseURL}/responses`, { model: ON_MOCK, input: "hello there friend", stream: true });
    expect(res.headers.get("content-type")).toStartWith(SSE);
    const text = await res.text();
    expect(text).not.toContain("[DONE]");
    const events = eventsOf(text);
    for (const [name, data] of events) expect(data.type).toBe(name);
    expect(events.map(([, data]) => data.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events.map(([name]) => name)).toEqual([
      "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
      "response.output_text.delta", "response.output_text.delta", "response.output_text.delta",
      "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed",
    ]);
    const item = events[2]![1].item as { id: string };
    expect(events[4]![1]).toEqual({ type: "response.output_text.delta", item_id: item.id, output_index: 0, content_index: 0, delta: "hello ", logprobs: [], sequence_number: 4 });

    const deltas: string[] = [];
    let final: OpenAI.Responses.Response | undefined;
    for await (const event of await t.client.responses.create({ model: ON_MOCK, input: "hello there friend", stream: true })) {
      if (event.type === "response.output_text.delta") deltas.push(event.delta);
      if (event.type === "response.completed") final = event.response;
    }
    expect(deltas).toEqual(["hello ", "there ", "friend"]);
    expect(final).toMatchObject({ status: "completed", output: [{ type: "message", content: [{ type: "output_text", text: "hello there friend" }] }], usage: { input_tokens: 3, output_tokens: 3 } });
  });
});

describe("on an OpenAI-compatible target", () => {
  test("instructions, input items, tools, tool_choice, sampling, text.format and reasoning.effort are translated to chat completions", async () => {
    await using t = startTargets();
    t.oa.reply({ kind: "raw", status: 200, body: completionWith(GPT, { content: "ok" }, "stop") });
    await t.client.responses.create({
      model: ON_OPENAI, instructions: "Be brief.", tools: [WEATHER], tool_choice: { type: "function", name: "weather" }, parallel_tool_calls: false,
      max_output_tokens: 300, temperature: 0.5, top_p: 0.9, user: "user-1", safety_identifier: "sid-1", store: true, metadata: { team: "a" },
      text: { format: { type: "json_schema", name: "answer", schema: { type: "object" }, strict: true } }, reasoning: { effort: "low" },
      input: [
        { role: "developer", content: "Use tools." },
        { role: "user", content: [{ type: "input_text", text: "look" }, { type: "input_image", image_url: "https://x/a.png", detail: "low" }] },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "Calling.", annotations: [] }], id: "msg_1", status: "completed" },
        { type: "function_call", call_id: "call_a", name: "weather", arguments: '{"city":"Oslo"}' },
        { type: "function_call", call_id: "call_b", name: "weather", arguments: '{"city":"Rome"}' },
        { type: "reasoning", id: "rs_1", summary: [] },
        { type: "function_call_output", call_id: "call_a", output: "cold" },
        { type: "function_call_output", call_id: "call_b", output: "warm" },
        { role: "user", content: "and?" },
      ] as ResponseInputItem[],
    });
    expect(t.oa.calls[0]!.body).toEqual({
      model: GPT,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "system", content: "Use tools." },
        { role: "user", content: [{ type: "text", text: "look" }, { type: "image_url", image_url: { url: "https://x/a.png", detail: "low" } }] },
        {
          role: "assistant", content: "Calling.",
          tool_calls: [
            { id: "call_a", type: "function", function: { name: "weather", arguments: '{"city":"Oslo"}' } },
            { id: "call_b", type: "function", function: { name: "weather", arguments: '{"city":"Rome"}' } },
          ],
        },
        { role: "tool", tool_call_id: "call_a", content: "cold" },
        { role: "tool", tool_call_id: "call_b", content: "warm" },
        { role: "user", content: "and?" },
      ],
      max_completion_tokens: 300, temperature: 0.5, top_p: 0.9, user: "user-1", safety_identifier: "sid-1", reasoning_effort: "low",
      response_format: { type: "json_schema", json_schema: { name: "answer", schema: { type: "object" }, strict: true } },
      tools: [{ type: "function", function: { name: "weather", description: WEATHER.description, parameters: WEATHER.parameters, strict: false } }],
      parallel_tool_calls: false,
      tool_choice: { type: "function", function: { name: "weather" } },
    });
  });

  test("two tool calls in one JSON answer are two function_call items; sent back with their outputs they reach the upstream as tool calls and tool messages", async () => {
    await using t = startTargets();
    const calls = [
      { id: "call_1", type: "function" as const, function: { name: "weather", arguments: '{"city":"Oslo"}' } },
      { id: "call_2", type: "function" as const, function: { name: "weather", arguments: '{"city":"Rome"}' } },
    ];
    const usage = { prompt_tokens: 50, completion_tokens: 9, total_tokens: 59, prompt_tokens_details: { cached_tokens: 20 }, completion_tokens_details: { reasoning_tokens: 4 } };
    t.oa.reply({ kind: "raw", status: 200, body: completionWith(GPT, { content: null, tool_calls: calls, reasoning_content: "Two cities." }, "tool_calls", usage) });
    const first = await t.client.responses.create({ model: ON_OPENAI, input: "weather in Oslo and Rome?", tools: [WEATHER] });
    expect(first.output.map((item) => item.type)).toEqual(["reasoning", "function_call", "function_call"]);
    expect(first.output.slice(1)).toMatchObject([
      { type: "function_call", call_id: "call_1", name: "weather", arguments: '{"city":"Oslo"}', status: "completed" },
      { type: "function_call", call_id: "call_2", name: "weather", arguments: '{"city":"Rome"}', status: "completed" },
    ]);
    expect(first.output[1]!.id).toStartWith("fc_");
    expect(first.usage).toEqual({ input_tokens: 50, input_tokens_details: { cached_tokens: 20, cache_write_tokens: 0 }, output_tokens: 9, output_tokens_details: { reasoning_tokens: 4 }, total_tokens: 59 });
    expect([first.status, first.model]).toEqual(["completed", GPT]);

    t.oa.reply({ kind: "raw", status: 200, body: completionWith(GPT, { content: "Cold and warm." }, "stop") });
    const outputs: ResponseInputItem[] = [{ type: "function_call_output", call_id: "call_1", output: "cold" }, { type: "function_call_output", call_id: "call_2", output: "warm" }];
    const second = await t.client.responses.create({ model: ON_OPENAI, tools: [WEATHER], input: [{ role: "user", content: "weather in Oslo and Rome?" }, ...(first.output as ResponseInputItem[]), ...outputs] });
    expect(second.output_text).toBe("Cold and warm.");
    expect((t.oa.calls[1]!.body as { messages: unknown[] }).messages).toEqual([
      { role: "user", content: "weather in Oslo and Rome?" },
      { role: "assistant", content: null, tool_calls: calls },
      { role: "tool", tool_call_id: "call_1", content: "cold" },
      { role: "tool", tool_call_id: "call_2", content: "warm" },
    ]);
  });

  test("a stream with two tool calls is a function_call item each, added with empty arguments, fed by argument deltas, with usage at the end", async () => {
    await using t = startTargets();
    t.oa.reply({ kind: "raw", status: 200, contentType: SSE, body: chunkStream(GPT, TWO_CALLS, "tool_calls") });
    const events: ResponseStreamEvent[] = [];
    for await (const event of await t.client.responses.create({ model: ON_OPENAI, input: "go", tools: [WEATHER], stream: true })) events.push(event);
    expect((t.oa.calls[0]!.body as { stream_options: unknown }).stream_options).toEqual({ include_usage: true });
    const summary = events.slice(2).map((e) => [e.type, "delta" in e ? e.delta : "item" in e ? `${e.item.type}:${(e.item as { arguments?: string }).arguments}` : ""]);
    expect(summary).toEqual([
      ["response.output_item.added", "function_call:"],
      ["response.function_call_arguments.delta", '{"file_pa'],
      ["response.function_call_arguments.delta", 'th":"/etc/hosts"}'],
      ["response.output_item.added", "function_call:"],
      ["response.function_call_arguments.delta", '{"command":"ls -la",'],
      ["response.function_call_arguments.delta", '"timeout":5}'],
      ["response.function_call_arguments.done", ""],
      ["response.output_item.done", 'function_call:{"file_path":"/etc/hosts"}'],
      ["response.function_call_arguments.done", ""],
      ["response.output_item.done", 'function_call:{"command":"ls -la","timeout":5}'],
      ["response.completed", ""],
    ]);
    const final = (events.at(-1) as { response: OpenAI.Responses.Response }).response;
    expect(final.output).toMatchObject([
      { type: "function_call", call_id: "call_read_1", name: "Read", arguments: '{"file_path":"/etc/hosts"}', status: "completed" },
      { type: "function_call", call_id: "call_bash_2", name: "Bash", arguments: '{"command":"ls -la","timeout":5}', status: "completed" },
    ]);
    expect(final.usage).toMatchObject({ input_tokens: 40, output_tokens: 12, total_tokens: 52 });
  });
});

describe("the Vercel AI SDK's default OpenAI model (Responses API)", () => {
  test("generateText and streamText on the mock", async () => {
    await using t = startTargets();
    const result = await generateText({ model: aiModel(t.gw, ON_MOCK), prompt: "hello there friend" });
    expect([result.text, result.finishReason, result.usage.inputTokens, result.usage.outputTokens]).toEqual(["hello there friend", "stop", 3, 3]);
    const stream = streamText({ model: aiModel(t.gw, ON_MOCK), prompt: "hello there friend" });
    const pieces: string[] = [];
    for await (const piece of stream.textStream) pieces.push(piece);
    expect(pieces.join("")).toBe("hello there friend");
    expect((await stream.usage).outputTokens).toBe(3);
  });

  test("a tool call step against an OpenAI-compatible upstream: the tool runs, its result goes back as a tool message, the answer is the text", async () => {
    await using t = startTargets();
    const calls = [{ id: "call_w", type: "function" as const, function: { name: "weather", arguments: '{"city":"Oslo"}' } }];
    t.oa.reply(
      { kind: "raw", status: 200, body: completionWith(GPT, { content: null, tool_calls: calls }, "tool_calls") },
      { kind: "raw", status: 200, body: completionWith(GPT, { content: "It is cold in Oslo." }, "stop") },
    );
    const weather = tool({ description: "The weather in a city", inputSchema: jsonSchema<{ city: string }>(WEATHER.parameters), execute: async ({ city }) => `${city}: cold` });
    const result = await generateText({ model: aiModel(t.gw, ON_OPENAI), system: "Be brief.", prompt: "Weather in Oslo?", tools: { weather }, stopWhen: stepCountIs(3) });
    expect([result.text, result.steps.length]).toEqual(["It is cold in Oslo.", 2]);
    expect(result.steps[0]!.toolCalls.map((c) => [c.toolCallId, c.toolName, c.input])).toEqual([["call_w", "weather", { city: "Oslo" }]]);
    const first = t.oa.calls[0]!.body as { messages: unknown[]; tools: unknown[] };
    expect(first.messages).toEqual([{ role: "system", content: "Be brief." }, { role: "user", content: "Weather in Oslo?" }]);
    expect(first.tools).toEqual([{ type: "function", function: { name: "weather", description: "The weather in a city", parameters: expect.objectContaining({ properties: { city: { type: "string" } } }), strict: expect.any(Boolean) } }]);
    expect((t.oa.calls[1]!.body as { messages: unknown[] }).messages.slice(2)).toEqual([
      { role: "assistant", content: null, tool_calls: calls },
      { role: "tool", tool_call_id: "call_w", content: "Oslo: cold" },
    ]);
  });

  test("text before a tool call comes back as an item_reference (the AI SDK's default, store on): the stored item goes upstream whole; with store off the text itself comes", async () => {
    await using t = startTargets();
    const calls = [{ id: "call_w", type: "function" as const, function: { name: "weather", arguments: '{"city":"Oslo"}' } }];
    const textThenCall = { kind: "raw" as const, status: 200, body: completionWith(GPT, { content: "Let me check.", tool_calls: calls }, "tool_calls") };
    const answer = { kind: "raw" as const, status: 200, body: completionWith(GPT, { content: "Cold." }, "stop") };
    const weather = tool({ inputSchema: jsonSchema<{ city: string }>(WEATHER.parameters), execute: async ({ city }) => `${city}: cold` });
    const run = (store?: boolean, stream = false) => {
      const options = { model: aiModel(t.gw, ON_OPENAI), prompt: "Weather in Oslo?", tools: { weather }, stopWhen: stepCountIs(3), ...(store === undefined ? {} : { providerOptions: { openai: { store } } }) };
      return stream ? streamText(options).text : generateText(options).then((r) => r.text);
    };
    const secondStep = () => (t.oa.calls.at(-1)!.body as { messages: unknown[] }).messages.slice(1, 2);
    for (const store of [undefined, false]) {
      t.oa.reply(textThenCall, answer);
      expect(await run(store)).toBe("Cold.");
      expect(secondStep()).toEqual([{ role: "assistant", content: "Let me check.", tool_calls: calls }]);
    }
    // Streamed: the items of a response.completed are stored too.
    t.oa.reply(
      { kind: "raw", status: 200, contentType: SSE, body: chunkStream(GPT, [{ content: "Let me check." }, { tool_calls: [{ index: 0, ...calls[0]! }] }], "tool_calls") },
      { kind: "raw", status: 200, contentType: SSE, body: chunkStream(GPT, [{ content: "Cold." }], "stop") },
    );
    expect(await run(undefined, true)).toBe("Cold.");
    expect(secondStep()).toEqual([{ role: "assistant", content: "Let me check.", tool_calls: calls }]);
    // With reasoning first: the AI SDK refers to the reasoning item too, which a chat request leaves out.
    t.oa.reply({ kind: "raw", status: 200, body: completionWith(GPT, { content: "Let me check.", reasoning_content: "Oslo is cold in winter.", tool_calls: calls } as never, "tool_calls") }, answer);
    expect(await run()).toBe("Cold.");
    expect(secondStep()).toEqual([{ role: "assistant", content: "Let me check.", tool_calls: calls }]);
  });

  test("a 400 about the translated request names the field the client sent (input, not messages), with one record", async () => {
    await using t = startTargets();
    const recorded = everyRecord(t.gw);
    const refusal = { kind: "error" as const, status: 400, error: { message: "Invalid 'messages[0].content': too long.", type: "invalid_request_error", param: "messages[0].content", code: null } };
    t.oa.reply(refusal, refusal);
    for (const stream of [false, true]) {
      const res = await post(`${t.gw.baseURL}/responses`, { model: ON_OPENAI, input: "hi", stream });
      expect([res.status, ((await res.json()) as { error: { param: string } }).error.param]).toEqual([400, "input"]);
    }
    await recorded.count(2);
    expect(recorded.all.map((r) => r.status)).toEqual([400, 400]);
  });

  test("an upstream that reports no usage: response.completed carries the estimate the request's record carries, as the JSON answer does", async () => {
    await using t = startTargets();
    const recorded = everyRecord(t.gw);
    const events = chunkStream(GPT, [{ content: "the answer " }, { content: "is here" }], "stop").split("\n\n").filter((e) => !e.includes('"choices":[]'));
    t.oa.reply({ kind: "raw", status: 200, contentType: SSE, body: events.join("\n\n") });
    const stream = await t.client.responses.create({ model: ON_OPENAI, input: "hello there", stream: true });
    let completed: Extract<ResponseStreamEvent, { type: "response.completed" }> | undefined;
    for await (const event of stream) if (event.type === "response.completed") completed = event;
    await recorded.count(1);
    const record = recorded.all[0]!;
    expect(record.usageEstimated).toBe(true);
    expect([completed!.response.usage!.input_tokens, completed!.response.usage!.output_tokens]).toEqual([record.usage!.prompt_tokens, record.usage!.completion_tokens]);
    expect(completed!.response.usage!.input_tokens).toBeGreaterThan(0);
  });

  test("stream edge cases end as the spec and the SDKs' parsers take them", async () => {
    await using t = startTargets();
    // Read as raw events: the openai SDK raises an `error` event instead of yielding it.
    const eventsOfReply = async (body: string) => {
      t.oa.reply({ kind: "raw", status: 200, contentType: SSE, body });
      const res = await post(`${t.gw.baseURL}/responses`, { model: ON_OPENAI, input: "hi", stream: true });
      return eventsOf(await res.text()).map(([, data]) => data as unknown as ResponseStreamEvent);
    };
    const last = <T extends ResponseStreamEvent["type"]>(events: ResponseStreamEvent[], type: T) => events.findLast((e) => e.type === type) as Extract<ResponseStreamEvent, { type: T }>;
    const chunk = (choice: object) => `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: GPT, choices: [choice] })}\n\n`;
    // Chunks without `index`, as some compatible servers send them: the first choice's.
    const noIndex = await eventsOfReply(chunk({ delta: { content: "No index" }, finish_reason: null }) + chunk({ delta: {}, finish_reason: "stop" }) + "data: [DONE]\n\n");
    expect(last(noIndex, "response.completed").response.output_text ?? last(noIndex, "response.output_text.done").text).toBe("No index");
    // A call with no arguments: `{}`, as the JSON answer gives it.
    const call = await eventsOfReply(chunkStream(GPT, [{ tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "now", arguments: "" } }] }], "tool_calls"));
    expect(last(call, "response.function_call_arguments.done").arguments).toBe("{}");
    // Cut by max_output_tokens: the message is incomplete, as its response is.
    const cut = await eventsOfReply(chunkStream(GPT, [{ content: "Hel" }], "length"));
    expect([last(cut, "response.incomplete").response.status, (last(cut, "response.incomplete").response.output[0] as { status?: string }).status]).toEqual(["incomplete", "incomplete"]);
    // An error event mid-answer with a numeric code (OpenRouter's): a string code, and the text sent so far kept.
    const failed = await eventsOfReply(chunk({ index: 0, delta: { content: "Hel" }, finish_reason: null }) + `data: ${JSON.stringify({ error: { message: "Provider returned error", code: 502 } })}\n\n`);
    expect([last(failed, "error").code, last(failed, "response.failed").response.error?.code]).toEqual(["502", "502"]);
    expect(last(failed, "response.failed").response.output[0]).toMatchObject({ type: "message", status: "incomplete", content: [{ type: "output_text", text: "Hel" }] });
  });

  test("streamText reassembles an OpenAI-compatible upstream's streamed text and usage", async () => {
    await using t = startTargets();
    t.oa.reply({ kind: "raw", status: 200, contentType: SSE, body: chunkStream(GPT, [{ content: "Hi " }, { content: "there." }], "stop") });
    const stream = streamText({ model: aiModel(t.gw, ON_OPENAI), prompt: "hello" });
    expect(await stream.text).toBe("Hi there.");
    expect([(await stream.usage).inputTokens, (await stream.usage).outputTokens, await stream.finishReason]).toEqual([40, 12, "stop"]);
  });
});

describe("errors", () => {
  test("a bad body is a 400 naming the field; built-in tools, previous_response_id and item references are 400s saying why", async () => {
    await using t = startTargets();
    const errorOf = async (body: unknown) => {
      const res = await post(`${t.gw.baseURL}/responses`, body);
      return [res.status, ((await res.json()) as { error: { type: string; param: string } }).error] as const;
    };
    expect(await errorOf({ model: ON_MOCK, input: "hi", temperature: "hot" })).toMatchObject([400, { type: "invalid_request_error", param: "temperature" }]);
    expect(await errorOf({ model: ON_MOCK })).toMatchObject([400, { param: "input" }]);
    expect(await errorOf({ model: ON_MOCK, input: "hi", max_output_tokens: 2_147_483_648 })).toMatchObject([400, { param: "max_output_tokens" }]);
    expect(await errorOf({ model: ON_MOCK, input: "hi", tools: [{ type: "web_search" }] })).toMatchObject([400, { param: "tools[0].type", message: expect.stringContaining("web_search") }]);
    expect(await errorOf({ model: ON_MOCK, input: [{ type: "item_reference", id: "msg_1" }] })).toMatchObject([400, { param: "input[0].id", message: expect.stringContaining("no item with id 'msg_1'") }]);
    expect(await errorOf({ model: ON_MOCK, input: [{ role: "robot", content: "hi" }] })).toMatchObject([400, { param: "input[0].role" }]);
    const stateful = await t.client.responses.create({ model: ON_MOCK, input: "hi", previous_response_id: "resp_123" }).catch((e: unknown) => e);
    expect(stateful).toBeInstanceOf(OpenAI.BadRequestError);
    expect((stateful as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ type: "invalid_request_error", param: "previous_response_id", message: expect.stringContaining("stores no responses") });
    expect(t.oa.calls).toHaveLength(0);
  });

  test("an unknown model is a 404", async () => {
    await using t = startTargets();
    const missing = await t.client.responses.create({ model: "nope", input: "hi" }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
  });

  test("a stream cut after its first content ends with an error event and response.failed, never response.completed; both SDKs raise it", async () => {
    await using t = startTargets();
    t.oa.reply({ kind: "stream", cutAfterEvents: 2 });
    const events = eventsOf(await (await post(`${t.gw.baseURL}/responses`, { model: ON_OPENAI, input: "hi", stream: true })).text());
    expect(events.map(([name]) => name).slice(-3)).toEqual(["response.output_text.delta", "error", "response.failed"]);
    expect(events.at(-2)![1]).toMatchObject({ type: "error", code: "upstream_stream_truncated", message: expect.stringContaining("Provider 'oa'"), error: { code: "upstream_stream_truncated" } });
    expect(events.at(-1)![1]).toMatchObject({ response: { status: "failed", error: { code: "upstream_stream_truncated" } } });
    expect(events.map(([, data]) => data.sequence_number)).toEqual(events.map((_, i) => i));

    t.oa.reply({ kind: "stream", cutAfterEvents: 2 });
    const seen: string[] = [];
    const failure = await (async () => {
      for await (const event of await t.client.responses.create({ model: ON_OPENAI, input: "hi", stream: true })) seen.push(event.type);
    })().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect(seen).not.toContain("response.completed");

    t.oa.reply({ kind: "stream", errorEventAfter: 2 });
    const parts: string[] = [];
    const stream = streamText({ model: aiModel(t.gw, ON_OPENAI), prompt: "hi", onError: () => {} });
    for await (const part of stream.fullStream) parts.push(part.type);
    expect(parts).toContain("error");
    expect(await stream.finishReason).toBe("error");
  });
});

describe("a first-class route", () => {
  test("it takes a client key, is counted in metrics under its own route label and writes one ledger row per request", async () => {
    await using t = startTargets({ CHATGATE_API_KEYS: "sk-client-1" }, "sk-client-1");
    const records = everyRecord(t.gw);
    const denied = await post(`${t.gw.baseURL}/responses`, { model: ON_MOCK, input: "hi" });
    expect(denied.status).toBe(401);
    await t.client.responses.create({ model: ON_MOCK, input: "hello there" });
    for await (const _ of await t.client.responses.create({ model: ON_MOCK, input: "hello there", stream: true }));
    await records.count(3);
    expect(records.all.map((r) => [r.route, r.status])).toEqual([["/v1/responses", 401], ["/v1/responses", 200], ["/v1/responses", 200]]);
    await t.gw.app.stats.idle();
    const m = await scrape(t.gw.url, "sk-client-1");
    expect(m.series("chatgate_requests_total")).toMatchObject({
      [`route=/v1/responses,model=${ON_MOCK},provider=m,status=200`]: 2,
      ["route=/v1/responses,model=none,provider=none,status=401"]: 1,
    });
    t.gw.app.ledger!.ledger.flush();
    const db = new Database(t.gw.app.ledger!.ledger.db.filename, { readonly: true });
    expect(db.query("SELECT route, model, status FROM requests WHERE route = '/v1/responses' ORDER BY id").all()).toEqual([
      { route: "/v1/responses", model: null, status: 401 },
      { route: "/v1/responses", model: ON_MOCK, status: 200 },
      { route: "/v1/responses", model: ON_MOCK, status: 200 },
    ]);
    db.close();
  });

  test("the OpenAPI document lists POST /v1/responses under the OpenAI tag with its request schema", async () => {
    await using t = startTargets();
    const doc = (await (await fetch(`${t.gw.url}/docs/json`)).json()) as { paths: Record<string, Record<string, { tags: string[]; requestBody?: { content: Record<string, { schema: { required?: string[] } }> } }>> };
    const create = doc.paths["/v1/responses"]!.post!;
    expect(create.tags).toEqual(["OpenAI"]);
    expect(create.requestBody!.content["application/json"]!.schema.required).toEqual(["model", "input"]);
  });
});
