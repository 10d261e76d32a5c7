// The operational routes: /health, /status, /v1/models, /docs and /docs/json.
import Ajv2020 from "ajv/dist/2020";
import { describe, expect, test } from "bun:test";
import type { ChatCompletionCreateParamsNonStreaming } from "openai/resources/chat/completions";
import type { OpenAPIV3 } from "openapi-types";
import pkg from "../package.json" with { type: "json" };
import { post, startGateway } from "./support/gateway.ts";
import { fakeOpenAI } from "./support/upstream.ts";
import { modelObject } from "./support/openai-wire.ts";
import { specErrors } from "./chat-spec-check.ts";
import { expectOpenAIError } from "./errors-shape.ts";

const KEY = "sk-proj-UPSTREAM-status-Hk3Pq9Xw";
const CLIENT_KEY = "sk-client-status-Zr8Tn4";
const ask: ChatCompletionCreateParamsNonStreaming = { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] };

interface Status {
  uptime_s: number;
  version: string;
  providers: Array<{ id: string; type: string; host: string | null }>;
  in_flight: { json: number; streams: number };
  requests: { total: number; completions: number; streams: number; errors_4xx: number; errors_5xx: number };
}
const readStatus = async (url: string, headers: Record<string, string> = {}): Promise<Status> => {
  const response = await fetch(`${url}/status`, { headers });
  expect(response.status).toBe(200);
  return (await response.json()) as Status;
};

describe("GET /health", () => {
  test("it answers 200 {status: ok} without a key and without calling the upstream", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: KEY, CHATGATE_API_KEYS: CLIENT_KEY });
    const response = await fetch(`${gw.url}/health`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toStartWith("application/json");
    expect(await response.json()).toEqual({ status: "ok" });
    expect(up.calls).toHaveLength(0);
    expect(up.modelsCalls).toBe(0);
    // …while its neighbour /status is not public.
    await expectOpenAIError(await fetch(`${gw.url}/status`), 401, { code: "invalid_api_key" });
  });
});

describe("GET /status", () => {
  test("it reports a growing uptime and package.json's version", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const first = await readStatus(gw.url);
    // Nothing to await between two reads of a clock: a short sleep is the event here.
    await Bun.sleep(20);
    const second = await readStatus(gw.url);
    expect(typeof first.uptime_s).toBe("number");
    expect(second.uptime_s).toBeGreaterThan(first.uptime_s);
    expect(second.uptime_s).toBeLessThan(60);
    expect(first.version).toBe(pkg.version);
  });

  test("it lists the providers by id, type and host, and never a key", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: KEY, CHATGATE_MOCK: "1", CHATGATE_API_KEYS: CLIENT_KEY });
    const response = await fetch(`${gw.url}/status`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    const text = await response.text();
    expect(text).not.toContain(KEY);
    expect(text).not.toContain(CLIENT_KEY);
    expect(text).not.toContain("sk-");
    const { providers } = JSON.parse(text) as Status;
    expect(providers).toEqual(
      expect.arrayContaining([
        { id: "openai", type: "openai", host: new URL(up.url).host },
        { id: "mock", type: "mock", host: null },
      ]),
    );
    expect(providers).toHaveLength(2);
  });

  test("in_flight counts a stalled JSON request and a stalled stream while they are open", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: KEY });
    expect((await readStatus(gw.url)).in_flight).toEqual({ json: 0, streams: 0 });

    up.reply({ kind: "stall" }, { kind: "stream", stallAfterEvents: 2 });
    const controller = new AbortController();
    const json = post(`${gw.baseURL}/chat/completions`, ask).catch(() => undefined);
    const jsonCall = await up.nextCall();
    expect((await readStatus(gw.url)).in_flight).toEqual({ json: 1, streams: 0 });

    const stream = await fetch(`${gw.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...ask, stream: true }),
      signal: controller.signal,
    });
    expect(stream.status).toBe(200);
    const streamCall = await up.nextCall();
    expect((await readStatus(gw.url)).in_flight).toEqual({ json: 1, streams: 1 });

    controller.abort();
    await stream.body?.cancel().catch(() => undefined);
    await streamCall.aborted;
    await up.stop();
    await json;
    await jsonCall.aborted;
    // The gateway's own "nothing in flight" signal, which graceful shutdown waits on.
    await gw.app.stats.idle();
    expect((await readStatus(gw.url)).in_flight).toEqual({ json: 0, streams: 0 });
  });

  test("its request counters grow with completions, streams and errors", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: KEY });
    const before = await readStatus(gw.url);
    await gw.client().chat.completions.create(ask);
    for await (const _ of await gw.client().chat.completions.create({ ...ask, stream: true })) {
      // drained: the stream counts once it is done
    }
    await post(`${gw.baseURL}/chat/completions`, { model: "gpt-4o" });
    up.reply({ kind: "error", status: 500 });
    await post(`${gw.baseURL}/chat/completions`, ask);
    const after = await readStatus(gw.url);
    expect(after.requests.total - before.requests.total).toBe(5);
    expect(after.requests.streams - before.requests.streams).toBe(1);
    expect(after.requests.errors_4xx - before.requests.errors_4xx).toBe(1);
    expect(after.requests.errors_5xx - before.requests.errors_5xx).toBe(1);
    expect(after.requests.completions - before.requests.completions).toBeGreaterThanOrEqual(1);
    expect(after.requests.completions - before.requests.completions).toBeLessThanOrEqual(2);
  });
});

describe("GET /v1/models", () => {
  test("it lists the upstream's ids by name, plus mock when the mock is on, as an OpenAI list", async () => {
    const ids = ["ft:gpt-4o-mini:acme::abc123", "org/some-model", "gpt-4o"];
    await using up = fakeOpenAI({ models: ids });
    await using withMock = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: KEY, CHATGATE_MOCK: "1" });
    await using upstreamOnly = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: KEY });

    const response = await fetch(`${withMock.baseURL}/models`);
    expect(response.headers.get("content-type")).toStartWith("application/json");
    const list = (await response.json()) as { object: string; data: Array<{ id: string }> };
    expect(await specErrors(list, "ListModelsResponse")).toEqual([]);
    expect(list.object).toBe("list");
    expect(list.data.map((m) => m.id).sort()).toEqual([...ids, "mock"].sort());
    expect(list.data).toEqual(expect.arrayContaining(ids.map(modelObject)));

    const viaSdk: string[] = [];
    for await (const model of upstreamOnly.client().models.list()) viaSdk.push(model.id);
    expect(viaSdk.sort()).toEqual([...ids].sort());
    expect(up.modelsCalls).toBeGreaterThanOrEqual(1);
  });

  test("the mock alone lists mock", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const list = (await (await fetch(`${gw.baseURL}/models`)).json()) as { data: Array<{ id: string }> };
    expect(await specErrors(list, "ListModelsResponse")).toEqual([]);
    expect(list.data.map((m) => m.id)).toContain("mock");
  });

  test("GET /v1/models/{id} returns the model, or a 404 model_not_found", async () => {
    await using up = fakeOpenAI({ models: ["ft:gpt-4o-mini:acme::abc123", "org/some-model"] });
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: KEY, CHATGATE_MOCK: "1" });
    const client = gw.client();
    expect(await client.models.retrieve("ft:gpt-4o-mini:acme::abc123")).toMatchObject(modelObject("ft:gpt-4o-mini:acme::abc123"));
    expect(await client.models.retrieve("org/some-model")).toMatchObject({ id: "org/some-model", object: "model" });
    const mock = await (await fetch(`${gw.baseURL}/models/mock`)).json();
    expect(await specErrors(mock, "Model")).toEqual([]);
    expect(mock).toMatchObject({ id: "mock", object: "model" });
    await expectOpenAIError(await fetch(`${gw.baseURL}/models/gpt-9-imaginary`), 404, { type: "invalid_request_error", code: "model_not_found" });
  });
});

describe("GET /docs and /docs/json", () => {
  test("the model routes' answers match their documented schemas, also once the routes have answered (which compiles them)", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const list = await (await fetch(`${gw.baseURL}/models`)).json();
    const one = await (await fetch(`${gw.baseURL}/models/mock`)).json();
    const anthropicList = await (await fetch(`${gw.baseURL}/models`, { headers: { "anthropic-version": "2023-06-01" } })).json();
    const doc = (await (await fetch(`${gw.url}/docs/json`)).json()) as { paths: Record<string, { get: { responses: Record<string, { content: Record<string, { schema: object }> }> } }> };
    const ajv = new Ajv2020({ strict: false });
    const schemaOf = (path: string) => doc.paths[path]!.get.responses["200"]!.content["application/json"]!.schema;
    const listed = ajv.compile(schemaOf("/v1/models"));
    expect([listed(list), listed(anthropicList), ajv.validate(schemaOf("/v1/models/{model}"), one)]).toEqual([true, true, true]);
  });


  test("the Swagger UI page loads only assets chatgate serves itself, without a key and with no CDN", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1", CHATGATE_API_KEYS: CLIENT_KEY });
    const page = await fetch(`${gw.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toStartWith("text/html");
    const html = await page.text();
    expect(html).not.toMatch(/https?:\/\//);
    const assets = [...html.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"/g)].map((m) => new URL(m[1]!, page.url));
    expect(assets.some((u) => u.pathname.endsWith(".js"))).toBe(true);
    expect(assets.some((u) => u.pathname.endsWith(".css"))).toBe(true);
    for (const asset of assets) {
      expect(asset.origin).toBe(gw.url);
      const response = await fetch(asset);
      expect({ asset: asset.pathname, status: response.status }).toEqual({ asset: asset.pathname, status: 200 });
      expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    }
    // The document the UI is told to load resolves, relative to the page, to /docs/json.
    const specUrl = /"url"\s*:\s*"([^"]+)"/.exec(html)?.[1];
    expect(specUrl).toBeDefined();
    const spec = await fetch(new URL(specUrl!, page.url));
    expect(spec.status).toBe(200);
    expect(((await spec.json()) as OpenAPIV3.Document).paths).toBeDefined();
  });

  const ROUTES: Array<[string, string]> = [
    ["post", "/v1/chat/completions"],
    ["post", "/chat"],
    ["get", "/v1/models"],
    ["get", "/v1/models/{model}"],
    ["get", "/health"],
    ["get", "/status"],
  ];
  const docsJson = async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const response = await fetch(`${gw.url}/docs/json`);
    expect(response.status).toBe(200);
    return (await response.json()) as OpenAPIV3.Document;
  };
  const operation = (doc: OpenAPIV3.Document, method: string, path: string) => {
    const key = Object.keys(doc.paths).find((p) => p === path || p.replace(/\{[^}]+\}/g, "{}") === path.replace(/\{[^}]+\}/g, "{}"));
    return key === undefined ? undefined : (doc.paths[key] as Record<string, OpenAPIV3.OperationObject | undefined>)[method];
  };

  test("the OpenAPI 3 document lists every route, each with a JSON schema for its 200 answer", async () => {
    const doc = await docsJson();
    expect(doc.openapi).toMatch(/^3\./);
    for (const [method, path] of ROUTES) {
      const op = operation(doc, method, path);
      expect({ route: `${method} ${path}`, documented: op !== undefined }).toEqual({ route: `${method} ${path}`, documented: true });
      const ok = op!.responses["200"] as OpenAPIV3.ResponseObject;
      expect(ok.content?.["application/json"]?.schema).toMatchObject({ type: "object" });
    }
  });

  test("every POST route's documented example body, the one the docs page's Try it out starts from, is answered 200 by the mock", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const doc = (await (await fetch(`${gw.url}/docs/json`)).json()) as OpenAPIV3.Document;
    const posts = Object.entries(doc.paths).flatMap(([path, item]) => {
      const body = (item as Record<string, OpenAPIV3.OperationObject>).post?.requestBody as OpenAPIV3.RequestBodyObject | undefined;
      const schema = body?.content["application/json"]?.schema as OpenAPIV3.SchemaObject | undefined;
      return schema === undefined || path.startsWith("/hooks") ? [] : [{ path, example: schema.example as unknown }];
    });
    expect(posts.map((p) => p.path).sort()).toEqual(["/chat", "/v1/chat/completions", "/v1/embeddings", "/v1/messages", "/v1/messages/count_tokens", "/v1/responses"]);
    for (const { path, example } of posts) {
      expect({ path, example: example !== undefined }).toEqual({ path, example: true });
      const answer = await fetch(`${gw.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(example) });
      expect({ path, status: answer.status }).toEqual({ path, status: 200 });
    }
  });

  test("the OpenAPI document gives the JSON request body schema of both POST routes", async () => {
    const doc = await docsJson();
    const expectations: Array<[string, string[]]> = [
      ["/v1/chat/completions", ["model", "messages"]],
      ["/chat", ["message"]],
    ];
    for (const [path, required] of expectations) {
      const body = operation(doc, "post", path)?.requestBody as OpenAPIV3.RequestBodyObject | undefined;
      const schema = body?.content["application/json"]?.schema as OpenAPIV3.SchemaObject | undefined;
      expect({ path, required: schema?.required, properties: Object.keys(schema?.properties ?? {}).filter((p) => required.includes(p)) }).toEqual({
        path,
        required: expect.arrayContaining(required),
        properties: required,
      });
    }
  });

  test("the OpenAPI document gives the error answers: 400 for the POST routes, 404 for a model", async () => {
    const doc = await docsJson();
    const errorsOf = (method: string, path: string) => Object.keys(operation(doc, method, path)?.responses ?? {});
    expect(errorsOf("post", "/v1/chat/completions")).toEqual(expect.arrayContaining(["200", "400"]));
    expect(errorsOf("post", "/chat")).toEqual(expect.arrayContaining(["200", "400"]));
    expect(errorsOf("get", "/v1/models/{model}")).toEqual(expect.arrayContaining(["200", "404"]));
  });

  test("the OpenAPI document lists every status a route can answer with, 5xx of its upstream and 429 of its limits included", async () => {
    const doc = await docsJson();
    const errorsOf = (method: string, path: string) => Object.keys(operation(doc, method, path)?.responses ?? {});
    for (const path of ["/v1/chat/completions", "/chat"]) expect(errorsOf("post", path)).toEqual(expect.arrayContaining(["200", "400", "401", "404", "413", "429", "502", "503", "504"]));
    expect(errorsOf("get", "/status")).toEqual(expect.arrayContaining(["200", "401", "429"]));
    for (const path of ["/v1/models", "/v1/models/{model}"]) expect(errorsOf("get", path)).toEqual(expect.arrayContaining(["200", "401", "429", "502"]));
  });
});
