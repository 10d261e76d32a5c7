import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import type { ChatCompletion } from "openai/resources/chat/completions";
import { ConfigError, parseConfig } from "../src/config.ts";
import { CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS } from "../src/http/cors.ts";
import { post, startGateway } from "./support/gateway.ts";
import { everyRecord } from "./support/records.ts";
import { runGateway, SOURCE_CMD } from "./support/process.ts";

// CORS at the header level, against the real app on a random port. What a browser makes of these
// headers is tested in a real browser in cors-browser.test.ts.

const ALLOWED = "http://app.example.test:5173";
const OTHER = "https://evil.example.test";
const KEY = "sk-cors-test";
const bearer = { authorization: `Bearer ${KEY}` };
const CHAT = { model: "mock", messages: [{ role: "user" as const, content: "cross origin" }] };

const preflight = (url: string, origin: string, requestHeaders = "authorization, content-type") =>
  fetch(url, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": requestHeaders } });

type ErrorBody = { error: { message: string; type: string } };

const listOf = (value: string | null) => (value ?? "").split(",").map((h) => h.trim().toLowerCase()).filter(Boolean);

/** What a browser checks on an actual response before it lets the page read it. */
function expectReadableBy(res: Response, origin: string): void {
  expect(res.headers.get("access-control-allow-origin")).toBe(origin);
  expect(listOf(res.headers.get("access-control-expose-headers"))).toEqual([...CORS_EXPOSE_HEADERS]);
  expect(res.headers.get("vary")).toBe("Origin");
  expect(res.headers.get("access-control-allow-credentials")).toBeNull();
}

const corsGateway = (env: Record<string, string> = {}) =>
  startGateway({ CHATGATE_MOCK: "1", CHATGATE_CORS_ORIGINS: `${ALLOWED},https://other-app.example.test`, CHATGATE_API_KEYS: KEY, ...env });

describe("CHATGATE_CORS_ORIGINS", () => {
  const parse = (value: string) => parseConfig({ CHATGATE_CORS_ORIGINS: value }).corsOrigins;

  test("is off by default and when empty", () => {
    expect(parseConfig({}).corsOrigins).toEqual([]);
    expect(parse(" ")).toEqual([]);
  });

  test("takes a comma list of origins, kept as a browser writes them in Origin", () => {
    expect(parse("https://app.example.com, http://localhost:5173,HTTPS://Admin.Example.com:443")).toEqual([
      "https://app.example.com", "http://localhost:5173", "https://admin.example.com",
    ]);
    expect(parse("http://[::1]:8080")).toEqual(["http://[::1]:8080"]);
  });

  test("takes * for any origin", () => {
    expect(parse("*")).toEqual(["*"]);
    expect(parse("https://app.example.com,*")).toEqual(["*"]);
  });

  test("refuses a bad entry with a ConfigError naming the variable and the entry", () => {
    for (const bad of ["app.example.com", "https://app.example.com/", "https://app.example.com/path", "ftp://files.example.com", "null", "https://a.example.com,,https://b.example.com", "https://", "http://*.a.com", "https://app.*"]) {
      let caught: unknown;
      try {
        parse(bad);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).variable).toBe("CHATGATE_CORS_ORIGINS");
      const entry = bad.split(",").find((e) => e !== "https://a.example.com" && e !== "https://b.example.com")!;
      expect((caught as ConfigError).message).toContain(entry === "" ? "entry 2 is empty" : `"${entry}"`);
    }
  });

  test("a bad entry stops chatgate before it listens, with exit code 2", async () => {
    const { stderr, stdout, code } = await runGateway([...SOURCE_CMD, "--mock"], { PORT: "0", CHATGATE_CORS_ORIGINS: "https://app.example.com/chat" });
    expect(code).toBe(2);
    expect(stderr).toContain("CHATGATE_CORS_ORIGINS");
    expect(stderr).toContain("https://app.example.com/chat");
    expect(stdout).not.toContain("listening");
  });
});

describe("CORS off (the default)", () => {
  test("behaves exactly as before: no CORS header, and OPTIONS on a known path is a 405 with Allow", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const pre = await preflight(`${gw.url}/v1/chat/completions`, ALLOWED);
    expect(pre.status).toBe(405);
    expect(pre.headers.get("allow")).toBe("POST");
    expect(((await pre.json()) as ErrorBody).error.type).toBe("invalid_request_error");
    const res = await post(`${gw.url}/v1/chat/completions`, CHAT, { origin: ALLOWED });
    expect(res.status).toBe(200);
    await res.text();
    for (const r of [pre, res]) {
      for (const name of r.headers.keys()) expect(name.startsWith("access-control-")).toBe(false);
      expect(r.headers.get("vary")).toBeNull();
    }
  });
});

describe("CORS with a list of origins", () => {
  test("a preflight from an allowed origin is answered without a key, with the methods and headers the SDK needs", async () => {
    await using gw = corsGateway();
    const res = await preflight(`${gw.url}/v1/chat/completions`, ALLOWED);
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    expect(res.headers.get("vary")).toBe("Origin");
    expect(listOf(res.headers.get("access-control-allow-methods"))).toEqual(expect.arrayContaining(["get", "post", "options"]));
    const allowed = listOf(res.headers.get("access-control-allow-headers"));
    for (const name of ["authorization", "content-type", "x-request-id", "x-stainless-os", "x-stainless-lang", "x-stainless-package-version",
      "x-stainless-runtime", "x-stainless-runtime-version", "x-stainless-arch", "x-stainless-retry-count", "x-stainless-timeout",
      "x-stainless-helper-method", "x-stainless-async", "openai-organization", "openai-project"]) {
      expect(allowed).toContain(name);
    }
    expect(Number(res.headers.get("access-control-max-age"))).toBeGreaterThan(0);
    expect(await res.text()).toBe("");
  });

  test("every header the official SDK sends is allowed without being asked for (read from a real SDK request)", async () => {
    const seen = Promise.withResolvers<string[]>();
    await using capture = Bun.serve({
      port: 0,
      fetch(request) {
        seen.resolve([...request.headers.keys()]);
        return Response.json({ error: { message: "captured", type: "invalid_request_error" } }, { status: 400 });
      },
    });
    const client = new OpenAI({ apiKey: KEY, baseURL: `${capture.url}v1`, maxRetries: 0, organization: "org-x", project: "proj-x" });
    await client.chat.completions.create({ ...CHAT, stream: true }).catch(() => {});
    // What the browser never preflights: CORS-safelisted names, and names a page cannot set.
    const needless = new Set(["accept", "accept-language", "content-language", "host", "connection", "content-length", "user-agent", "accept-encoding"]);
    const sent = (await seen.promise).filter((name) => !needless.has(name));
    expect(sent).toEqual(expect.arrayContaining(["authorization", "content-type", "x-stainless-lang", "openai-organization", "openai-project"]));
    expect(CORS_ALLOW_HEADERS).toEqual(expect.arrayContaining(sent));
  });

  test("a preflight asking for a header we never listed still allows it", async () => {
    await using gw = corsGateway();
    const res = await preflight(`${gw.url}/v1/chat/completions`, ALLOWED, "authorization, X-Stainless-Brand-New, content-type");
    expect(res.status).toBe(204);
    expect(listOf(res.headers.get("access-control-allow-headers"))).toEqual(expect.arrayContaining(["authorization", "content-type", "x-stainless-brand-new"]));
  });

  test("preflights never count against the rate limit", async () => {
    await using gw = corsGateway({ CHATGATE_RATE_LIMIT_MAX: "1" });
    for (let i = 0; i < 5; i++) expect((await preflight(`${gw.url}/v1/chat/completions`, ALLOWED)).status).toBe(204);
    const res = await post(`${gw.url}/v1/chat/completions`, CHAT, { ...bearer, origin: ALLOWED });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-ratelimit-remaining")).toBe("0");
    expectReadableBy(res, ALLOWED);
    await res.text();
  });

  test("a preflight is a request answered: one finish record, 204, no key, nothing routed", async () => {
    await using gw = corsGateway();
    const records = everyRecord(gw);
    const res = await preflight(`${gw.url}/v1/chat/completions`, ALLOWED);
    expect(res.status).toBe(204);
    await records.count(1);
    expect(records.all).toEqual([
      expect.objectContaining({ requestId: res.headers.get("x-request-id"), route: "/v1/chat/completions", status: 204, outcome: "ok", keyId: null, model: null, attempts: [] }),
    ]);
  });

  test("a JSON answer and a stream carry the headers, with the gateway's own headers exposed", async () => {
    await using gw = corsGateway({ CHATGATE_RATE_LIMIT_MAX: "10" });
    const json = await post(`${gw.url}/v1/chat/completions`, CHAT, { ...bearer, origin: ALLOWED });
    expect(json.status).toBe(200);
    expectReadableBy(json, ALLOWED);
    expect(((await json.json()) as ChatCompletion).choices[0]!.message.content).toBe("cross origin");
    const stream = await post(`${gw.url}/v1/chat/completions`, { ...CHAT, stream: true }, { ...bearer, origin: ALLOWED });
    expect(stream.headers.get("content-type")).toStartWith("text/event-stream");
    expectReadableBy(stream, ALLOWED);
    for (const name of ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-request-id", "x-chatgate-provider", "x-chatgate-model", "x-chatgate-attempts"]) {
      expect(stream.headers.get(name)).not.toBeNull();
      expect(listOf(stream.headers.get("access-control-expose-headers"))).toContain(name);
    }
    expect(await stream.text()).toEndWith("data: [DONE]\n\n");
  });

  test("the second origin of the list is echoed too, and so are GET routes", async () => {
    await using gw = corsGateway();
    const res = await fetch(`${gw.url}/v1/models`, { headers: { ...bearer, origin: "https://other-app.example.test" } });
    expect(res.status).toBe(200);
    expectReadableBy(res, "https://other-app.example.test");
    await res.text();
  });

  test("every error carries the headers: 401, 429, 404, 405, 413 and 400", async () => {
    // Two requests in the window: the 413 and the 400 use them up (limits run before the body is read).
    await using gw = corsGateway({ CHATGATE_RATE_LIMIT_MAX: "2", CHATGATE_MAX_BODY_BYTES: "1000" });
    const headers = { origin: ALLOWED };
    const answers: [number, Response][] = [
      [401, await post(`${gw.url}/v1/chat/completions`, CHAT, { ...headers, authorization: "Bearer wrong" })],
      [413, await post(`${gw.url}/v1/chat/completions`, { ...CHAT, padding: "x".repeat(2000) }, { ...headers, ...bearer })],
      [404, await fetch(`${gw.url}/v1/no-such-thing`, { headers })],
      [405, await fetch(`${gw.url}/v1/chat/completions`, { headers: { ...headers, ...bearer } })],
      [400, await post(`${gw.url}/v1/chat/completions`, "{not json", { ...headers, ...bearer })],
      [429, await post(`${gw.url}/v1/chat/completions`, CHAT, { ...headers, ...bearer })],
    ];
    for (const [status, res] of answers) {
      expect(`${status}: ${res.status}`).toBe(`${status}: ${status}`);
      expectReadableBy(res, ALLOWED);
      expect(((await res.json()) as ErrorBody).error.message).toBeString();
    }
    expect(answers.at(-1)![1].headers.get("retry-after")).not.toBeNull();
  });

  test("a disallowed origin gets no Access-Control-Allow-Origin, on the preflight or on anything else", async () => {
    await using gw = corsGateway();
    const pre = await preflight(`${gw.url}/v1/chat/completions`, OTHER);
    const answers = [
      pre,
      await post(`${gw.url}/v1/chat/completions`, CHAT, { ...bearer, origin: OTHER }),
      await post(`${gw.url}/v1/chat/completions`, CHAT, { origin: OTHER }),
      await fetch(`${gw.url}/nope`, { headers: { origin: OTHER } }),
      // The scheme is part of the origin: http:// is not the https:// origin on the list.
      await fetch(`${gw.url}/health`, { headers: { origin: "https://app.example.test:5173" } }),
    ];
    for (const res of answers) {
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
      expect(res.headers.get("vary")).toBe("Origin");
      await res.text();
    }
    expect(pre.headers.get("access-control-allow-methods")).toBeNull();
  });

  test("an OPTIONS that is no preflight (no Access-Control-Request-Method) is still a 405 with Allow", async () => {
    await using gw = corsGateway();
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "OPTIONS", headers: { origin: ALLOWED } });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
    expectReadableBy(res, ALLOWED);
  });

  test("a preflight for an unknown path is answered, so the page then reads the real 404", async () => {
    await using gw = corsGateway();
    expect((await preflight(`${gw.url}/v1/nothing-here`, ALLOWED)).status).toBe(204);
  });
});

describe("CORS with *", () => {
  test("answers * to any origin, and to requests without one, never with credentials or Vary", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1", CHATGATE_CORS_ORIGINS: "*", CHATGATE_API_KEYS: KEY });
    const pre = await preflight(`${gw.url}/v1/chat/completions`, OTHER);
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("*");
    expect(listOf(pre.headers.get("access-control-allow-headers"))).toContain("authorization");
    const answers = [
      await post(`${gw.url}/v1/chat/completions`, { ...CHAT, stream: true }, { ...bearer, origin: OTHER }),
      await post(`${gw.url}/v1/chat/completions`, CHAT, { origin: OTHER }),
      await fetch(`${gw.url}/v1/models`, { headers: bearer }),
      await fetch(`${gw.url}/missing`),
    ];
    for (const res of [pre, ...answers]) {
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(res.headers.get("access-control-allow-credentials")).toBeNull();
      expect(res.headers.get("vary")).toBeNull();
      await res.text();
    }
    for (const res of answers) expect(listOf(res.headers.get("access-control-expose-headers"))).toEqual([...CORS_EXPOSE_HEADERS]);
  });
});
