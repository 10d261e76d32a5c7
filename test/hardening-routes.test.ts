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
  gw = await spawnBinary({ CHATGATE_MOCK: "1", CHATGATE_API_KEYS: KEY, CHATGATE_RATE_LIMIT_MAX: "0" });
}, 60_000);
afterAll(() => gw?.stop());

describe("one list of public routes", () => {
  test("every route the app serves needs a key except /, /health and the docs", async () => {
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
      expect(open.sort()).toEqual(["GET /docs", "GET /docs/assets/swagger-ui-bundle.js", "GET /docs/assets/swagger-ui.css", "GET /docs/json", "GET /health"]);
    } finally {
      await app.server!.stop(true);
    }
  });
});
