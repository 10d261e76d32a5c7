// Regression tests, against the compiled binary, for the routing edges a new user trips over: an
// OpenAPI document that asked for a key on /health, a docs page that broke under /docs/, a bare 404
// at `/`, and 404s where a wrong method deserved a 405 that says which one to use.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { OpenAPIV3 } from "openapi-types";
import { createApp } from "../src/app.ts";
import { parseConfig } from "../src/config.ts";
import { expectOpenAIError } from "./errors-shape.ts";
import { spawnBinary } from "./support/binary.ts";
import type { GatewayProcess } from "./support/process.ts";
import { rawRequest } from "./support/raw-http.ts";

const KEY = "ck-hardening-routes-key";
const bearer = { authorization: `Bearer ${KEY}` };

let gw: GatewayProcess;
beforeAll(async () => {
  gw = await spawnBinary({ CHATGATE_MOCK: "1", CHATGATE_API_KEYS: KEY, CHATGATE_RATE_LIMIT_MAX: "0", CHATGATE_AUTH_FAILURE_LIMIT: "0" });
}, 60_000);
afterAll(() => gw?.stop());

describe("the OpenAPI document says which routes need a key", () => {
  test("/ and /health carry security: [] (no key); the API routes keep the document's bearer requirement", async () => {
    const doc = (await (await fetch(`${gw.url}/docs/json`)).json()) as OpenAPIV3.Document;
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.paths["/health"]?.get?.security).toEqual([]);
    expect(doc.paths["/"]?.get?.security).toEqual([]);
    for (const [path, method] of [["/status", "get"], ["/v1/models", "get"], ["/v1/chat/completions", "post"], ["/chat", "post"]] as const) {
      const operation = doc.paths[path]?.[method];
      expect({ path, documented: operation !== undefined, security: operation?.security }).toEqual({ path, documented: true, security: undefined });
    }
    // The docs themselves are not API routes: not in the document.
    expect(Object.keys(doc.paths).filter((p) => p.startsWith("/docs"))).toEqual([]);
  });

  test("what the document calls public is public and the rest needs a key, route by route", async () => {
    const doc = (await (await fetch(`${gw.url}/docs/json`)).json()) as OpenAPIV3.Document;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of ["get", "post"] as const) {
        const operation = item?.[method];
        if (operation === undefined) continue;
        const url = `${gw.url}${path.replace(/\{[^}]+\}/g, "mock")}`;
        const res = await fetch(url, { method, headers: { "content-type": "application/json" }, body: method === "post" ? "{}" : undefined });
        // An empty requirement among the alternatives (`[{}, {bearer: []}]`) makes the key optional: a webhook with a secret takes none.
        const security = operation.security ?? doc.security!;
        const needsKey = security.length > 0 && !security.some((s) => Object.keys(s).length === 0);
        expect({ path, method, status: res.status === 401 ? 401 : "answered" }).toEqual({ path, method, status: needsKey ? 401 : "answered" });
      }
    }
  });
});

describe("the way into the docs", () => {
  test("/docs/ redirects to /docs, and the page loads its document from the root, so it works from either", async () => {
    const slash = await fetch(`${gw.url}/docs/`, { redirect: "manual" });
    expect(slash.status).toBe(308);
    expect(slash.headers.get("location")).toBe("/docs");
    const followed = await fetch(`${gw.url}/docs/`);
    expect(followed.status).toBe(200);
    expect(followed.url).toBe(`${gw.url}/docs`);
    const html = await followed.text();
    const specUrl = /"url"\s*:\s*"([^"]+)"/.exec(html)?.[1];
    expect(specUrl).toBe("/docs/json");
    // Resolved against the old /docs/ address too, it is the document (it was /docs/docs/json, a 404).
    const spec = await fetch(new URL(specUrl!, `${gw.url}/docs/`));
    expect(spec.status).toBe(200);
    expect(((await spec.json()) as OpenAPIV3.Document).openapi).toMatch(/^3\./);
  });

  test("GET / answers a JSON index of links without a key, and every link leads somewhere", async () => {
    const res = await fetch(`${gw.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("application/json");
    const index = (await res.json()) as { name: string; version: string; links: Record<string, string> };
    expect(index).toMatchObject({ name: "chatgate", links: { docs: "/docs", openapi: "/docs/json", health: "/health", chat_completions: "/v1/chat/completions", models: "/v1/models" } });
    for (const link of Object.values(index.links)) {
      const method = link === "/v1/chat/completions" ? "POST" : "GET";
      const status = (await fetch(`${gw.url}${link}`, { method, headers: { ...bearer, "content-type": "application/json" }, body: method === "POST" ? '{"model":"mock","messages":[{"role":"user","content":"hi"}]}' : undefined })).status;
      expect({ link, status }).toEqual({ link, status: 200 });
    }
  });

  test("a trailing slash on another known route redirects to it, keeping the query; on an unknown one it is a 404", async () => {
    const res = await fetch(`${gw.url}/v1/models/?x=1`, { redirect: "manual" });
    expect(res.status).toBe(308);
    expect(res.headers.get("location")).toBe("/v1/models?x=1");
    await expectOpenAIError(await fetch(`${gw.url}/v1/nothing/`, { redirect: "manual" }), 404);
    // Never a redirect to another host: `//host/` is not a route of ours.
    const raw = await rawRequest(gw.url, "GET //evil.example/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    expect(raw.status).toBe(404);
  });
});

describe("a wrong method on a known route", () => {
  const cases: Array<[string, string, string]> = [
    ["GET", "/v1/chat/completions", "POST"],
    ["PUT", "/v1/chat/completions", "POST"],
    ["GET", "/chat", "POST"],
    ["GET", "/v1/embeddings", "POST"],
    ["DELETE", "/health", "GET, HEAD"],
    ["POST", "/v1/models", "GET, HEAD"],
    ["DELETE", "/v1/models/mock", "GET, HEAD"],
    ["PATCH", "/status", "GET, HEAD"],
    ["POST", "/", "GET, HEAD"],
  ];
  for (const [method, path, allow] of cases) {
    test(`${method} ${path} is a 405 with Allow: ${allow} and a message naming the method to use, key or no key`, async () => {
      for (const headers of [{}, bearer, { authorization: "Bearer wrong" }]) {
        const res = await fetch(`${gw.url}${path}`, { method, headers, body: method === "GET" ? undefined : "{}" });
        expect(res.headers.get("allow")).toBe(allow);
        const error = await expectOpenAIError(res, 405, { type: "invalid_request_error", param: null });
        expect(error.message).toBe(`Invalid method for URL (${method} ${path}): use ${allow.replace(", HEAD", "")}.`);
      }
    });
  }

  test("unknown paths stay 404 whatever the method, and HEAD on a protected GET route needs a key like GET", async () => {
    for (const method of ["GET", "POST", "DELETE"]) {
      const error = await expectOpenAIError(await fetch(`${gw.url}/v1/fine_tuning/jobs`, { method, body: method === "GET" ? undefined : "{}" }), 404);
      expect(error.message).toBe(`Invalid URL (${method} /v1/fine_tuning/jobs).`);
    }
    expect((await fetch(`${gw.url}/status`, { method: "HEAD" })).status).toBe(401);
    expect((await fetch(`${gw.url}/status`, { method: "HEAD", headers: bearer })).status).toBe(200);
    expect((await fetch(`${gw.url}/health`, { method: "HEAD" })).status).toBe(200);
  });

  test("404s and 405s count in /status like other errors", async () => {
    const read = async () => ((await (await fetch(`${gw.url}/status`, { headers: bearer })).json()) as { requests: { total: number; errors_4xx: number } }).requests;
    const before = await read();
    await fetch(`${gw.url}/nowhere`);
    await fetch(`${gw.url}/v1/chat/completions`);
    const after = await read();
    expect(after.total - before.total).toBe(3);
    expect(after.errors_4xx - before.errors_4xx).toBe(2);
  });
});

describe("one list of public routes", () => {
  test("every route the app serves needs a key except /, /health, the docs and the webhooks (each hook: a signature or a key)", async () => {
    const { app } = createApp(parseConfig({ CHATGATE_MOCK: "1", CHATGATE_API_KEYS: KEY, CHATGATE_RATE_LIMIT_MAX: "0" }));
    app.listen({ hostname: "127.0.0.1", port: 0 });
    const url = `http://127.0.0.1:${app.server!.port}`;
    try {
      const open: string[] = [];
      for (const route of app.routes) {
        const path = route.path.replace(/:[^/]+/g, "mock");
        const res = await fetch(`${url}${path}`, { method: route.method, body: route.method === "GET" ? undefined : "{}" });
        if (res.status !== 401) open.push(`${route.method} ${route.path}`);
      }
      // /hooks/:name: no hook is configured here, so a 404 before any talk of keys (test/hooks.test.ts covers configured ones).
      expect(open.sort()).toEqual(["GET /", "GET /docs", "GET /docs/assets/swagger-ui-bundle.js", "GET /docs/assets/swagger-ui.css", "GET /docs/json", "GET /health", "POST /hooks/:name"]);
    } finally {
      await app.server!.stop(true);
    }
  });
});
