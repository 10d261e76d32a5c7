// Label values stay bounded: names the config does not know fold into `other`.
import { describe, expect, test } from "bun:test";
import { createApp } from "../../src/app.ts";
import { parseConfig } from "../../src/config.ts";
import { MetricLabels, reasonLabel, routeLabel } from "../../src/obs/metrics-labels.ts";
import { writeConfig } from "../support/config-file.ts";

describe("model and provider names", () => {
  const config = parseConfig({
    CHATGATE_CONFIG: writeConfig({
      providers: [
        { id: "a", type: "openai", base_url: "http://127.0.0.1:9/v1", api_key: "sk-a", models: ["model-a", "model-x"] },
        { id: "b", type: "openai", base_url: "http://127.0.0.1:9/v1", api_key: "sk-b" },
        { id: "m", type: "mock" },
      ],
      models: { smart: { targets: [{ provider: "a", model: "model-a" }, { provider: "b", model: "model-b" }] } },
    }),
    CHATGATE_DEFAULT_MODEL: "house-default",
  });
  const labels = new MetricLabels(config);

  test("route names, targets as provider/model, providers' listed models, the mock's and the default model are their own labels", () => {
    for (const name of ["smart", "a/model-a", "b/model-b", "model-a", "model-x", "a/model-x", "mock", "m/mock", "house-default"]) {
      expect(labels.model(name)).toBe(name);
    }
  });

  test("any other model name a client sends is `other`, and no name is `none`", () => {
    for (const name of ["gpt-4o", "b/model-x", "model-b", "smart ", "SMART", "x".repeat(10_000)]) expect(labels.model(name)).toBe("other");
    expect(labels.model(null)).toBe("none");
  });

  test("configured providers are their own labels; anything else is `other`", () => {
    expect(["a", "b", "m", "openai", null].map((id) => labels.provider(id))).toEqual(["a", "b", "m", "other", "none"]);
  });
});

describe("routes and reasons", () => {
  test("the API routes keep their path, a model's path is /v1/models/:model, any other path is `other`", () => {
    expect(routeLabel("/v1/chat/completions")).toBe("/v1/chat/completions");
    expect(routeLabel("/chat")).toBe("/chat");
    expect(routeLabel("/metrics")).toBe("/metrics");
    expect(routeLabel("/v1/models")).toBe("/v1/models");
    expect(routeLabel("/v1/usage")).toBe("/v1/usage");
    for (const path of ["/v1/models/gpt-4o", "/v1/models/oai/gpt-4o", "/v1/models/a/b/c/d"]) expect(routeLabel(path)).toBe("/v1/models/:model");
    for (const path of ["/v1/models/a/b/c/d/e", "/v1/models//a", "/v1/models/a/", "/v1/chat/completions/", "/admin", "/.env", `/${"x".repeat(5000)}`]) expect(routeLabel(path)).toBe("other");
  });

  test("every route the app serves has a label of its own: each answered request is counted under its route, never `other`", () => {
    const { app } = createApp(parseConfig({ CHATGATE_MOCK: "1", CHATGATE_LEDGER: "0" }));
    const paths = [...new Set(app.routes.map((r) => r.path.replace(/:[^/]+/g, "some-name")))];
    expect(paths.length).toBeGreaterThan(10);
    expect(paths.filter((path) => routeLabel(path) === "other")).toEqual([]);
  });

  test("chatgate's own codes and error types are reasons; an upstream's own code is `other`", () => {
    for (const reason of ["ok", "resumed", "upstream_error", "upstream_timeout", "rate_limit_exceeded", "server_error"]) expect(reasonLabel(reason)).toBe(reason);
    for (const reason of ["insufficient_quota", "context_length_exceeded", "sk-leaked-looking-thing"]) expect(reasonLabel(reason)).toBe("other");
  });
});
