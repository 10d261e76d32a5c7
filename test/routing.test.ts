// Models and routing (issue 9): public names to their targets in order, `provider/model`
// addressing, 404 before any upstream call, weighted first picks, /v1/models, and the upstream's
// own model in every answer. Asserts what each fake upstream received as well as what the client got.
import { describe, expect, test } from "bun:test";
import type { ChatCompletion, ChatCompletionChunk } from "openai/resources/chat/completions";
import { TestClock, seededRandom } from "./support/clock.ts";
import { anthropicAt, openaiAt } from "./support/config-file.ts";
import { fakeAnthropic } from "./support/fake-anthropic.ts";
import { MODEL_CREATED } from "./support/openai-wire.ts";
import { HI, MODEL_A, MODEL_B, SMART, chat, errorOf, pair, startRouted } from "./support/routed.ts";
import { readSse } from "./support/sse.ts";
import { fakeOpenAI } from "./support/upstream.ts";

describe("a public name routes to its targets", () => {
  test("the first target answers when it can, asked for its own model; the second is never called", async () => {
    await using p = pair();
    const res = await chat(p.gw);
    expect(res.status).toBe(200);
    expect(((await res.json()) as ChatCompletion).model).toBe(MODEL_A);
    expect(p.a.calls.map((c) => (c.body as { model: string }).model)).toEqual([MODEL_A]);
    expect(p.b.calls).toHaveLength(0);
  });

  test("when the first target fails, the second gets the client's request with only the model replaced", async () => {
    await using p = pair();
    p.a.reply({ kind: "error", status: 500 });
    const sent = { model: SMART, messages: HI, temperature: 0.3, x_vendor_field: { keep: [1, 2] } };
    const res = await chat(p.gw, sent);
    expect(res.status).toBe(200);
    expect(((await res.json()) as ChatCompletion).model).toBe(MODEL_B);
    expect(p.a.calls.map((c) => c.body)).toEqual([{ ...sent, model: MODEL_A }]);
    expect(p.b.calls.map((c) => c.body)).toEqual([{ ...sent, model: MODEL_B }]);
  });

  test("a target whose model is the name the client used gets the client's bytes exactly as sent", async () => {
    await using up = fakeOpenAI();
    await using gw = startRouted({ providers: [openaiAt("a", up)], models: { "gpt-4o": { targets: [{ provider: "a", model: "gpt-4o" }] } } });
    const raw = '{ "messages" : [ {"role":"user","content":"h\\u00e9"} ],\n  "model":"gpt-4o", "seed": 7 }';
    const res = await fetch(`${gw.baseURL}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: raw });
    expect(res.status).toBe(200);
    expect(up.calls.map((c) => c.rawBody)).toEqual([raw]);
  });

  test("a target asked for another model gets every other field as the client wrote it, numbers a double cannot hold included", async () => {
    await using up = fakeOpenAI();
    await using gw = startRouted({ providers: [openaiAt("a", up)], models: { smart: { targets: [{ provider: "a", model: "gpt-4o" }] } } });
    const raw = '{"model":"smart","messages":[{"role":"user","content":"hi"}],"seed":9223372036854775807,"x_big":12345678901234567890,"x_float":0.1000000000000000055511151231257827,"x_huge":1e400,"temperature":0.5}';
    for (const stream of [false, true]) {
      const body = stream ? raw.replace('"temperature"', '"stream":true,"temperature"') : raw;
      const res = await fetch(`${gw.baseURL}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body });
      expect(res.status).toBe(200);
      await res.text();
      const sent = up.calls.at(-1)!.rawBody;
      for (const literal of ['"model":"gpt-4o"', '"seed":9223372036854775807', '"x_big":12345678901234567890', '"x_float":0.1000000000000000055511151231257827', '"x_huge":1e400', '"temperature":0.5']) {
        expect(sent).toContain(literal);
      }
    }
  });

  test("a base URL with a query (Azure OpenAI's api-version) has the API's paths joined before it", async () => {
    await using up = fakeOpenAI({ models: ["m"] });
    await using gw = startRouted({ providers: [openaiAt("az", up, { base_url: `${up.url}/?api-version=2024-10-21` })], models: { smart: { targets: [{ provider: "az", model: "m" }] } } });
    expect((await chat(gw, { model: "smart" })).status).toBe(200);
    expect((await fetch(`${gw.baseURL}/models`)).status).toBe(200);
    expect(up.calls.map((c) => c.path + c.query)).toEqual(["/v1/chat/completions?api-version=2024-10-21"]);
  });

  test("provider/model addresses that provider directly, asked for the model after the slash", async () => {
    await using p = pair();
    const res = await chat(p.gw, { model: "b/gpt-4.1-nano" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as ChatCompletion).model).toBe("gpt-4.1-nano");
    expect(p.b.calls.map((c) => (c.body as { model: string }).model)).toEqual(["gpt-4.1-nano"]);
    expect(p.a.calls).toHaveLength(0);
  });

  test("a name nothing serves is a 404 model_not_found, with no call to any upstream, when every provider lists its models", async () => {
    await using p = pair({ a: { models: [MODEL_A] }, b: { models: [MODEL_B] } });
    for (const model of ["gpt-nope", "nobody/model-a", "model-a-2"]) {
      const { status, error } = await errorOf(await chat(p.gw, { model }));
      expect(status).toBe(404);
      expect(error).toMatchObject({ type: "invalid_request_error", code: "model_not_found", param: "model" });
      expect(error.message).toContain(model);
    }
    expect(p.a.calls.length + p.b.calls.length + p.a.modelsCalls + p.b.modelsCalls).toBe(0);
  });

  test("provider/model naming a model the provider's configured list lacks is a 404 with no upstream call", async () => {
    await using p = pair({ a: { models: [MODEL_A] }, b: { models: [MODEL_B] } });
    const res = await chat(p.gw, { model: "a/model-z" });
    expect(res.status).toBe(404);
    expect((await errorOf(res)).error).toMatchObject({ code: "model_not_found", param: "model" });
    expect(p.a.calls.length + p.b.calls.length).toBe(0);
  });

  test("bodies and chunks keep the upstream's own model: a fallback's model shows, never the public name", async () => {
    await using p = pair();
    p.a.reply({ kind: "error", status: 503 }, { kind: "error", status: 503 });
    const json = (await (await chat(p.gw)).json()) as ChatCompletion;
    expect(json.model).toBe(MODEL_B);
    const read = await readSse(await chat(p.gw, { stream: true }));
    const chunks = read.data.filter((d) => d !== "[DONE]").map((d) => JSON.parse(d) as ChatCompletionChunk);
    expect(chunks.length).toBeGreaterThan(2);
    expect(new Set(chunks.map((c) => c.model))).toEqual(new Set([MODEL_B]));
    expect(read.data.at(-1)).toBe("[DONE]");
  });
});

describe("weighted routes", () => {
  test("over 1,000 requests the first target is drawn by weight (3:1) within a few percent, with no fallback call", async () => {
    await using heavy = fakeOpenAI();
    await using light = fakeOpenAI();
    const random = seededRandom(9);
    await using gw = startRouted(
      {
        providers: [openaiAt("heavy", heavy), openaiAt("light", light)],
        models: { cheap: { strategy: "weighted", targets: [{ provider: "heavy", model: "m-heavy", weight: 3 }, { provider: "light", model: "m-light", weight: 1 }] } },
      },
      new TestClock(Date.now(), random).overrides,
    );
    for (let batch = 0; batch < 10; batch++) {
      const answers = await Promise.all(Array.from({ length: 100 }, () => chat(gw, { model: "cheap" })));
      expect(answers.map((r) => r.status)).toEqual(Array(100).fill(200));
      await Promise.all(answers.map((r) => r.arrayBuffer()));
    }
    expect(heavy.calls.length + light.calls.length).toBe(1000);
    expect(Math.abs(heavy.calls.length / 1000 - 0.75)).toBeLessThan(0.03);
    expect(new Set(heavy.calls.map((c) => (c.body as { model: string }).model))).toEqual(new Set(["m-heavy"]));
  });

  test("after the drawn target, the others follow in configured order as fallbacks", async () => {
    await using x = fakeOpenAI();
    await using y = fakeOpenAI();
    await using z = fakeOpenAI();
    // 0.5 of a total weight of 3 lands on the second target: y first, then x, then z.
    await using gw = startRouted(
      {
        providers: [openaiAt("x", x), openaiAt("y", y), openaiAt("z", z)],
        models: { mix: { strategy: "weighted", targets: ["x", "y", "z"].map((id) => ({ provider: id, model: `m-${id}`, weight: 1 })) } },
      },
      new TestClock(Date.now(), () => 0.5).overrides,
    );
    for (const fake of [x, y, z]) fake.reply({ kind: "error", status: 500 });
    const { status, error } = await errorOf(await chat(gw, { model: "mix" }));
    expect(status).toBe(502);
    expect(error.message).toContain("y/m-y: 500 upstream_error; x/m-x: 500 upstream_error; z/m-z: 500 upstream_error");
    expect([x, y, z].map((f) => f.calls.length)).toEqual([1, 1, 1]);
  });
});

describe("GET /v1/models", () => {
  test("it lists exactly the public names (owned by chatgate) and each provider's models as provider/model (owned by the provider)", async () => {
    await using a = fakeOpenAI({ models: ["gpt-4.1", "gpt-4.1-mini"] });
    await using c = fakeAnthropic({ models: ["claude-sonnet-4-5-20250929", "claude-3-5-haiku-20241022"] });
    await using gw = startRouted({
      providers: [openaiAt("a", a), anthropicAt("c", c)],
      models: {
        smart: { targets: [{ provider: "c", model: "claude-sonnet-4-5-20250929" }, { provider: "a", model: "gpt-4.1" }] },
        cheap: { strategy: "weighted", targets: [{ provider: "a", model: "gpt-4.1-mini" }] },
      },
    });
    const res = await fetch(`${gw.baseURL}/models`);
    expect(res.status).toBe(200);
    const list = (await res.json()) as { object: string; data: { id: string; object: string; owned_by: string; created: number }[] };
    expect(list.object).toBe("list");
    expect(list.data.map(({ id, owned_by }) => ({ id, owned_by }))).toEqual([
      { id: "smart", owned_by: "chatgate" },
      { id: "cheap", owned_by: "chatgate" },
      { id: "a/gpt-4.1", owned_by: "a" },
      { id: "a/gpt-4.1-mini", owned_by: "a" },
      { id: "c/claude-sonnet-4-5-20250929", owned_by: "c" },
      { id: "c/claude-3-5-haiku-20241022", owned_by: "c" },
    ]);
    expect(list.data.every((m) => m.object === "model" && Number.isInteger(m.created))).toBe(true);
    expect(list.data.find((m) => m.id === "a/gpt-4.1")?.created).toBe(MODEL_CREATED);
    // What the list offers is what a request can use.
    const ids = list.data.map((m) => m.id);
    for (const id of ["cheap", "a/gpt-4.1", "c/claude-3-5-haiku-20241022"]) expect((await chat(gw, { model: id })).status).toBe(200);
    expect(ids).toHaveLength(6);
  });

  test("a provider's configured models are the ones listed, without asking its /models", async () => {
    await using p = pair({ a: { models: [MODEL_A, "model-a-mini"] } });
    const list = (await (await fetch(`${p.gw.baseURL}/models`)).json()) as { data: { id: string; owned_by: string }[] };
    expect(list.data.filter((m) => m.owned_by === "a").map((m) => m.id)).toEqual(["a/model-a", "a/model-a-mini"]);
    expect(p.a.modelsCalls).toBe(0);
  });
});

describe("names the list implies", () => {
  test("Anthropic's undated alias of a listed model (claude-sonnet-4-5) is callable as provider/alias and plainly, and goes upstream as it is", async () => {
    await using c = fakeAnthropic({ models: ["claude-sonnet-4-5-20250929", "claude-sonnet-4-20250514", "claude-3-5-haiku-20241022"] });
    await using gw = startRouted({ providers: [anthropicAt("c", c)], models: { smart: { targets: [{ provider: "c", model: "claude-sonnet-4-5" }] } } });
    // The list is known once fetched: before it, any name goes to Anthropic, which decides.
    expect((await fetch(`${gw.baseURL}/models`)).status).toBe(200);
    // Anthropic's own alias forms: major and minor undated, a major alone with -0, the older naming with -latest.
    for (const model of ["c/claude-sonnet-4-5", "claude-sonnet-4-5", "c/claude-sonnet-4-0", "c/claude-3-5-haiku-latest"]) {
      expect((await chat(gw, { model })).status).toBe(200);
      expect(((await c.nextCall()).body as { model: string }).model).toBe(model.replace("c/", ""));
    }
    // As the openai SDK's models.retrieve sends a name with a slash.
    const retrieved = await fetch(`${gw.baseURL}/models/${encodeURIComponent("c/claude-sonnet-4-5")}`);
    expect([retrieved.status, ((await retrieved.json()) as { owned_by: string }).owned_by]).toEqual([200, "c"]);
    // Nothing the list implies: still a 404 before any call.
    const calls = c.calls.length;
    for (const model of ["c/claude-sonnet-9", "c/claude-3-5-haiku", "c/claude-sonnet-4"]) expect((await errorOf(await chat(gw, { model }))).status).toBe(404);
    expect(c.calls).toHaveLength(calls);
  });

  test("GET /v1/models/{name} answers every name a chat request is answered for: a provider's model by its plain name, any name on the mock alone", async () => {
    await using a = fakeOpenAI({ models: ["gpt-4.1"] });
    await using gw = startRouted({ providers: [openaiAt("a", a)], models: { smart: { targets: [{ provider: "a", model: "gpt-4.1" }] } } });
    const plain = await fetch(`${gw.baseURL}/models/gpt-4.1`);
    expect([plain.status, await plain.json()]).toMatchObject([200, { id: "gpt-4.1", object: "model", owned_by: "a" }]);
    expect((await chat(gw, { model: "gpt-4.1" })).status).toBe(200);
    expect((await fetch(`${gw.baseURL}/models/gpt-9`)).status).toBe(404);
    await using mock = startRouted({ providers: [{ id: "mock", type: "mock" }] });
    const any = await fetch(`${mock.baseURL}/models/gpt-4o-mini`);
    expect([any.status, await any.json()]).toMatchObject([200, { id: "gpt-4o-mini", object: "model" }]);
  });
});
