// Structured outputs and strict tools across the translations: Anthropic's `output_config.format`
// (what the SDKs' `messages.parse` sends) as OpenAI's strict `response_format`, a tool's `strict`
// both ways, and the 400 for a schema an OpenAI-compatible target cannot be held to.
import { jsonSchemaOutputFormat } from "@anthropic-ai/sdk/helpers/json-schema";
import { describe, expect, test } from "bun:test";
import { post } from "./support/gateway.ts";
import { GPT, ON_ANTHROPIC, ON_OPENAI, anthropicClient, completionWith, startTargets } from "./support/messages.ts";

const HI = [{ role: "user" as const, content: "Ada Lovelace, 36, wrote the first program." }];
/** What the SDK sends for `jsonSchemaOutputFormat(PERSON)`: its transform closes every object. */
const PERSON = { type: "object", properties: { name: { type: "string" }, age: { type: "integer" } }, required: ["name", "age"] } as const;
const PERSON_SENT = { ...PERSON, additionalProperties: false };
type Sent = { response_format?: unknown; tools?: Array<{ function: Record<string, unknown> }> };

describe("output_config.format to an OpenAI-compatible target", () => {
  test("regression: messages.parse's output_config.format goes upstream as response_format json_schema, strict, and the answer parses", async () => {
    await using t = startTargets();
    t.oa.reply({ kind: "raw", status: 200, body: completionWith(GPT, { content: '{"name":"Ada","age":36}' }, "stop") });
    const message = await anthropicClient(t.gw.url).messages.parse({
      model: ON_OPENAI, max_tokens: 100, messages: HI, output_config: { format: jsonSchemaOutputFormat(PERSON) },
    });
    expect(message.parsed_output).toEqual({ name: "Ada", age: 36 });
    expect((t.oa.calls[0]!.body as Sent).response_format).toEqual({ type: "json_schema", json_schema: { name: "output", schema: PERSON_SENT, strict: true } });
  });

  test("regression: a schema OpenAI's strict mode cannot express is a 400 naming output_config.format, before any upstream call, not a silent drop", async () => {
    await using t = startTargets();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...PERSON_SENT, required: ["name"] }, "output_config.format.schema.required: property 'age' is optional"],
      [{ ...PERSON_SENT, properties: { ...PERSON.properties, pet: { type: "object", properties: { kind: { type: "string" } }, required: ["kind"] } }, required: ["name", "age", "pet"] }, "output_config.format.schema.properties.pet.additionalProperties: must be false"],
      [{ ...PERSON_SENT, properties: { name: { allOf: [{ type: "string" }] }, age: { type: "integer" } } }, "output_config.format.schema.properties.name.allOf: OpenAI's strict structured outputs do not support 'allOf'"],
      [{ type: "array", items: { type: "string" } }, "output_config.format.schema.type: the schema's root must be an object"],
    ];
    for (const [schema, message] of cases) {
      const res = await post(`${t.gw.url}/v1/messages`, { model: ON_OPENAI, max_tokens: 100, messages: HI, output_config: { format: { type: "json_schema", schema } } });
      expect([res.status, await res.json()]).toEqual([400, { type: "error", error: { type: "invalid_request_error", message: expect.stringContaining(message) }, request_id: expect.any(String) }]);
    }
    const count = await post(`${t.gw.url}/v1/messages/count_tokens`, { model: ON_OPENAI, messages: HI, output_config: { format: { type: "json_schema", schema: cases[0]![0] } } });
    expect(count.status).toBe(400);
    expect(t.oa.calls).toHaveLength(0);
  });

  test("an Anthropic target judges the format itself: the same optional property goes upstream as the client's bytes", async () => {
    await using t = startTargets();
    const format = { type: "json_schema", schema: { ...PERSON_SENT, required: ["name"] } };
    const res = await post(`${t.gw.url}/v1/messages`, { model: ON_ANTHROPIC, max_tokens: 100, messages: HI, output_config: { format } });
    expect(res.status).toBe(200);
    expect((t.claude.calls[0]!.body as { output_config: unknown }).output_config).toEqual({ format });
  });
});

describe("strict tools", () => {
  const READ = { type: "object" as const, properties: { path: { type: "string" } }, required: ["path"], additionalProperties: false };

  test("regression: a tool's strict: true on /v1/messages is the function's strict: true upstream; a tool without it has none", async () => {
    await using t = startTargets();
    t.oa.reply({ kind: "raw", status: 200, body: completionWith(GPT, { content: "ok" }, "stop") });
    await anthropicClient(t.gw.url).messages.create({
      model: ON_OPENAI, max_tokens: 100, messages: HI,
      tools: [{ name: "Read", input_schema: READ, strict: true }, { name: "Ls", input_schema: { type: "object", properties: {} } }],
    });
    const tools = (t.oa.calls[0]!.body as Sent).tools!;
    expect(tools.map((tool) => tool.function)).toEqual([
      { name: "Read", parameters: READ, strict: true },
      { name: "Ls", parameters: { type: "object", properties: {} } },
    ]);
  });

  test("regression: a chat completion's function strict: true reaches an Anthropic target as the tool's strict: true, with no beta header, as response_format does", async () => {
    await using t = startTargets();
    await t.gw.client().chat.completions.create({
      model: ON_ANTHROPIC, messages: [{ role: "user", content: "read /a" }],
      tools: [{ type: "function", function: { name: "Read", parameters: READ, strict: true } }, { type: "function", function: { name: "Ls", parameters: { type: "object", properties: {} } } }],
      response_format: { type: "json_schema", json_schema: { name: "person", schema: PERSON_SENT, strict: true } },
    });
    const sent = t.claude.calls[0]!;
    const body = sent.body as { tools: Array<Record<string, unknown>>; output_config: unknown };
    expect(body.tools).toEqual([
      { name: "Read", input_schema: READ, strict: true },
      { name: "Ls", input_schema: { type: "object", properties: {} } },
    ]);
    expect(body.output_config).toEqual({ format: { type: "json_schema", schema: PERSON_SENT } });
    expect(sent.headers["anthropic-beta"]).toBeUndefined();
  });
});
