// GET /v1/models/{id} against GET /v1/models over real HTTP: an id with slashes is found as curl
// sends it (unencoded) and as the openai SDK sends it (%2F), and a retrieved model is exactly the
// entry the list shows (audit: `oai/gpt-4o` was a 404 "Invalid URL" unless encoded, and `created`
// and `owned_by` differed between the two answers for the same model).
import { describe, expect, test } from "bun:test";
import { openaiAt } from "./support/config-file.ts";
import { startGateway, type TestGateway } from "./support/gateway.ts";
import { MODEL_CREATED } from "./support/openai-wire.ts";
import { errorOf, startRouted } from "./support/routed.ts";
import { fakeOpenAI } from "./support/upstream.ts";

interface ModelJson {
  id: string;
  object: string;
  created: number;
  owned_by: string;
}

async function list(gw: TestGateway): Promise<ModelJson[]> {
  return ((await (await fetch(`${gw.baseURL}/models`)).json()) as { data: ModelJson[] }).data;
}

async function retrieve(gw: TestGateway, path: string): Promise<ModelJson> {
  const res = await fetch(`${gw.baseURL}/models/${path}`);
  expect([path, res.status]).toEqual([path, 200]);
  return (await res.json()) as ModelJson;
}

describe("GET /v1/models/{id}", () => {
  test("regression: an id with slashes is retrieved sent as it is and encoded; an unknown one is OpenAI's 404 model_not_found", async () => {
    await using oai = fakeOpenAI({ models: ["gpt-4o"] });
    await using hf = fakeOpenAI({ models: ["Qwen/Qwen2.5-7B-Instruct"] });
    await using gw = startRouted({ providers: [openaiAt("oai", oai), openaiAt("vllm", hf)] });
    const listed = await list(gw);
    for (const id of ["oai/gpt-4o", "vllm/Qwen/Qwen2.5-7B-Instruct"]) {
      const entry = listed.find((m) => m.id === id);
      expect(entry).toBeDefined();
      expect(await retrieve(gw, id)).toEqual(entry!);
      expect(await retrieve(gw, encodeURIComponent(id))).toEqual(entry!);
    }
    for (const path of ["oai/gpt-9", "nobody/Qwen/Qwen2.5-7B-Instruct"]) {
      const { status, error } = await errorOf(await fetch(`${gw.baseURL}/models/${path}`));
      expect([status, error]).toEqual([404, { message: `The model \`${path}\` does not exist or you do not have access to it.`, type: "invalid_request_error", param: "model", code: "model_not_found" }]);
    }
    // Regression: an escape that decodes to no text was named as a replacement character.
    for (const path of ["%ZZ", "oai/%E0%A4%A"]) {
      const { status, error } = await errorOf(await fetch(`${gw.baseURL}/models/${path}`));
      expect([status, error.message]).toEqual([404, `The model \`${path}\` does not exist or you do not have access to it.`]);
    }
  });

  test("regression: a listed model is retrieved as exactly its entry in the list, created and owned_by included, on every set-up", async () => {
    await using oai = fakeOpenAI({ models: ["gpt-4o"] });
    await using mockOnly = startGateway({ CHATGATE_MOCK: "1" });
    await using env = startGateway({ OPENAI_BASE_URL: oai.url, OPENAI_API_KEY: "sk-test", CHATGATE_MOCK: "1" });
    await using file = startRouted({ providers: [openaiAt("oai", oai), { id: "mock", type: "mock" }], models: { smart: { targets: [{ provider: "oai", model: "gpt-4o" }] } } });
    for (const gw of [mockOnly, env, file]) {
      for (const entry of await list(gw)) expect(await retrieve(gw, entry.id)).toEqual(entry);
    }
  });

  test("regression: a name only callable answers as the list's entry of the model serving it, under its own name", async () => {
    await using oai = fakeOpenAI({ models: ["gpt-4o"] });
    await using gw = startRouted({ providers: [openaiAt("oai", oai), { id: "mock", type: "mock" }], models: { smart: { targets: [{ provider: "oai", model: "gpt-4o" }] } } });
    const listed = await list(gw);
    expect(await retrieve(gw, "gpt-4o")).toEqual({ ...listed.find((m) => m.id === "oai/gpt-4o")!, id: "gpt-4o" });
    expect((await retrieve(gw, "gpt-4o")).created).toBe(MODEL_CREATED);
    expect(await retrieve(gw, "mock")).toEqual({ ...listed.find((m) => m.id === "mock/mock")!, id: "mock" });
  });

  test("a name with no entry to copy (any name on the mock alone) is owned as its provider's models are listed, created when the public names were", async () => {
    await using mockOnly = startGateway({ CHATGATE_MOCK: "1" });
    const [mock] = await list(mockOnly);
    expect((await retrieve(mockOnly, "gpt-4o")).owned_by).toBe(mock!.owned_by);
    await using file = startRouted({ providers: [{ id: "mock", type: "mock" }], models: { smart: { targets: [{ provider: "mock", model: "mock" }] } } });
    const listed = await list(file);
    const smart = listed.find((m) => m.id === "smart")!;
    expect(await retrieve(file, "gpt-4o")).toEqual({ id: "gpt-4o", object: "model", created: smart.created, owned_by: listed.find((m) => m.id === "mock/mock")!.owned_by });
  });
});
