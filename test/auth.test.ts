// Client keys (CHATGATE_API_KEYS): who gets in, what they get when they do not, and that no key —
// the client's or chatgate's own provider key — ever leaves the process where it should not.
import { describe, expect, test } from "bun:test";
import { readSse } from "./support/sse.ts";
import OpenAI from "openai";
import { post, startGateway } from "./support/gateway.ts";
import { fakeOpenAI } from "./support/upstream.ts";

// Distinctive, so a leak is found by a plain substring search, even a partly masked one.
const CLIENT_KEY = "ck-live-CLIENTSECRET-7f3a9c51";
const OTHER_KEY = "ck-live-OTHERSECRET-0d4e8b22";
const DIGEST_KEY = "ck-live-DIGESTSECRET-5a6b7c8d";
const UPSTREAM_KEY = "sk-upstream-PROVIDERSECRET-91b2e4f0";
const SECRETS = [CLIENT_KEY, OTHER_KEY, DIGEST_KEY, UPSTREAM_KEY, "CLIENTSECRET", "OTHERSECRET", "DIGESTSECRET", "PROVIDERSECRET"];

const hex = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const CHAT = { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] };
const AUTH_ERROR = { error: { message: expect.any(String), type: "invalid_request_error", param: null, code: "invalid_api_key" } };

/** A gateway in front of a fake upstream, with client keys on. */
function setup(keys = CLIENT_KEY, extra: Record<string, string> = {}) {
  const up = fakeOpenAI();
  const gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: UPSTREAM_KEY, CHATGATE_API_KEYS: keys, ...extra });
  return {
    up,
    gw,
    async [Symbol.asyncDispose]() {
      await gw.stop();
      await up.stop();
    },
  };
}

async function expect401(res: Response) {
  expect(res.status).toBe(401);
  expect(res.headers.get("content-type")).toStartWith("application/json");
  expect(await res.json()).toEqual(AUTH_ERROR);
}

/** Everything a client could see of a response: status line, headers and the whole body. */
async function transcript(res: Response): Promise<string> {
  return `${res.status}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join("\n")}\n\n${await res.text()}`;
}

describe("a valid client key", () => {
  test("Authorization: Bearer <key> is let through to the completion", async () => {
    await using s = setup();
    const res = await post(`${s.gw.url}/v1/chat/completions`, CHAT, bearer(CLIENT_KEY));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ object: "chat.completion" });
    expect(s.up.calls).toHaveLength(1);
  });

  test("the official SDK with the right key gets a completion, a stream and the model list", async () => {
    await using s = setup();
    const client = s.gw.client(CLIENT_KEY);
    const completion = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
    expect(completion.choices[0]?.message.content).toBe("Hello from upstream");
    const stream = await client.chat.completions.create({ model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "hi" }] });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("Hello from upstream");
    expect((await client.models.list()).data.map((m) => m.id)).toContain("gpt-4o-mini");
  });

  test("several comma-separated keys, spaces and sha256 entries included, each work and others do not", async () => {
    await using s = setup(` ${CLIENT_KEY} ,${OTHER_KEY}, sha256:${hex(DIGEST_KEY)} `);
    for (const key of [CLIENT_KEY, OTHER_KEY, DIGEST_KEY]) {
      expect((await fetch(`${s.gw.url}/v1/models`, { headers: bearer(key) })).status).toBe(200);
    }
    await expect401(await fetch(`${s.gw.url}/v1/models`, { headers: bearer("ck-live-NOT-LISTED") }));
    await expect401(await fetch(`${s.gw.url}/v1/models`, { headers: bearer("") }));
  });
});

describe("a sha256:<hex> entry", () => {
  test("accepts the key whose digest it is, in lower or upper case hex", async () => {
    await using s = setup(`sha256:${hex(DIGEST_KEY).toUpperCase()}`);
    expect((await post(`${s.gw.url}/v1/chat/completions`, CHAT, bearer(DIGEST_KEY))).status).toBe(200);
  });

  test("does not accept the hex digest itself, nor the entry as written, as a key", async () => {
    await using s = setup(`sha256:${hex(DIGEST_KEY)}`);
    await expect401(await post(`${s.gw.url}/v1/chat/completions`, CHAT, bearer(hex(DIGEST_KEY))));
    await expect401(await post(`${s.gw.url}/v1/chat/completions`, CHAT, bearer(`sha256:${hex(DIGEST_KEY)}`)));
    expect(s.up.calls).toHaveLength(0);
  });
});

describe("a missing, wrong or non-Bearer key", () => {
  const cases: [string, Record<string, string>][] = [
    ["no Authorization header", {}],
    ["a wrong key", bearer(OTHER_KEY)],
    ["the right key with one character changed", bearer(`${CLIENT_KEY.slice(0, -1)}0`)],
    ["the right key as Basic credentials", { authorization: `Basic ${btoa(`user:${CLIENT_KEY}`)}` }],
    ["the raw key without a scheme", { authorization: CLIENT_KEY }],
    ["Bearer with no key", { authorization: "Bearer" }],
    ["the key in an api-key header instead", { "api-key": CLIENT_KEY }],
  ];
  test("the message says what was wrong: no key, a malformed Authorization header, or a key that is not one of ours", async () => {
    await using s = setup();
    const messageOf = async (headers: Record<string, string>) => ((await (await post(`${s.gw.url}/v1/chat/completions`, CHAT, headers)).json()) as { error: { message: string } }).error.message;
    expect(await messageOf({})).toStartWith("Missing API key");
    // Two Authorization headers (joined by a comma), a key with a space, another scheme.
    for (const authorization of [`Bearer ${CLIENT_KEY}, Bearer ${OTHER_KEY}`, "Bearer a b", `Basic ${btoa("u:p")}`]) {
      expect(await messageOf({ authorization })).toBe("Malformed Authorization header: send one key as 'Authorization: Bearer <key>'.");
    }
    expect(await messageOf(bearer(OTHER_KEY))).toBe("Incorrect API key provided.");
  });

  for (const [what, headers] of cases) {
    test(`${what} gets 401 invalid_request_error invalid_api_key in OpenAI's error shape`, async () => {
      await using s = setup();
      await expect401(await post(`${s.gw.url}/v1/chat/completions`, CHAT, headers));
      expect(s.up.calls).toHaveLength(0);
    });
  }

  test("the official SDK with a wrong key raises AuthenticationError with code invalid_api_key", async () => {
    await using s = setup();
    const error = await s.gw.client(OTHER_KEY).chat.completions.create(CHAT as OpenAI.ChatCompletionCreateParamsNonStreaming).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(error).toMatchObject({ status: 401, code: "invalid_api_key", type: "invalid_request_error" });
    const streamError = await s.gw.client(OTHER_KEY).chat.completions.create({ ...CHAT, stream: true } as OpenAI.ChatCompletionCreateParamsStreaming).catch((e: unknown) => e);
    expect(streamError).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(s.up.calls).toHaveLength(0);
  });
});

describe("the key is checked before the body", () => {
  const bodies: [string, string][] = [
    ["malformed JSON", '{"model": "gpt-4o-mini", "messages": ['],
    ["an empty body", ""],
    ["a body missing messages", JSON.stringify({ model: "gpt-4o-mini" })],
    ["a body with an invalid role and temperature", JSON.stringify({ model: "x", temperature: 9, messages: [{ role: "wizard", content: 1 }] })],
  ];
  for (const [what, body] of bodies) {
    test(`a bad key with ${what} is 401, not 400`, async () => {
      await using s = setup();
      await expect401(await post(`${s.gw.url}/v1/chat/completions`, body, bearer(OTHER_KEY)));
      await expect401(await post(`${s.gw.url}/chat`, body, {}));
    });
  }

  test("a missing key with a body over the size limit is 401, not 413", async () => {
    await using s = setup(CLIENT_KEY, { CHATGATE_MAX_BODY_BYTES: "1024" });
    const big = JSON.stringify({ ...CHAT, messages: [{ role: "user", content: "x".repeat(4096) }] });
    await expect401(await post(`${s.gw.url}/v1/chat/completions`, big));
    expect((await post(`${s.gw.url}/v1/chat/completions`, big, bearer(CLIENT_KEY))).status).toBe(413);
  });

  test("the right key with a malformed body gets the 400, so the 401 above is about the key", async () => {
    await using s = setup();
    const res = await post(`${s.gw.url}/v1/chat/completions`, "{", bearer(CLIENT_KEY));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { type: "invalid_request_error" } });
  });
});

describe("which routes need a key", () => {
  test("/health, /docs and /docs/json answer without a key", async () => {
    await using s = setup();
    expect(await (await fetch(`${s.gw.url}/health`)).json()).toEqual({ status: "ok" });
    const docs = await fetch(`${s.gw.url}/docs`);
    expect(docs.status).toBe(200);
    expect(docs.headers.get("content-type")).toContain("text/html");
    const spec = await fetch(`${s.gw.url}/docs/json`);
    expect(spec.status).toBe(200);
    expect(await spec.json()).toMatchObject({ openapi: expect.stringMatching(/^3\./) });
  });

  const routes: [string, string, unknown?][] = [
    ["GET", "/v1/models"],
    ["GET", "/v1/models/gpt-4o-mini"],
    ["POST", "/v1/chat/completions", CHAT],
    ["POST", "/chat", { message: "hi" }],
    ["GET", "/status"],
  ];
  for (const [method, path, body] of routes) {
    test(`${method} ${path} is 401 without a key and answers 200 with one`, async () => {
      await using s = setup();
      const send = (headers: Record<string, string>) =>
        fetch(`${s.gw.url}${path}`, { method, headers: { "content-type": "application/json", ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
      await expect401(await send({}));
      await expect401(await send(bearer(OTHER_KEY)));
      expect((await send(bearer(CLIENT_KEY))).status).toBe(200);
    });
  }

  test("lookalike paths of the public routes are not public: unknown ones are 404s, protected ones 401s", async () => {
    await using s = setup();
    for (const path of ["/healthz", "/docsx", "/health/x", "/docs/status"]) {
      expect((await fetch(`${s.gw.url}${path}`)).status).toBe(404);
    }
    for (const path of ["/status?health", "/v1/models?/health", "/v1/models/health"]) {
      expect((await fetch(`${s.gw.url}${path}`)).status).toBe(401);
    }
  });
});

describe("the client's key stays with chatgate", () => {
  test("upstream gets OPENAI_API_KEY, never the client's key, for JSON, streams and /chat", async () => {
    await using s = setup();
    await post(`${s.gw.url}/v1/chat/completions`, CHAT, bearer(CLIENT_KEY)).then((r) => r.text());
    await post(`${s.gw.url}/v1/chat/completions`, { ...CHAT, stream: true }, bearer(CLIENT_KEY)).then((r) => r.text());
    await post(`${s.gw.url}/chat`, { message: "hi" }, bearer(CLIENT_KEY)).then((r) => r.text());
    expect(s.up.calls).toHaveLength(3);
    for (const call of s.up.calls) {
      expect(call.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
      expect(JSON.stringify(call.headers) + call.rawBody).not.toContain("CLIENTSECRET");
    }
  });

  test("with no OPENAI_API_KEY, upstream gets no Authorization header at all rather than the client's", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ OPENAI_BASE_URL: up.url, CHATGATE_API_KEYS: CLIENT_KEY });
    expect((await post(`${gw.url}/v1/chat/completions`, CHAT, bearer(CLIENT_KEY))).status).toBe(200);
    expect(up.calls[0]?.headers.authorization).toBeUndefined();
    expect(JSON.stringify(up.calls[0]?.headers)).not.toContain("CLIENTSECRET");
  });
});

/** Reads a streamed answer event by event (so a leak in an in-band error event is seen whole). */
async function streamText(res: Response): Promise<string> {
  const { data: events } = await readSse(res);
  return `${res.status}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join("\n")}\n\n${events.join("\n")}`;
}

describe("no key in any answer", () => {
  test("no client or provider key appears in any status line, header, error body, stream or /status", async () => {
    await using s = setup(`${CLIENT_KEY},sha256:${hex(DIGEST_KEY)}`);
    const { gw, up } = s;
    const echo = (status: number) => ({ kind: "error" as const, status, headers: { "retry-after": "1" }, error: { message: `Incorrect API key provided: ${UPSTREAM_KEY}.`, type: "invalid_request_error", param: null, code: "invalid_api_key" } });
    up.reply(echo(401), echo(403), echo(400), echo(429), echo(500), echo(422));
    const seen: string[] = [];
    const ask = async (path: string, body: unknown, headers: Record<string, string>) => seen.push(await transcript(await post(`${gw.url}${path}`, body, headers)));
    for (let i = 0; i < 6; i++) await ask("/v1/chat/completions", CHAT, bearer(CLIENT_KEY));
    // Each echoing upstream error went down its own path: auth failure (502), 4xx passed on, 429, 5xx.
    expect(seen.map((t) => t.slice(0, 3))).toEqual(["502", "502", "400", "429", "502", "422"]);
    await ask("/v1/chat/completions", CHAT, bearer(OTHER_KEY));
    await ask("/v1/chat/completions", CHAT, { authorization: CLIENT_KEY });
    await ask("/v1/chat/completions", CHAT, bearer(hex(DIGEST_KEY)));
    await ask("/v1/chat/completions", "{", bearer(DIGEST_KEY));
    await ask("/v1/chat/completions", { ...CHAT, temperature: 7 }, bearer(CLIENT_KEY));
    await ask("/chat", { message: 1 }, bearer(CLIENT_KEY));
    await ask("/chat", { message: "hi" }, bearer(DIGEST_KEY));
    await ask("/v1/nope", {}, bearer(CLIENT_KEY));
    for (const path of ["/status", "/v1/models", "/v1/models/nope", "/health", "/docs/json"]) {
      seen.push(await transcript(await fetch(`${gw.url}${path}`, { headers: bearer(CLIENT_KEY) })));
    }
    seen.push(await streamText(await post(`${gw.url}/v1/chat/completions`, { ...CHAT, stream: true }, bearer(CLIENT_KEY))));
    expect(seen.filter((t) => t.startsWith("401")).length).toBeGreaterThanOrEqual(3);
    expect(seen.some((t) => t.startsWith("502"))).toBe(true);
    for (const text of seen) for (const secret of SECRETS) expect(text).not.toContain(secret);
  });

  test("an upstream error event mid-stream that echoes the provider key reaches the client without it", async () => {
    await using s = setup();
    const chunk = { id: "c1", object: "chat.completion.chunk", created: 1, model: "gpt-4o-mini", choices: [{ index: 0, delta: { content: "Hi" }, finish_reason: null }] };
    const error = { error: { message: `Incorrect API key provided: ${UPSTREAM_KEY}.`, type: "invalid_request_error", param: null, code: "invalid_api_key" } };
    s.up.reply({ kind: "raw", status: 200, contentType: "text/event-stream", body: `data: ${JSON.stringify(chunk)}\n\ndata: ${JSON.stringify(error)}\n\n` });
    const text = await streamText(await post(`${s.gw.url}/v1/chat/completions`, { ...CHAT, stream: true }, bearer(CLIENT_KEY)));
    expect(text).toContain('"error"');
    for (const secret of SECRETS) expect(text).not.toContain(secret);
  });

  test("/status names the provider's host but neither its key nor credentials in its base URL", async () => {
    await using up = fakeOpenAI();
    const base = up.url.replace("http://", "http://admin:URLPASSWORD@");
    await using gw = startGateway({ OPENAI_BASE_URL: base, OPENAI_API_KEY: UPSTREAM_KEY, CHATGATE_API_KEYS: CLIENT_KEY });
    const res = await fetch(`${gw.url}/status`, { headers: bearer(CLIENT_KEY) });
    const text = await res.text();
    expect(JSON.parse(text).providers).toEqual([expect.objectContaining({ host: new URL(up.url).host })]);
    for (const secret of [...SECRETS, "URLPASSWORD"]) expect(text).not.toContain(secret);
  });
});
