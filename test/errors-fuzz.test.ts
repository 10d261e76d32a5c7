// Hundreds of malformed bodies, generated from a fixed seed so a failure replays: each must get a
// 4xx OpenAI error (never a 5xx, never a hang), and afterwards the process is still healthy.
import { expect, test } from "bun:test";
import { post, startGateway } from "./support/gateway.ts";
import { specErrors } from "./chat-spec-check.ts";

/** mulberry32: a tiny seeded PRNG, so the same bodies are generated on every run. */
function prng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (max: number) => Math.floor(next() * max);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  return { next, int, pick };
}

const encoder = new TextEncoder();
const VALID = { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] };
const nestedArrays = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
const nestedObjects = (depth: number) => '{"a":'.repeat(depth) + "1" + "}".repeat(depth);

/** Values that are the wrong type (or out of range) for each known field. */
const WRONG: Record<string, readonly unknown[]> = {
  model: [null, 0, 1.5, true, [], {}, "", ["gpt-4o"]],
  messages: [null, "hi", 3, true, {}, [], [null], ["hi"], [1], [[]], [{}], [{ role: null }], [{ role: "user", content: 7 }], [{ role: "x" }]],
  temperature: ["0.7", "1", -1, 2.5, true, [], {}, 1e308],
  top_p: ["0.5", -0.1, 1.1, false, [0.5]],
  n: ["1", 0, -1, 0.5, true, [1]],
  max_tokens: ["10", 0, -10, 1.5, {}, [10]],
  max_completion_tokens: ["10", 0, 2.5],
  presence_penalty: ["0", -2.01, 2.01, {}, true],
  frequency_penalty: ["1", -9, 9, []],
  stream: ["true", 1, 0, "false", {}, []],
  stream_options: ["x", 1, true, []],
  stop: [1, true, {}, [1], [null], [["a"]]],
  seed: ["1", 1.5, true, {}],
  logprobs: ["true", 1, {}],
  top_logprobs: ["1", -1, 21, 1.5],
  user: [1, true, {}, []],
  tools: ["x", 1, {}, [1], ["tool"]],
  tool_choice: [1, true, []],
  parallel_tool_calls: ["true", 1, {}],
  response_format: ["json", 1, [], {}],
  logit_bias: ["x", 1, [], { "1": "x" }],
};
const FIELDS = Object.keys(WRONG);
const SCARY_KEYS = ["__proto__", "constructor", "prototype", "__defineGetter__", "toString", "hasOwnProperty", "valueOf"];

type Body = string | Uint8Array;

function generate(seed: number, count: number): Array<{ kind: string; body: Body }> {
  const r = prng(seed);
  const randomString = (length: number) => Array.from({ length }, () => String.fromCharCode(r.int(0x3000))).join("");
  const randomBytes = (length: number) => Uint8Array.from({ length }, () => r.int(256));
  const kinds: Array<[string, () => Body]> = [
    ["wrong type for a known field", () => { const field = r.pick(FIELDS); return JSON.stringify({ ...VALID, [field]: r.pick(WRONG[field]!) }); }],
    ["several wrong types at once", () => JSON.stringify(Object.fromEntries(FIELDS.filter(() => r.next() < 0.4).map((f) => [f, r.pick(WRONG[f]!)]).concat([["model", r.pick(WRONG.model!)]])))],
    ["numbers as strings", () => JSON.stringify({ ...VALID, [r.pick(["temperature", "top_p", "n", "max_tokens", "seed", "presence_penalty"])]: String(r.int(3)) })],
    ["truncated valid JSON", () => { const text = JSON.stringify({ ...VALID, temperature: 1, tools: [{ type: "function" }] }); return text.slice(0, r.int(text.length)); }],
    ["random bytes", () => randomBytes(1 + r.int(2048))],
    ["random text", () => randomString(1 + r.int(512))],
    ["invalid UTF-8 inside a string", () => { const bytes = randomBytes(1 + r.int(8)).map((b) => b | 0x80); const [head, tail] = [encoder.encode('{"model":"'), encoder.encode('","messages":[]}')]; return Uint8Array.from([...head, 0xff, ...bytes, ...tail]); }],
    ["invalid UTF-8 in an otherwise valid request", () => { const text = JSON.stringify({ ...VALID, messages: [{ role: "user", content: "caf\u00e9" }] }); const bytes = encoder.encode(text); const at = bytes.indexOf(0xc3); const out = bytes.slice(); out[at + 1] = r.pick([0x28, 0xc3, 0xff, 0x00]); return out; }],
    ["a lone surrogate escape in a bad request", () => `{"model":"\\ud800","messages":"${"\\udfff".repeat(1 + r.int(5))}"}`],
    ["scary keys at the top", () => `{"${r.pick(SCARY_KEYS)}":{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]},"${r.pick(SCARY_KEYS)}":{"polluted":true}}`],
    ["scary keys in a message", () => `{"model":"gpt-4o","messages":[{"${r.pick(SCARY_KEYS)}":{"role":"user","content":"hi"}}]}`],
    ["scary keys beside a bad field", () => `{"__proto__":{"isAdmin":true},"constructor":{"prototype":{"polluted":true}},"model":"gpt-4o","messages":[],"${r.pick(SCARY_KEYS)}":1}`],
    ["a non-object JSON value", () => JSON.stringify(r.pick([null, 0, -1.5, "x", true, false, [], [VALID], "{}"]))],
    ["a huge string as the model, messages empty", () => JSON.stringify({ model: "m".repeat(200_000 + r.int(800_000)), messages: [] })],
    ["a huge non-object body", () => JSON.stringify("s".repeat(500_000 + r.int(1_000_000)))],
    ["a huge unterminated string", () => `{"model":"${"u".repeat(300_000 + r.int(300_000))}`],
    ["a huge number of messages, one bad", () => JSON.stringify({ model: "gpt-4o", messages: [...Array.from({ length: 5000 + r.int(5000) }, () => VALID.messages[0]), { role: "nobody" }] })],
    ["a long number", () => `{"model":"gpt-4o","messages":[],"temperature":${"9".repeat(1000 + r.int(5000))}}`],
    ["deep object nesting in a bad request", () => `{"model":"gpt-4o","messages":[],"x":${nestedObjects(20_000 + r.int(80_000))}}`],
    ["a known field nested deep", () => `{"model":"gpt-4o","messages":[{"role":"user","content":${nestedArrays(10_000 + r.int(90_000))}}]}`],
    ["deep nesting beside a bad field", () => `{"model":"gpt-4o","messages":[],"metadata":${nestedArrays(10_000 + r.int(90_000))}}`],
  ];
  const bodies = kinds.flatMap(([kind, make]) => (kind.startsWith("a huge") || kind.startsWith("deep") ? [{ kind, body: make() }] : []));
  // The fixed cases every run must include, whatever the seed picks.
  bodies.push({ kind: "100k nested arrays", body: nestedArrays(100_000) });
  bodies.push({ kind: "100k nested arrays in an object", body: `{"model":${nestedArrays(100_000)}}` });
  bodies.push({ kind: "100k nested objects", body: nestedObjects(100_000) });
  bodies.push({ kind: "100k unclosed arrays", body: "[".repeat(100_000) });
  while (bodies.length < count) {
    const [kind, make] = r.pick(kinds);
    // Huge and deep bodies are costly to send: a few of each are enough.
    if ((kind.startsWith("a huge") || kind.includes("deep")) && r.next() < 0.9) continue;
    bodies.push({ kind, body: make() });
  }
  return bodies;
}

test("hundreds of malformed bodies each get a 4xx OpenAI error and the gateway stays healthy", async () => {
  await using gw = startGateway({ CHATGATE_MOCK: "1" });
  const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();
  const bodies = generate(20240531, 400);
  const failures: string[] = [];
  const seenErrors = new Map<string, unknown>();
  const send = async ({ kind, body }: { kind: string; body: Body }, index: number) => {
    const path = index % 4 === 3 ? "/chat" : "/v1/chat/completions";
    const response = await post(`${gw.url}${path}`, body instanceof Uint8Array ? new Blob([body]) : body);
    const text = await response.text();
    let shapeOk = false;
    try {
      const parsed: unknown = JSON.parse(text);
      shapeOk = (await specErrors(parsed, "ErrorResponse")).length === 0 && Object.keys((parsed as { error: object }).error).length === 4;
      seenErrors.set(kind, parsed);
    } catch {
      shapeOk = false;
    }
    const typeOk = response.headers.get("content-type")?.startsWith("application/json") === true;
    if (response.status < 400 || response.status >= 500 || !shapeOk || !typeOk) {
      failures.push(`#${index} ${kind} → ${response.status} ${text.slice(0, 160)}`);
    }
  };
  // A few at a time: enough to interleave requests, few enough not to swamp two cores.
  for (let at = 0; at < bodies.length; at += 8) await Promise.all(bodies.slice(at, at + 8).map((b, i) => send(b, at + i)));

  expect(failures).toEqual([]);
  expect(bodies.length).toBeGreaterThanOrEqual(400);
  expect(seenErrors.size).toBeGreaterThanOrEqual(20);
  // Nothing reached Object.prototype of this process, where the gateway runs.
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();

  const health = await fetch(`${gw.url}/health`);
  expect(health.status).toBe(200);
  expect(await health.json()).toEqual({ status: "ok" });
  const completion = await gw.client().chat.completions.create({ model: "mock", messages: [{ role: "user", content: "still here" }] });
  expect(completion.choices[0]!.message.content!.trim()).toBe("still here");
  const status = (await (await fetch(`${gw.url}/status`)).json()) as { requests: { errors_5xx: number; errors_4xx: number } };
  expect(status.requests.errors_5xx).toBe(0);
  expect(status.requests.errors_4xx).toBe(bodies.length);
}, 60_000);

// Regression: a schema node without its own `error` text (tools[0], response_format.type, …) makes
// Elysia's ValidationError pretty-print the whole body (JSON.stringify(…, null, 2)), which is
// quadratic in nesting depth: 10k levels cost ~4 s of CPU, 100k overflow the stack into a 500.
test("a 100k-deep array as tools gets a quick 400 naming tools, not a 500", async () => {
  await using gw = startGateway({ CHATGATE_MOCK: "1" });
  const started = performance.now();
  const response = await post(`${gw.baseURL}/chat/completions`, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"tools":${nestedArrays(100_000)}}`);
  const elapsed = performance.now() - started;
  const body = (await response.json()) as { error: { param: string | null } };
  expect({ status: response.status, param: body.error.param?.startsWith("tools") }).toEqual({ status: 400, param: true });
  expect(elapsed).toBeLessThan(1000);
});

test("deep nesting under any field without its own error text is answered quickly too", async () => {
  await using gw = startGateway({ CHATGATE_MOCK: "1" });
  const deep = nestedArrays(6000);
  const bodies: Array<[string, string]> = [
    ["tools[0].type", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"tools":[{"type":${deep}}]}`],
    ["response_format.type", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"response_format":{"type":${deep}}}`],
    ["stream_options.include_usage", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":${deep}}}`],
  ];
  for (const [param, body] of bodies) {
    const started = performance.now();
    const response = await post(`${gw.baseURL}/chat/completions`, body);
    const error = ((await response.json()) as { error: { param: string | null } }).error;
    // The field itself or the path into it: `stream_options` is a nullable union, reported whole.
    const named = error.param !== null && param.startsWith(error.param);
    expect({ param, status: response.status, named, fast: performance.now() - started < 500 }).toEqual({ param, status: 400, named: true, fast: true });
  }
});
