// POST /v1/messages to an Anthropic target: the client's bytes go up (the model replaced only when
// the route names another), Anthropic's bytes come back (JSON and SSE, byte for byte), its usage
// still reaches the finish record; a failure before the first content falls back to an OpenAI
// target that answers in Anthropic's format; count_tokens is Anthropic's own.
import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, test } from "bun:test";
import type { FinishRecord } from "../src/gateway/finish.ts";
import { keyOf } from "./support/config-file.ts";
import { post } from "./support/gateway.ts";
import { everyRecord } from "./support/records.ts";
import { CLAUDE, GPT, ON_ANTHROPIC, anthropicClient, eventsOf, startTargets } from "./support/messages.ts";

const SSE = "text/event-stream";

/** A Message as Anthropic sends it, pretty-printed: any re-serialisation on the way would show. */
const MESSAGE_TEXT = JSON.stringify(
  {
    id: "msg_01XFDUDYJgAACzvnptvVoYEL", type: "message", role: "assistant", model: "claude-sonnet-4-5-20250929",
    content: [
      { type: "thinking", thinking: "Two lookups.", signature: "EqQBCgIYAhIM1gbcDa9GJwZA2b3h" },
      { type: "tool_use", id: "toolu_01A", name: "Read", input: { file_path: "/a" } },
      { type: "tool_use", id: "toolu_01B", name: "Bash", input: { command: "ls" } },
    ],
    stop_reason: "tool_use", stop_sequence: null,
    usage: { input_tokens: 2095, cache_creation_input_tokens: 0, cache_read_input_tokens: 100, output_tokens: 503 },
  },
  null,
  2,
);

/** A stream as Anthropic sends it: thinking with its signature, text, two tool_use blocks. */
const STREAM_TEXT = [
  ["message_start", { type: "message_start", message: { id: "msg_01Stream", type: "message", role: "assistant", model: "claude-sonnet-4-5-20250929", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 472, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 2 } } }],
  ["ping", { type: "ping" }],
  ["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "", signature: "" } }],
  ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "Let me check " } }],
  ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "both." } }],
  ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "signature_delta", signature: "EqQBCgIYAhIM" } }],
  ["content_block_stop", { type: "content_block_stop", index: 0 }],
  ["content_block_start", { type: "content_block_start", index: 1, content_block: { type: "text", text: "" } }],
  ["content_block_delta", { type: "content_block_delta", index: 1, delta: { type: "text_delta", text: "Checking ✓ " } }],
  ["content_block_stop", { type: "content_block_stop", index: 1 }],
  ["content_block_start", { type: "content_block_start", index: 2, content_block: { type: "tool_use", id: "toolu_01A", name: "Read", input: {} } }],
  ["content_block_delta", { type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: "" } }],
  ["content_block_delta", { type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: '{"file_path": "/a"}' } }],
  ["content_block_stop", { type: "content_block_stop", index: 2 }],
  ["content_block_start", { type: "content_block_start", index: 3, content_block: { type: "tool_use", id: "toolu_01B", name: "Bash", input: {} } }],
  ["content_block_delta", { type: "content_block_delta", index: 3, delta: { type: "input_json_delta", partial_json: '{"command"' } }],
  ["content_block_delta", { type: "content_block_delta", index: 3, delta: { type: "input_json_delta", partial_json: ': "ls"}' } }],
  ["content_block_stop", { type: "content_block_stop", index: 3 }],
  ["message_delta", { type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { input_tokens: 472, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 89 } }],
  ["message_stop", { type: "message_stop" }],
].map(([name, data]) => `event: ${String(name)}\ndata: ${JSON.stringify(data)}\n\n`).join("");

const HI: Anthropic.MessageParam[] = [{ role: "user", content: "hi" }];

/** The finish records of `gw`'s requests, as they end. */
function records(t: ReturnType<typeof startTargets>): FinishRecord[] {
  const seen: FinishRecord[] = [];
  t.gw.app.gateway.finishes.subscribe((r) => seen.push(r));
  return seen;
}

describe("to an Anthropic target", () => {
  test("a JSON request goes up as the client's bytes and the answer comes back as Anthropic's bytes, its usage in the finish record", async () => {
    await using t = startTargets();
    const done = records(t);
    t.claude.reply({ kind: "raw", status: 200, body: MESSAGE_TEXT });
    // Fields chatgate does not know (a beta's) go up too, with the client's anthropic-beta header.
    const sent = `{"model": "${CLAUDE}",  "max_tokens": 1024, "context_management": {"edits": []}, "messages": [{"role": "user", "content": "hi"}]}`;
    const res = await post(`${t.gw.url}/v1/messages`, sent, { "x-api-key": "client", "anthropic-version": "2023-06-01", "anthropic-beta": "context-management-2025-06-27" });
    expect([res.status, await res.text()]).toEqual([200, MESSAGE_TEXT]);
    const call = t.claude.calls[0]!;
    expect(call.rawBody).toBe(sent);
    expect(call.headers).toMatchObject({ "x-api-key": keyOf("claude"), "anthropic-version": "2023-06-01", "anthropic-beta": "context-management-2025-06-27" });
    expect(res.headers.get("x-chatgate-provider")).toBe("claude");
    expect(done[0]).toMatchObject({ route: "/v1/messages", stream: false, provider: "claude", status: 200, outcome: "ok", usage: { prompt_tokens: 2195, completion_tokens: 503 } });
    const metrics = await (await fetch(`${t.gw.url}/metrics`)).text();
    expect(metrics).toMatch(/chatgate_requests_total\{[^}]*route="\/v1\/messages"[^}]*provider="claude"[^}]*\} 1/);
  });

  test("an aliased model is replaced in the body; the SDK reads thinking and two tool_use blocks as Anthropic sent them", async () => {
    await using t = startTargets();
    t.claude.reply({ kind: "raw", status: 200, body: MESSAGE_TEXT });
    const message = await anthropicClient(t.gw.url).messages.create({ model: ON_ANTHROPIC, max_tokens: 1024, messages: HI, thinking: { type: "enabled", budget_tokens: 1024 } });
    expect(t.claude.calls[0]!.body).toEqual({ model: CLAUDE, max_tokens: 1024, messages: HI, thinking: { type: "enabled", budget_tokens: 1024 } });
    expect(message.content.map((b) => b.type)).toEqual(["thinking", "tool_use", "tool_use"]);
    expect(message.content[1]).toMatchObject({ id: "toolu_01A", input: { file_path: "/a" } });
  });

  test("a stream comes back as Anthropic's bytes, exactly, however the upstream splits them; the SDK's helpers reassemble it", async () => {
    await using t = startTargets();
    const done = records(t);
    t.claude.reply({ kind: "stream", raw: STREAM_TEXT, splitBytes: 7 });
    const res = await post(`${t.gw.url}/v1/messages`, { model: CLAUDE, max_tokens: 1024, messages: HI, stream: true });
    expect(res.headers.get("content-type")).toStartWith(SSE);
    expect(await res.text()).toBe(STREAM_TEXT);
    expect(done[0]).toMatchObject({ route: "/v1/messages", stream: true, outcome: "ok", usage: { prompt_tokens: 472, completion_tokens: 89 } });

    t.claude.reply({ kind: "stream", raw: STREAM_TEXT });
    const text: string[] = [];
    const json: string[] = [];
    const stream = anthropicClient(t.gw.url).messages.stream({ model: ON_ANTHROPIC, max_tokens: 1024, messages: HI });
    stream.on("text", (delta) => text.push(delta)).on("inputJson", (delta) => json.push(delta));
    const final = await stream.finalMessage();
    expect([text, json.join("")]).toEqual([["Checking ✓ "], '{"file_path": "/a"}{"command": "ls"}']);
    expect(final.content.map((b) => (b.type === "tool_use" ? b.input : b.type === "thinking" ? b.signature : b.type))).toEqual(["EqQBCgIYAhIM", "text", { file_path: "/a" }, { command: "ls" }]);
    expect(final.usage).toMatchObject({ input_tokens: 472, output_tokens: 89 });
  });

  test("overloaded after message_start and ping falls back to the OpenAI target, whose answer the client gets as Anthropic events", async () => {
    await using t = startTargets();
    t.claude.reply({ kind: "stream", errorAfterEvents: 2, errorType: "overloaded_error" });
    const res = await post(`${t.gw.url}/v1/messages`, { model: "fallback", max_tokens: 100, messages: HI, stream: true });
    const events = eventsOf(await res.text());
    expect(events.map(([name]) => name)).toEqual([
      "message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop",
    ]);
    expect(events.filter(([name]) => name === "content_block_delta").map(([, d]) => (d.delta as { text: string }).text).join("")).toBe("Hello from upstream");
    expect((events[0]![1].message as { model: string }).model).toBe(GPT);
    expect(res.headers.get("x-chatgate-provider")).toBe("oa");
    expect([t.claude.calls.length, t.oa.calls.length]).toEqual([1, 1]);

    t.claude.reply({ kind: "error", type: "overloaded_error" });
    const message = await anthropicClient(t.gw.url).messages.create({ model: "fallback", max_tokens: 100, messages: HI });
    expect([message.model, message.content]).toEqual([GPT, [{ type: "text", text: "Hello from upstream" } as Anthropic.ContentBlock]]);
  });

  test("Anthropic's error event after the first content reaches the client as Anthropic sent it, with no message_stop", async () => {
    await using t = startTargets();
    t.claude.reply({ kind: "stream", errorAfterEvents: 4, errorType: "overloaded_error", content: [{ type: "text", text: "one two three" }] });
    const events = eventsOf(await (await post(`${t.gw.url}/v1/messages`, { model: CLAUDE, max_tokens: 100, messages: HI, stream: true })).text());
    expect(events.map(([name]) => name)).toEqual(["message_start", "ping", "content_block_start", "content_block_delta", "error"]);
    expect(events.at(-1)![1]).toEqual({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } });
  });

  test("a stream Anthropic cuts after its first content ends with an error event, never message_stop", async () => {
    await using t = startTargets();
    t.claude.reply({ kind: "stream", cutAfterEvents: 4, content: [{ type: "text", text: "one two three" }] });
    const events = eventsOf(await (await post(`${t.gw.url}/v1/messages`, { model: CLAUDE, max_tokens: 100, messages: HI, stream: true })).text());
    expect(events.map(([name]) => name)).toEqual(["message_start", "ping", "content_block_start", "content_block_delta", "error"]);
    expect(events.at(-1)![1]).toMatchObject({ type: "error", error: { type: "api_error", message: expect.stringContaining("Provider 'claude' stream") } });
  });

  test("Anthropic's refusals keep Anthropic's error types and statuses: 400 with its message, 529 overloaded_error with Retry-After, 504 timeout_error", async () => {
    await using t = startTargets();
    const done = records(t);
    const overloaded = { kind: "error", type: "overloaded_error", headers: { "retry-after": "7" } } as const;
    t.claude.reply({ kind: "error", type: "invalid_request_error", message: "messages.0: bad" }, overloaded, overloaded, overloaded, overloaded, { kind: "error", type: "timeout_error" });
    const bad = await post(`${t.gw.url}/v1/messages`, { model: CLAUDE, max_tokens: 100, messages: HI });
    expect([bad.status, await bad.json()]).toEqual([400, { type: "error", error: { type: "invalid_request_error", message: "messages.0: bad" }, request_id: bad.headers.get("x-request-id") }]);
    const busy = await post(`${t.gw.url}/v1/messages`, { model: CLAUDE, max_tokens: 100, messages: HI });
    expect([busy.status, busy.headers.get("retry-after"), ((await busy.json()) as { error: { type: string } }).error.type]).toEqual([529, "7", "overloaded_error"]);
    // A stream refused before its first event: the same status, in JSON.
    const busyStream = await post(`${t.gw.url}/v1/messages`, { model: CLAUDE, max_tokens: 100, messages: HI, stream: true });
    expect([busyStream.status, busyStream.headers.get("retry-after"), ((await busyStream.json()) as { error: { type: string } }).error.type]).toEqual([529, "7", "overloaded_error"]);
    // The SDK sees Anthropic's 529, as from Anthropic itself.
    const sdk = await anthropicClient(t.gw.url).messages.create({ model: CLAUDE, max_tokens: 100, messages: HI }).catch((e: unknown) => e);
    expect(sdk).toBeInstanceOf(Anthropic.InternalServerError);
    expect([(sdk as InstanceType<typeof Anthropic.APIError>).status, (sdk as InstanceType<typeof Anthropic.APIError>).error]).toMatchObject([529, { type: "error", error: { type: "overloaded_error" } }]);
    expect(done.filter((r) => r.route === "/v1/messages").map((r) => r.status)).toEqual([400, 529, 529, 529]);
    // Chat completions keep OpenAI's statuses: 503 for the overload (with its Retry-After), 504 for the timeout.
    const chatBusy = await post(`${t.gw.url}/v1/chat/completions`, { model: CLAUDE, messages: HI });
    expect([chatBusy.status, chatBusy.headers.get("retry-after"), ((await chatBusy.json()) as { error: { code: string } }).error.code]).toEqual([503, "7", "upstream_overloaded"]);
    const timedOut = await post(`${t.gw.url}/v1/messages`, { model: CLAUDE, max_tokens: 100, messages: HI });
    expect([timedOut.status, ((await timedOut.json()) as { error: { type: string } }).error.type]).toEqual([504, "timeout_error"]);
  });

  test("an upstream's error event after the first content is recorded as the stream's error and its attempt's failure, on every route and provider", async () => {
    await using t = startTargets();
    const recorded = everyRecord(t.gw);
    t.oa.reply({ kind: "answer", answer: "one two three", errorAfterWords: 2 }, { kind: "answer", answer: "one two three", errorAfterWords: 2 });
    t.claude.reply({ kind: "answer", answer: "one two three", errorAfterWords: 2 });
    await (await post(`${t.gw.url}/v1/chat/completions`, { model: `oa/${GPT}`, messages: HI, stream: true })).text();
    await (await post(`${t.gw.url}/v1/messages`, { model: `oa/${GPT}`, max_tokens: 100, messages: HI, stream: true })).text();
    await (await post(`${t.gw.url}/v1/messages`, { model: CLAUDE, max_tokens: 100, messages: HI, stream: true })).text();
    await recorded.count(3);
    for (const record of recorded.all) {
      expect([record.outcome, record.errorCode]).toEqual(["truncated", expect.stringMatching(/^upstream_/)]);
      expect(record.attempts.at(-1)).toMatchObject({ reason: record.errorCode });
      expect(record.attempts.at(-1)!.status).not.toBe(200);
    }
  });

  test("Claude Code's blocks chatgate does not know (tool search, compaction) go to an Anthropic target as sent; an OpenAI-compatible one still refuses them", async () => {
    await using t = startTargets();
    const history = [
      { role: "user", content: "find a tool" },
      { role: "assistant", content: [{ type: "server_tool_use", id: "srvtoolu_1", name: "tool_search", input: { query: "weather" } }, { type: "tool_search_tool_result", tool_use_id: "srvtoolu_1", content: { type: "tool_search_tool_search_result", tool_references: [] } }, { type: "tool_use", id: "toolu_1", name: "get_weather", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "tool_reference", tool_name: "get_weather" }] }] },
      { role: "assistant", content: [{ type: "compaction", content: "Earlier: the user asked for the weather." }] },
      { role: "user", content: "and now?" },
    ];
    const raw = JSON.stringify({ model: CLAUDE, max_tokens: 100, messages: history });
    const res = await fetch(`${t.gw.url}/v1/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: raw });
    expect(res.status).toBe(200);
    expect(t.claude.calls.at(-1)!.rawBody).toBe(raw);
    const translated = await post(`${t.gw.url}/v1/messages`, { model: `oa/${GPT}`, max_tokens: 100, messages: history });
    expect([translated.status, ((await translated.json()) as { error: { message: string } }).error.message]).toEqual([400, expect.stringContaining("unknown content block type 'tool_search_tool_result'")]);
  });

  test("an aliased model changes only model in the client's bytes (numbers as written), and the client's anthropic-version goes upstream", async () => {
    await using t = startTargets();
    const raw = `{"model":"${ON_ANTHROPIC}","max_tokens":100,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{"id":12345678901234567890,"exp":1e400}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"ok"}]}]}`;
    const res = await fetch(`${t.gw.url}/v1/messages`, { method: "POST", headers: { "content-type": "application/json", "anthropic-version": "2099-01-01" }, body: raw });
    expect(res.status).toBe(200);
    const sent = t.claude.calls.at(-1)!;
    expect(sent.rawBody).toContain('"id":12345678901234567890');
    expect(sent.rawBody).toContain('"exp":1e400');
    expect((sent.body as { model: string }).model).toBe(CLAUDE);
    expect(sent.headers["anthropic-version"]).toBe("2099-01-01");
  });

  test("any upstream's 503 is Anthropic's 529 overloaded_error with the upstream's Retry-After kept, whichever provider", async () => {
    await using t = startTargets();
    const unavailable = { kind: "error", status: 503, type: "api_error", headers: { "retry-after": "4" } } as const;
    t.claude.reply(unavailable, unavailable, unavailable, unavailable);
    const viaAnthropic = await post(`${t.gw.url}/v1/messages`, { model: CLAUDE, max_tokens: 100, messages: HI });
    expect([viaAnthropic.status, viaAnthropic.headers.get("retry-after"), ((await viaAnthropic.json()) as { error: { type: string } }).error.type]).toEqual([529, "4", "overloaded_error"]);
    const down = { kind: "error", status: 503, headers: { "retry-after": "3" } } as const;
    t.oa.reply(down, down, down, down);
    const viaOpenAI = await post(`${t.gw.url}/v1/messages`, { model: `oa/${GPT}`, max_tokens: 100, messages: HI });
    expect([viaOpenAI.status, viaOpenAI.headers.get("retry-after"), ((await viaOpenAI.json()) as { error: { type: string } }).error.type]).toEqual([529, "3", "overloaded_error"]);
  });

  test("server-tool blocks in the history (web search) go to Anthropic as sent, and are left out of a translation", async () => {
    await using t = startTargets();
    const history = [
      { role: "user", content: "search it" },
      {
        role: "assistant",
        content: [
          { type: "server_tool_use", id: "srvtoolu_1", name: "web_search", input: { query: "bun" } },
          { type: "web_search_tool_result", tool_use_id: "srvtoolu_1", content: [{ type: "web_search_result", url: "https://bun.sh", title: "Bun", encrypted_content: "x" }] },
          { type: "text", text: "Bun is a runtime." },
        ],
      },
      { role: "user", content: "thanks" },
    ];
    t.claude.reply({ kind: "raw", status: 200, body: MESSAGE_TEXT });
    expect((await post(`${t.gw.url}/v1/messages`, { model: CLAUDE, max_tokens: 100, messages: history })).status).toBe(200);
    expect((t.claude.calls[0]!.body as { messages: unknown }).messages).toEqual(history);
    expect((await post(`${t.gw.url}/v1/messages`, { model: "claude-on-openai", max_tokens: 100, messages: history })).status).toBe(200);
    expect((t.oa.calls[0]!.body as { messages: unknown }).messages).toEqual([
      { role: "user", content: "search it" },
      { role: "assistant", content: "Bun is a runtime." },
      { role: "user", content: "thanks" },
    ]);
  });

  test("count_tokens is passed to Anthropic's count_tokens with the target's model", async () => {
    await using t = startTargets();
    const counted = await anthropicClient(t.gw.url).messages.countTokens({ model: ON_ANTHROPIC, messages: HI });
    expect(counted).toEqual({ input_tokens: 1234 });
    expect(t.claude.countCalls[0]!.body).toEqual({ model: CLAUDE, messages: HI });
    expect(t.claude.countCalls[0]!.headers["x-api-key"]).toBe(keyOf("claude"));
  });

  test("count_tokens says who counted, sends the request's id upstream, and an answer that is no count is a 500 api_error quoting nothing of it", async () => {
    await using t = startTargets();
    const recorded = everyRecord(t.gw);
    const res = await post(`${t.gw.url}/v1/messages/count_tokens`, { model: ON_ANTHROPIC, messages: HI }, { "x-request-id": "count-1" });
    expect([res.status, res.headers.get("x-chatgate-provider"), res.headers.get("x-chatgate-model")]).toEqual([200, "claude", CLAUDE]);
    expect(t.claude.countCalls[0]!.headers["x-request-id"]).toBe("count-1");
    for (const broken of [`not json ${keyOf("claude")}`, JSON.stringify({ id: "chatcmpl-1", object: "chat.completion", note: keyOf("claude") }), '{"input_tokens":-1}']) {
      t.claude.countBody = broken;
      const bad = await post(`${t.gw.url}/v1/messages/count_tokens`, { model: ON_ANTHROPIC, messages: HI });
      const text = await bad.text();
      expect([bad.status, (JSON.parse(text) as { error: { type: string } }).error.type]).toEqual([500, "api_error"]);
      expect(text).not.toContain(keyOf("claude"));
    }
    // A refused provider key: who was asked, and no retry of the SDK's can help.
    t.claude.countBody = undefined;
    t.claude.countStatus = 401;
    const refused = await post(`${t.gw.url}/v1/messages/count_tokens`, { model: ON_ANTHROPIC, messages: HI });
    expect([refused.status, refused.headers.get("x-should-retry"), refused.headers.get("x-chatgate-provider")]).toEqual([500, "false", "claude"]);
    // Their records say who was asked, as their headers do: the log line and the ledger's attempt row.
    await recorded.count(5);
    const [ok, , , , failed] = recorded.all;
    expect([ok!.model, ok!.provider, ok!.upstreamModel, ok!.attempts.map((a) => [a.provider, a.model, a.status, a.reason])]).toEqual([ON_ANTHROPIC, "claude", CLAUDE, [["claude", CLAUDE, 200, "ok"]]]);
    expect([failed!.status, failed!.provider, failed!.attempts.map((a) => [a.status, a.reason])]).toEqual([500, "claude", [[401, "upstream_auth_failed"]]]);
  });
});
