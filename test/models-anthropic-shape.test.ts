// GET /v1/models and /v1/models/{id} in Anthropic's shape (asked with `anthropic-version`): every
// entry a whole ModelInfo as the Models API reference has it — `lifecycle`, which the current
// Python SDK requires, and every field the TypeScript SDK types as present — with an Anthropic
// provider's own fields carried as it listed them, under chatgate's id.
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { describe, expect, test } from "bun:test";
import { modelInfo } from "./support/anthropic-wire.ts";
import { anthropicAt, openaiAt } from "./support/config-file.ts";
import { fakeAnthropic } from "./support/fake-anthropic.ts";
import { anthropicClient } from "./support/messages.ts";
import { startRouted } from "./support/routed.ts";
import { fakeOpenAI } from "./support/upstream.ts";

const ANTHROPIC = { "anthropic-version": "2023-06-01" };
const nullable = (type: string, extra: Record<string, unknown> = {}) => ({ type: [type, "null"], ...extra });

/** ModelInfo as the Models API reference (and anthropic-sdk-typescript's `ModelInfo`) has it: every field present. */
const MODEL_INFO = {
  type: "object",
  required: ["id", "type", "display_name", "created_at", "lifecycle", "deprecated_at", "retires_at", "line", "max_input_tokens", "max_tokens", "capabilities"],
  properties: {
    id: { type: "string" },
    type: { const: "model" },
    display_name: { type: "string" },
    created_at: { type: "string", format: "date-time" },
    lifecycle: { enum: ["active", "deprecated", "retired"] },
    deprecated_at: nullable("string", { format: "date-time" }),
    retires_at: nullable("string", { format: "date-time" }),
    line: nullable("string"),
    max_input_tokens: nullable("integer"),
    max_tokens: nullable("integer"),
    capabilities: nullable("object"),
  },
};
const validModelInfo = addFormats(new Ajv2020({ allErrors: true })).compile(MODEL_INFO);

const SONNET = "claude-sonnet-4-5-20250929";
const HAIKU = "claude-3-5-haiku-20241022";

/** A gateway with an Anthropic provider whose list is fetched, an OpenAI-compatible one with a configured list, the mock, and a public name. */
function start() {
  const claude = fakeAnthropic();
  const oa = fakeOpenAI();
  const gw = startRouted({
    providers: [anthropicAt("claude", claude), openaiAt("oa", oa, { models: ["gpt-4.1"] }), { id: "m", type: "mock" }],
    models: { coder: { targets: [{ provider: "claude", model: "claude-sonnet-4-5" }] } },
  });
  return { gw, [Symbol.asyncDispose]: () => gw.stop().then(() => Promise.all([claude.stop(), oa.stop()])).then(() => {}) };
}

type Entry = Record<string, unknown> & { id: string };
const listOf = async (url: string): Promise<Entry[]> => ((await (await fetch(`${url}/v1/models?limit=1000`, { headers: ANTHROPIC })).json()) as { data: Entry[] }).data;
const oneOf = async (url: string, id: string): Promise<Entry> => (await (await fetch(`${url}/v1/models/${encodeURIComponent(id)}`, { headers: ANTHROPIC })).json()) as Entry;

describe("models in Anthropic's shape", () => {
  test("regression: every entry of the list and of GET /v1/models/{id} validates against the Models API's ModelInfo (lifecycle and every field), whoever serves it", async () => {
    await using t = start();
    const list = await listOf(t.gw.url);
    expect(list.map((m) => m.id)).toEqual(expect.arrayContaining(["coder", `claude/${SONNET}`, "oa/gpt-4.1", "m/mock"]));
    for (const entry of list) {
      expect([entry.id, validModelInfo(entry), validModelInfo.errors ?? null]).toEqual([entry.id, true, null]);
      expect(await oneOf(t.gw.url, entry.id)).toEqual(entry);
    }
  });

  test("regression: a model an Anthropic provider listed keeps the provider's display_name, lifecycle, dates, limits and capabilities, under chatgate's id", async () => {
    await using t = start();
    const list = await listOf(t.gw.url);
    expect(list.find((m) => m.id === `claude/${SONNET}`)).toEqual({ ...modelInfo(SONNET), id: `claude/${SONNET}` });
    expect(list.find((m) => m.id === `claude/${HAIKU}`)).toMatchObject({ display_name: "Claude Haiku 3.5", lifecycle: "deprecated", retires_at: "2026-02-19T00:00:00Z" });
    const one = await anthropicClient(t.gw.url).models.retrieve(`claude/${SONNET}`);
    expect([one.id, one.display_name, one.lifecycle, one.max_input_tokens, one.capabilities?.structured_outputs]).toEqual([`claude/${SONNET}`, "Claude Sonnet 4.5", "active", 200_000, { supported: true }]);
  });

  test("a model no Anthropic provider listed takes its id as display name, lifecycle active, and null for what nobody said", async () => {
    await using t = start();
    for (const id of ["coder", "oa/gpt-4.1", "m/mock"]) {
      expect(await oneOf(t.gw.url, id)).toEqual({
        type: "model", id, display_name: id, created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/), lifecycle: "active",
        deprecated_at: null, retires_at: null, line: null, max_input_tokens: null, max_tokens: null, capabilities: null,
      });
    }
  });

  test("OpenAI's list and model object keep OpenAI's four fields: an Anthropic provider's own object stays out", async () => {
    await using t = start();
    const openai = (await (await fetch(`${t.gw.url}/v1/models`)).json()) as { data: Entry[] };
    for (const entry of openai.data) expect(Object.keys(entry).sort()).toEqual(["created", "id", "object", "owned_by"]);
    const one = (await (await fetch(`${t.gw.url}/v1/models/${encodeURIComponent(`claude/${SONNET}`)}`)).json()) as Entry;
    expect(one).toEqual({ id: `claude/${SONNET}`, object: "model", created: Date.parse("2025-09-29T00:00:00Z") / 1000, owned_by: "claude" });
  });
});
