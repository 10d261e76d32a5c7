// The four integrations probed from outside, as an attacker and as a new user meet them: the
// compiled binary on a config file, fake OpenAI and Anthropic upstreams in this process, raw fetch
// as client. Every bad input is a 4xx in the client's API shape that names the problem; no secret
// reaches a body or a log line; limits, keys and signatures hold whatever the path, method or body.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { compiledBinary, spawnBinary } from "./support/binary.ts";
import { anthropicAt, keyOf, openaiAt, routedEnv, type ConfigDoc } from "./support/config-file.ts";
import { fakeAnthropic, type FakeAnthropic } from "./support/fake-anthropic.ts";
import { SERVER, otlpReceiver } from "./support/otlp-receiver.ts";
import type { GatewayProcess } from "./support/process.ts";
import type { RecordedCall } from "./support/scripted-body.ts";
import { fakeOpenAI, type FakeOpenAI } from "./support/upstream.ts";

const HOOK_SECRET = "whsec-probe-integrations-0123456789";
const KEY = "ck-probe-integrations-client-0001";
const SECRETS = [HOOK_SECRET, KEY, keyOf("up"), keyOf("claude")];

let up: FakeOpenAI;
let claude: FakeAnthropic;
let gw: GatewayProcess;

beforeAll(async () => {
  await compiledBinary();
  up = fakeOpenAI();
  claude = fakeAnthropic();
  const doc = {
    providers: [openaiAt("up", up), anthropicAt("claude", claude), { id: "mock", type: "mock" }],
    models: {
      o: { targets: [{ provider: "up", model: "gpt-4o-mini" }] },
      c: { targets: [{ provider: "claude", model: "claude-sonnet-4-5" }] },
      m: { targets: [{ provider: "mock", model: "mock" }] },
      e: { targets: [{ provider: "up", model: "text-embedding-3-small" }] },
    },
    hooks: { sig: { model: "o", secret: "${HOOK_SECRET}" }, open: { model: "m" } },
  };
  gw = await spawnBinary({ ...routedEnv(doc as ConfigDoc), HOOK_SECRET, CHATGATE_API_KEYS: KEY, CHATGATE_RATE_LIMIT_MAX: "0", CHATGATE_AUTH_FAILURE_LIMIT: "0" });
}, 120_000);

afterAll(async () => {
  await gw?.stop();
  await up?.stop();
  await claude?.stop();
});

const AUTH = { authorization: `Bearer ${KEY}` };
const J = JSON.stringify;

async function post(path: string, body: string | Uint8Array, headers: Record<string, string> = AUTH, method = "POST"): Promise<Response> {
  return fetch(gw.url + path, { method, headers: { "content-type": "application/json", ...headers }, body: method === "POST" ? body : undefined });
}

/** Status and parsed body of an answer. */
async function answer(res: Response): Promise<{ status: number; body: any; text: string }> {
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text };
}

/** A Messages API request to model `model` ("o" translated to OpenAI, "c" native Anthropic, "m" the mock). */
const msg = (extra: Record<string, unknown> = {}) => J({ model: "m", max_tokens: 16, messages: [{ role: "user", content: "hi" }], ...extra });

/** Expects Anthropic's error shape, with `type` and a message containing `says`. */
async function expectAnthropicError(res: Response, status: number, type: string, says: string | RegExp) {
  const { status: got, body, text } = await answer(res);
  expect({ got, text }).toMatchObject({ got: status });
  expect(body.type).toBe("error");
  expect(body.error.type).toBe(type);
  expect(body.error.message).toMatch(says);
  expect(body).not.toHaveProperty("error.code");
}

/** Expects OpenAI's error shape, with `param` and a message containing `says`. */
async function expectOpenAIError(res: Response, status: number, param: string | null, says: string | RegExp, code?: string) {
  const { status: got, body, text } = await answer(res);
  expect({ got, text }).toMatchObject({ got: status });
  expect(body.error.param).toBe(param);
  expect(body.error.message).toMatch(says);
  if (code !== undefined) expect(body.error.code).toBe(code);
}

/** The call `fake` receives after `seen` calls (nextCall would hand back an older one not yet taken). */
async function callAfter(fake: { calls: RecordedCall[] }, seen: number): Promise<RecordedCall> {
  for (let i = 0; i < 200 && fake.calls.length <= seen; i++) await Bun.sleep(25);
  const call = fake.calls[seen];
  if (call === undefined) throw new Error("no upstream call");
  return call;
}

const within = <T>(promise: Promise<T>, ms: number, what: string) =>
  Promise.race([promise, Bun.sleep(ms).then(() => Promise.reject(new Error(`${what} did not happen within ${ms} ms`)))]);

const nested = (depth: number, open: string, close: string, inner = "1") => open.repeat(depth) + inner + close.repeat(depth);

describe("deeply nested bodies", () => {
  // Regression: JSON.parse takes any depth, JSON.stringify and the translators recurse. A body
  // 100,000 levels deep (400 KB) overflowed the stack: /v1/messages answered 500 internal_error
  // (tool_use input) or 502 "connection to provider failed (RangeError)" (an unknown field, a tool
  // schema), and chat completions and embeddings 502.
  const DEEP = 100_000;

  test("a body nested 100,000 levels deep is a 400 on every route, in its API's shape, and no upstream is called", async () => {
    const before = up.calls.length + claude.calls.length;
    for (const model of ["o", "c", "m"]) {
      const extra = `{"model":"${model}","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"extra":${nested(DEEP, "[", "]")}}`;
      await expectAnthropicError(await post("/v1/messages", extra), 400, "invalid_request_error", /'extra': arrays and objects nested more than \d+ levels deep/);
      const toolUse = `{"model":"${model}","max_tokens":5,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":${nested(DEEP, '{"a":', "}")}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"r"}]}]}`;
      await expectAnthropicError(await post("/v1/messages", toolUse), 400, "invalid_request_error", /'messages': .* levels deep/);
      const count = `{"model":"${model}","tools":[{"name":"f","input_schema":${nested(DEEP, '{"a":', "}")}}],"messages":[{"role":"user","content":"hi"}]}`;
      await expectAnthropicError(await post("/v1/messages/count_tokens", count), 400, "invalid_request_error", /'tools': .* levels deep/);
      await expectOpenAIError(await post("/v1/chat/completions", `{"model":"${model}","messages":[{"role":"user","content":"hi"}],"x":${nested(DEEP, "[", "]")}}`), 400, "x", /levels deep/);
    }
    await expectOpenAIError(await post("/v1/embeddings", `{"model":"e","input":"x","x":${nested(DEEP, "[", "]")}}`), 400, "x", /levels deep/);
    expect(up.calls.length + claude.calls.length).toBe(before);
  });

  test("a tool schema nested 60 levels deep still reaches the upstream, translated", async () => {
    const seen = up.calls.length;
    up.reply({ kind: "completion", content: "fine" });
    const schema = JSON.parse(nested(60, '{"type":"object","properties":{"a":', "}}", '{"type":"string"}'));
    const res = await post("/v1/messages", msg({ model: "o", tools: [{ name: "f", input_schema: schema }] }));
    expect((await answer(res)).body.content[0].text).toBe("fine");
    expect(J((await callAfter(up, seen)).body)).toContain(J(schema));
  });
});

describe("/v1/messages refuses bad input in Anthropic's shape, naming the field", () => {
  test("a body that is not a JSON object (null, an array, a string, NaN, invalid UTF-8) is a 400", async () => {
    for (const body of ["null", "[]", '"x"']) await expectAnthropicError(await post("/v1/messages", body), 400, "invalid_request_error", "must be a JSON object");
    await expectAnthropicError(await post("/v1/messages", '{"model":"m","max_tokens":NaN,"messages":[]}'), 400, "invalid_request_error", "not valid JSON");
    const latin1 = new Uint8Array([...new TextEncoder().encode('{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"'), 0xff, 0xfe, ...new TextEncoder().encode('"}]}')]);
    await expectAnthropicError(await post("/v1/messages", latin1), 400, "invalid_request_error", "not valid UTF-8");
    await expectAnthropicError(await post("/v1/messages/count_tokens", "null"), 400, "invalid_request_error", "must be a JSON object");
  });

  test("null or the wrong type where an object, array or string is expected is a 400 naming the path", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ messages: null }, "messages: must be a non-empty array"],
      [{ messages: [] }, "messages: must be a non-empty array"],
      [{ messages: [null] }, "messages.0: must be a message object"],
      [{ messages: [{ role: "user", content: null }] }, "messages.0.content: must be a string or an array"],
      [{ messages: [{ role: "user", content: [null] }] }, "messages.0.content.0: must be a content block object"],
      [{ messages: [{ role: "user", content: ["text"] }] }, "messages.0.content.0: must be a content block object"],
      [{ messages: [{ role: "system", content: "x" }] }, "messages.0.role: must be one of user, assistant"],
      [{ messages: [{ role: "user", content: [{ type: "text", text: 5 }] }] }, "messages.0.content.0.text: must be a string"],
      [{ system: [null] }, "system.0: must be a content block object"],
      [{ tools: [null] }, "tools.0: must be a tool object"],
      [{ tool_choice: null }, "tool_choice: must be an object"],
      [{ metadata: null }, "metadata: must be an object"],
      [{ thinking: null }, "thinking: must be an object"],
      [{ stop_sequences: "END" }, "stop_sequences: must be an array of strings"],
      [{ model: ["m"] }, "model: must be a non-empty string"],
      [{ stream: "yes" }, "stream: must be a boolean"],
    ];
    for (const [extra, says] of cases) await expectAnthropicError(await post("/v1/messages", msg(extra)), 400, "invalid_request_error", says);
  });

  test("a document whose source lacks its fields, or a user turn with no blocks, is a 400 naming the field; an image or document stored with the Files API is taken", async () => {
    const user = (content: unknown) => msg({ messages: [{ role: "user", content }] });
    await expectAnthropicError(await post("/v1/messages", user([{ type: "document", source: { type: "base64" } }])), 400, "invalid_request_error", "messages.0.content.0.source");
    await expectAnthropicError(await post("/v1/messages", user([{ type: "document", source: { type: "text", data: 5 } }])), 400, "invalid_request_error", "messages.0.content.0.source");
    await expectAnthropicError(await post("/v1/messages", user([])), 400, "invalid_request_error", "messages.0.content");
    const files = [{ type: "image", source: { type: "file", file_id: "file_1" } }, { type: "document", source: { type: "file", file_id: "file_2" } }, { type: "text", text: "what is it?" }];
    expect((await post("/v1/messages", user(files))).status).toBe(200);
  });

  test("count_tokens reads only its own fields: a stop_sequences, temperature or max_tokens of any type there is no 5xx", async () => {
    const body = J({ model: "m", stop_sequences: null, temperature: "hot", max_tokens: "many", top_p: [], metadata: 5, messages: [{ role: "user", content: "x" }] });
    const { status, body: counted } = await answer(await post("/v1/messages/count_tokens", body));
    expect(status).toBe(200);
    expect(counted.input_tokens).toBeGreaterThan(0);
  });

  test("max_tokens of 0, -1, 1.5, \"10\" or 1e400 is a 400 naming max_tokens", async () => {
    for (const value of ["0", "-1", "1.5", '"10"', "1e400"]) {
      const body = `{"model":"m","max_tokens":${value},"messages":[{"role":"user","content":"hi"}]}`;
      await expectAnthropicError(await post("/v1/messages", body), 400, "invalid_request_error", "max_tokens: must be an integer from 1 to 2147483647");
    }
  });

  test("tool_use without an id, or with input null, images without a source and a tool choice without a name are 400s naming the field", async () => {
    const turn = (block: Record<string, unknown>) => msg({ model: "o", messages: [{ role: "user", content: "x" }, { role: "assistant", content: [block] }, { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "r" }] }] });
    const seen = up.calls.length;
    await expectAnthropicError(await post("/v1/messages", turn({ type: "tool_use", name: "f", input: {} })), 400, "invalid_request_error", "messages.1.content.0.id");
    await expectAnthropicError(await post("/v1/messages", turn({ type: "tool_use", id: "t1", name: "f", input: null })), 400, "invalid_request_error", "messages.1.content.0.input: must be an object");
    await expectAnthropicError(await post("/v1/messages", msg({ model: "o", messages: [{ role: "user", content: [{ type: "image", source: null }] }] })), 400, "invalid_request_error", "messages.0.content.0.source");
    // Regression: a tool choice without its name went upstream as `function.name: ""` (the mock answered 200).
    const tools = [{ name: "f", input_schema: { type: "object" } }];
    for (const model of ["o", "m"]) await expectAnthropicError(await post("/v1/messages", msg({ model, tools, tool_choice: { type: "tool" } })), 400, "invalid_request_error", "tool_choice.name: Field required");
    expect(up.calls.length).toBe(seen);
  });

  test("prototype keys are plain names: unknown block types and models, and a __proto__ field changes nothing", async () => {
    for (const type of ["__proto__", "constructor", "toString"]) {
      const body = `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":${J(type)},"text":"x"}]}]}`;
      await expectAnthropicError(await post("/v1/messages", body), 400, "invalid_request_error", `unknown content block type '${type}'`);
    }
    for (const model of ["__proto__", "constructor", "hasOwnProperty"]) {
      await expectAnthropicError(await post("/v1/messages", msg({ model })), 404, "not_found_error", `The model \`${model}\` does not exist`);
      await expectOpenAIError(await post("/v1/embeddings", J({ model, input: "x" })), 404, "model", "does not exist", "model_not_found");
    }
    const polluted = '{"__proto__":{"model":"o","stream":true},"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}';
    const { status, body } = await answer(await post("/v1/messages", polluted));
    expect(status).toBe(200);
    expect(body).toMatchObject({ type: "message", model: "mock" });
  });

  test("10,000 content blocks are answered and counted, joined into one message for an OpenAI upstream", async () => {
    const seen = up.calls.length;
    up.reply({ kind: "completion", content: "ok" });
    const content = Array.from({ length: 10_000 }, (_, i) => ({ type: "text", text: `b${i}` }));
    expect((await answer(await post("/v1/messages", msg({ model: "o", messages: [{ role: "user", content }] })))).status).toBe(200);
    const sent = (await callAfter(up, seen)).body as { messages: { content: string }[] };
    expect(sent.messages).toHaveLength(1);
    expect(sent.messages[0]!.content).toContain("b9999");
    const count = await answer(await post("/v1/messages/count_tokens", J({ model: "o", messages: [{ role: "user", content }] })));
    expect(count.status).toBe(200);
    expect(count.body.input_tokens).toBeGreaterThan(10_000);
  });
});

describe("keys and paths on the Messages API", () => {
  test("x-api-key and Authorization both work; a wrong or missing key is a 401 in Anthropic's shape", async () => {
    expect((await post("/v1/messages", msg(), { "x-api-key": KEY })).status).toBe(200);
    expect((await post("/v1/messages", msg(), AUTH)).status).toBe(200);
    await expectAnthropicError(await post("/v1/messages", msg(), { "x-api-key": "ck-wrong" }), 401, "authentication_error", "Incorrect API key");
    await expectAnthropicError(await post("/v1/messages", msg(), { authorization: "Bearer ck-wrong", "x-api-key": KEY }), 401, "authentication_error", "Incorrect API key");
    await expectAnthropicError(await post("/v1/messages/count_tokens", J({ model: "m", messages: [{ role: "user", content: "x" }] }), {}), 401, "authentication_error", "Missing API key");
  });

  test("//v1/messages, a trailing slash, another case or method never reach a model without a key", async () => {
    const seen = up.calls.length;
    const body = msg({ model: "o" });
    for (const path of ["//v1/messages", "/v1/messages/", "/v1//messages"]) expect((await post(path, body, {})).status).toBeOneOf([401, 404, 308]);
    for (const path of ["/V1/Messages", "/v1/%6dessages"]) expect((await post(path, body, {})).status).toBe(404);
    for (const method of ["GET", "HEAD", "OPTIONS", "PUT"]) expect((await post("/v1/messages", body, {}, method)).status).toBe(405);
    expect(up.calls.length).toBe(seen);
  });

  test("GET /v1/models with anthropic-version answers in Anthropic's shape, errors included", async () => {
    const v = { "anthropic-version": "2023-06-01" };
    const list = await answer(await fetch(`${gw.url}/v1/models`, { headers: { ...AUTH, ...v } }));
    expect(list.body.data.map((m: { id: string }) => m.id)).toEqual(expect.arrayContaining(["o", "c", "m"]));
    expect(list.body.data[0].type).toBe("model");
    await expectAnthropicError(await fetch(`${gw.url}/v1/models/nope`, { headers: { ...AUTH, ...v } }), 404, "not_found_error", "nope");
    await expectAnthropicError(await fetch(`${gw.url}/v1/models`, { headers: v }), 401, "authentication_error", "Missing API key");
    // A method the route does not take: Bun's router answers it, in the same shape.
    await expectAnthropicError(await fetch(`${gw.url}/v1/models`, { method: "POST", headers: { ...AUTH, ...v } }), 405, "invalid_request_error", "Invalid method");
  });
});

describe("/v1/messages streams and upstream failures", () => {
  const events = (text: string) => [...text.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);

  test("a translated stream cut after its first content ends with an error event, never message_stop", async () => {
    for (const script of [{ cutAfterEvents: 3 }, { endAfterEvents: 3 }, { errorEventAfter: 3 }]) {
      up.reply({ kind: "stream", ...script });
      const { status, text } = await answer(await post("/v1/messages", msg({ model: "o", stream: true })));
      expect(status).toBe(200);
      expect(events(text)).toContain("content_block_delta");
      expect(events(text).at(-1)).toBe("error");
      expect(events(text)).not.toContain("message_stop");
    }
  });

  test("an Anthropic stream that ends without message_stop ends with an error event", async () => {
    for (const script of [{ endWithoutStop: true }, { cutAfterEvents: 4 }]) {
      claude.reply({ kind: "stream", ...script });
      const { text } = await answer(await post("/v1/messages", msg({ model: "c", stream: true })));
      expect(events(text)).toContain("content_block_delta");
      expect(events(text).at(-1)).toBe("error");
      expect(events(text)).not.toContain("message_stop");
    }
  });

  // Regression: the native pass-through kept nothing of what it sent, so a stream that ended before
  // message_delta's counts (cut, error event, client gone) was estimated at 0 output tokens whatever
  // the client had read: an answer free of tpm and budget. The same stream through
  // /v1/chat/completions (translated) was counted.
  test("a native Anthropic stream that ends before its counts has the text the client read estimated", async () => {
    const words = "one two three four five six seven eight nine ten eleven twelve";
    claude.reply({ kind: "stream", cutAfterEvents: 8, content: [{ type: "text", text: words }] });
    const cut = await answer(await post("/v1/messages", msg({ model: "c", stream: true }), { ...AUTH, "x-request-id": "probe-native-cut" }));
    const read = cut.text.match(/"text_delta"/g)?.length ?? 0;
    expect(read).toBeGreaterThanOrEqual(3);
    const cutLine = await gw.waitForLog((l) => l.req_id === "probe-native-cut");
    expect(cutLine).toMatchObject({ outcome: "truncated", usage_estimated: true });
    expect(cutLine.tokens_out as number).toBeGreaterThanOrEqual(read);

    claude.reply({ kind: "stream", hangAfterEvents: 8, content: [{ type: "text", text: words }] });
    const client = new AbortController();
    const res = await fetch(`${gw.url}/v1/messages`, { method: "POST", headers: { "content-type": "application/json", ...AUTH, "x-request-id": "probe-native-abort" }, body: msg({ model: "c", stream: true }), signal: client.signal });
    const reader = res.body!.getReader();
    let text = "";
    while ((text.match(/"text_delta"/g)?.length ?? 0) < 3) text += new TextDecoder().decode((await reader.read()).value);
    client.abort();
    const abortLine = await gw.waitForLog((l) => l.req_id === "probe-native-abort");
    expect(abortLine).toMatchObject({ outcome: "client_abort", usage_estimated: true });
    expect(abortLine.tokens_out as number).toBeGreaterThanOrEqual(3);
  });

  test("a provider key echoed in an upstream error is redacted on /v1/messages (JSON and native stream) and /v1/embeddings", async () => {
    const echo = (id: string) => `Incorrect API key provided: ${keyOf(id)}`;
    up.reply({ kind: "error", status: 400, error: { message: echo("up"), type: "invalid_request_error", param: null, code: null } });
    await expectAnthropicError(await post("/v1/messages", msg({ model: "o" })), 400, "invalid_request_error", "Incorrect API key provided: ***");
    up.reply({ kind: "raw", status: 400, body: J({ error: echo("up") }) });
    await expectOpenAIError(await post("/v1/embeddings", J({ model: "e", input: "x" })), 400, null, "Incorrect API key provided: ***");
    claude.reply({ kind: "error", status: 400, type: "invalid_request_error", message: echo("claude") });
    await expectAnthropicError(await post("/v1/messages", msg({ model: "c" })), 400, "invalid_request_error", "Incorrect API key provided: ***");
    claude.reply({
      kind: "stream",
      raw: [
        `event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","model":"x","content":[],"usage":{"input_tokens":1,"output_tokens":0}}}\n\n`,
        `event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n`,
        `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}\n\n`,
        `event: error\ndata: {"type":"error","error":{"type":"api_error","message":"${echo("claude")}"}}\n\n`,
      ].join(""),
    });
    const { text } = await answer(await post("/v1/messages", msg({ model: "c", stream: true })));
    expect(text).toContain("Incorrect API key provided: ***");
    expect(text).not.toContain(keyOf("claude"));
  });

  test("a client that goes away cancels the upstream call: translated JSON, native stream, embeddings", async () => {
    const cases: [string, string, FakeOpenAI | FakeAnthropic][] = [
      ["/v1/messages", msg({ model: "o" }), up],
      ["/v1/messages", msg({ model: "c", stream: true }), claude],
      ["/v1/embeddings", J({ model: "e", input: "x" }), up],
    ];
    for (const [path, body, fake] of cases) {
      const seen = fake.calls.length;
      (fake.reply as (r: { kind: "stall" }) => void)({ kind: "stall" });
      const client = new AbortController();
      const pending = fetch(gw.url + path, { method: "POST", headers: { "content-type": "application/json", ...AUTH }, body, signal: client.signal }).catch((e: Error) => e.name);
      const call = await callAfter(fake, seen);
      client.abort();
      expect(await pending).toBe("AbortError");
      await within(call.aborted, 2000, `the upstream abort of ${path}`);
    }
  });
});

describe("/v1/embeddings refuses bad input in OpenAI's shape, before any upstream call", () => {
  test("inputs of 0 items, 100,000 items, empty texts, nested arrays, floats and mixed types are 400s naming input", async () => {
    const seen = up.calls.length;
    const inputs: unknown[] = [[], [[]], "", [""], null, 5, [1.5, 2], [-1], [[[1]]], ["a", 1], [null], Array.from({ length: 100_000 }, () => "a")];
    for (const input of inputs) await expectOpenAIError(await post("/v1/embeddings", J({ model: "e", input })), 400, "input", "Invalid value for 'input'");
    expect(up.calls.length).toBe(seen);
  });

  test("dimensions of 0, -1, 1.5, \"4\" or null and an encoding_format other than float or base64 are 400s naming them", async () => {
    for (const dimensions of [0, -1, 1.5, "4", null]) await expectOpenAIError(await post("/v1/embeddings", J({ model: "e", input: "x", dimensions })), 400, "dimensions", "must be an integer of at least 1");
    await expectOpenAIError(await post("/v1/embeddings", J({ model: "m", input: "x", dimensions: 1e9 })), 400, "dimensions", "at most 3072");
    for (const encoding_format of ["int8", null, "BASE64"]) await expectOpenAIError(await post("/v1/embeddings", J({ model: "e", input: "x", encoding_format })), 400, "encoding_format", "must be 'float' or 'base64'");
  });

  test("a body that is not a JSON object, or a model only Anthropic serves, is a 400 naming why", async () => {
    for (const body of ["null", "[]", "{"]) await expectOpenAIError(await post("/v1/embeddings", body), 400, null, /JSON/);
    await expectOpenAIError(await post("/v1/embeddings", J({ model: "c", input: "x" })), 400, "model", "does not offer embeddings", "embeddings_not_supported");
  });
});

const sign = (body: string, secret = HOOK_SECRET) => createHmac("sha256", secret).update(body).digest("hex");
const now = () => String(Math.floor(Date.now() / 1000));
let hookBodies = 0;
const hookBody = (extra: Record<string, unknown> = {}) => J({ text: "hello", from: "probe", id: `b${++hookBodies}`, ...extra });
const signed = (body: string, over: Record<string, string> = {}) => ({ "x-chatgate-signature": `sha256=${sign(body)}`, "x-chatgate-timestamp": now(), ...over });

describe("signed webhooks", () => {
  test("a signature in the wrong form is a 401 invalid_signature, and the model is never asked", async () => {
    const seen = up.calls.length;
    const body = hookBody();
    const hex = sign(body);
    for (const signature of [hex, `SHA256=${hex}`, `sha256=${hex.slice(0, 40)}`, `sha256=${hex}00`, `sha256=${hex}, sha256=${"0".repeat(64)}`, `sha256=${sign(body, "another-secret-0123456789")}`]) {
      await expectOpenAIError(await post("/hooks/sig", body, signed(body, { "x-chatgate-signature": signature })), 401, null, "does not match", "invalid_signature");
    }
    expect(up.calls.length).toBe(seen);
  });

  test("timestamps in milliseconds, negative, huge, fractional, hex or not numbers are 401 signature_expired", async () => {
    const body = hookBody();
    const seconds = Math.floor(Date.now() / 1000);
    for (const timestamp of [String(Date.now()), "-1", "9".repeat(400), `${seconds}.5`, `0x${seconds.toString(16)}`, "abc", "", String(seconds - 301), String(seconds + 301)]) {
      await expectOpenAIError(await post("/hooks/sig", body, signed(body, { "x-chatgate-timestamp": timestamp })), 401, null, "unix seconds", "signature_expired");
    }
    expect((await post("/hooks/sig", body, signed(body))).status).toBe(200);
  });

  test("path tricks reach the same signature check or a 404, never an unsigned answer", async () => {
    const seen = up.calls.length;
    const body = hookBody();
    for (const path of ["/hooks/sig/", "//hooks/sig", "/hooks/%73ig"]) expect((await post(path, body, {})).status).toBeOneOf([401, 308]);
    for (const path of ["/hooks/SIG", "/hooks/sig%2F", "/hooks/__proto__", "/hooks/constructor", "/hooks/toString"]) {
      await expectOpenAIError(await post(path, body, {}), 404, null, /hook/, "hook_not_found");
    }
    expect((await post("/hooks/sig", body, {}, "GET")).status).toBe(405);
    expect(up.calls.length).toBe(seen);
  });

  test("a failed delivery may be sent again; once answered, the same body is a replay whatever the hex case", async () => {
    const body = hookBody({ from: "replayer" });
    up.reply({ kind: "error", status: 500 });
    expect((await post("/hooks/sig", body, signed(body))).status).toBe(502);
    up.reply({ kind: "completion", content: "second time lucky" });
    expect((await answer(await post("/hooks/sig", body, signed(body)))).body.reply).toBe("second time lucky");
    await expectOpenAIError(await post("/hooks/sig", body, signed(body)), 401, null, "already received", "signature_replayed");
    await expectOpenAIError(await post("/hooks/sig", body, signed(body, { "x-chatgate-signature": `sha256=${sign(body).toUpperCase()}` })), 401, null, "already received", "signature_replayed");
    // The same body sent twice at once: one is answered, the other is the replay.
    const twin = hookBody({ from: "twin" });
    up.reply({ kind: "completion", content: "once", delayMs: 200 });
    const statuses = await Promise.all([0, 1].map(async () => (await post("/hooks/sig", twin, signed(twin))).status));
    expect(statuses.sort()).toEqual([200, 401]);
  });

  test("concurrent messages of one sender are answered in order, each with the exchanges before it; past 8 waiting, 429", async () => {
    const seen = up.calls.length;
    up.reply({ kind: "completion", content: "r0", delayMs: 150 }, { kind: "completion", content: "r1", delayMs: 50 }, { kind: "completion", content: "r2" });
    const replies = await Promise.all([0, 1, 2].map(async (i) => {
      await Bun.sleep(i * 20);
      const body = hookBody({ text: `m${i}`, from: "concurrent" });
      return (await answer(await post("/hooks/sig", body, signed(body)))).body;
    }));
    expect(replies.map((r) => [r.reply, r.session.turns])).toEqual([["r0", 1], ["r1", 2], ["r2", 3]]);
    const sent = up.calls.slice(seen).map((c) => (c.body as { messages: { content: string }[] }).messages.map((m) => m.content));
    expect(sent).toEqual([["m0"], ["m0", "r0", "m1"], ["m0", "r0", "m1", "r1", "m2"]]);
    // One being answered and 8 waiting reach the model; the other 3 are refused.
    for (let i = 0; i < 9; i++) up.reply({ kind: "completion", content: "x", delayMs: 200 });
    const statuses = await Promise.all(Array.from({ length: 12 }, async (_, i) => {
      const body = hookBody({ text: `z${i}`, from: "busy" });
      return (await post("/hooks/sig", body, signed(body))).status;
    }));
    expect(statuses.filter((s) => s === 200)).toHaveLength(9);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3);
  });

  // Regression: a reset was answered at once, beside the queue. Sent while the sender's previous
  // message was still being answered, it forgot nothing: that exchange was remembered after it and
  // went upstream with the sender's next message.
  test("a reset sent while a message is being answered forgets that exchange too", async () => {
    const seen = up.calls.length;
    up.reply({ kind: "completion", content: "r1", delayMs: 400 }, { kind: "completion", content: "r2" });
    const first = hookBody({ text: "m1", from: "forgetful" });
    const answered = post("/hooks/sig", first, signed(first));
    await callAfter(up, seen);
    const reset = hookBody({ from: "forgetful", action: "reset" });
    const forgotten = post("/hooks/sig", reset, signed(reset));
    await Bun.sleep(50);
    const next = hookBody({ text: "m2", from: "forgetful" });
    const after = (await answer(await post("/hooks/sig", next, signed(next)))).body;
    expect((await answer(await answered)).body.session.turns).toBe(1);
    expect((await answer(await forgotten)).body.session).toEqual({ from: "forgetful", turns: 0 });
    expect(after.session.turns).toBe(1);
    expect((up.calls[seen + 1]!.body as { messages: { content: string }[] }).messages.map((m) => m.content)).toEqual(["m2"]);
  });

  test("a message whose sender gives up while it waits its turn asks no model, and may be sent again", async () => {
    const seen = up.calls.length;
    up.reply({ kind: "completion", content: "slow", delayMs: 400 });
    const first = hookBody({ text: "q1", from: "impatient" });
    const answered = post("/hooks/sig", first, signed(first));
    await callAfter(up, seen);
    const second = hookBody({ text: "q2", from: "impatient" });
    const client = new AbortController();
    const gaveUp = fetch(`${gw.url}/hooks/sig`, { method: "POST", headers: { "content-type": "application/json", ...signed(second) }, body: second, signal: client.signal }).catch((e: Error) => e.name);
    await Bun.sleep(50);
    client.abort();
    expect(await gaveUp).toBe("AbortError");
    expect((await answer(await answered)).body.reply).toBe("slow");
    await Bun.sleep(100);
    expect(up.calls.length).toBe(seen + 1);
    up.reply({ kind: "completion", content: "now" });
    const again = (await answer(await post("/hooks/sig", second, signed(second)))).body;
    expect(again).toMatchObject({ reply: "now", session: { turns: 2 } });
    expect((up.calls[seen + 1]!.body as { messages: { content: string }[] }).messages.map((m) => m.content)).toEqual(["q1", "slow", "q2"]);
  });

  test("a signed body that is not the message shape is a 400 naming the field; over 256 KiB a 413", async () => {
    const cases: [string, string | null][] = [
      ["null", null],
      [J({ text: null, from: "u" }), "text"],
      [J({ text: ["a"], from: "u" }), "text"],
      [J({ text: "a", from: "" }), "from"],
      [J({ text: "a", from: "u", action: "explode" }), "action"],
      [J({ text: "a", from: "u", id: 5 }), "id"],
    ];
    for (const [body, param] of cases) expect((await answer(await post("/hooks/sig", body, signed(body)))).body.error.param).toBe(param);
    const big = hookBody({ text: "y".repeat(300_000) });
    await expectOpenAIError(await post("/hooks/sig", big, signed(big)), 413, null, "larger than", "request_too_large");
  });

  test("a sender named __proto__ or constructor is a sender like any other", async () => {
    for (const from of ["__proto__", "constructor"]) {
      const body = hookBody({ from });
      up.reply({ kind: "completion", content: "hi" });
      expect((await answer(await post("/hooks/sig", body, signed(body)))).body.session).toEqual({ from, turns: 1 });
    }
  });

  test("a hook without a secret takes a client key, by either header", async () => {
    await expectOpenAIError(await post("/hooks/open", hookBody(), {}), 401, null, "Missing API key", "invalid_api_key");
    expect((await post("/hooks/open", hookBody(), { "x-api-key": KEY })).status).toBe(200);
    expect((await post("/hooks/open", hookBody(), AUTH)).status).toBe(200);
  });
});

// Regression: the hook route never read the trace context. With tracing on, a hook's model call
// went upstream without a `traceparent`, its log line had no trace_id, and a caller's traceparent
// was ignored: the hook's span started a trace of its own that the provider's spans could not join.
test("with tracing on, a hook's model call carries the caller's trace, as the API routes' calls do", async () => {
  await using collector = otlpReceiver();
  await using fake = fakeOpenAI();
  const doc = { providers: [openaiAt("up", fake)], models: { o: { targets: [{ provider: "up", model: "gpt-4o-mini" }] } }, hooks: { sig: { model: "o", secret: "${HOOK_SECRET}" } } };
  const traced = await spawnBinary({ ...routedEnv(doc as ConfigDoc), HOOK_SECRET, CHATGATE_RATE_LIMIT_MAX: "0", CHATGATE_OTLP_ENDPOINT: collector.url });
  try {
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const body = hookBody({ from: "traced" });
    const res = await fetch(`${traced.url}/hooks/sig`, { method: "POST", headers: { "content-type": "application/json", ...signed(body), traceparent: `00-${traceId}-b7ad6b7169203331-01`, "x-request-id": "probe-traced-hook" }, body });
    expect(res.status).toBe(200);
    expect(fake.calls[0]!.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(await traced.waitForLog((l) => l.req_id === "probe-traced-hook")).toMatchObject({ trace_id: traceId });
    traced.proc.kill("SIGTERM");
    await traced.exited;
    expect(collector.spans.find((s) => s.kind === SERVER)).toMatchObject({ traceId, attributes: { "http.route": "/hooks/:name" } });
  } finally {
    await traced.stop();
  }
});

test("after all of the above, no secret is in any log line or in /status", async () => {
  const status = await (await fetch(`${gw.url}/status`, { headers: AUTH })).text();
  await Bun.sleep(200);
  for (const secret of SECRETS) {
    expect(gw.output()).not.toContain(secret);
    expect(status).not.toContain(secret);
  }
  expect((await fetch(`${gw.url}/health`)).status).toBe(200);
});
