// Issue 8, the upstream side, against the compiled binary: a provider's redirects are never
// followed, and its error fields never carry our key to the client.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createParser } from "eventsource-parser";
import { spawnBinary } from "./support/binary.ts";
import { chatCompletionChunks, sseEvent } from "./support/openai-wire.ts";
import type { GatewayProcess } from "./support/process.ts";

// A "/" in the key, so an upstream that JSON-escapes it (`\/`) hides it from a plain text search.
const KEY = "sk-proj-UPSTREAM/KEY-q7Zx4T9vLm2Rk8Wc";
const ESCAPED_KEY = "\\u0073k-proj-UPSTREAM\\/KEY-q7Zx4T9vLm2Rk8Wc";
const FIRST_EVENT = sseEvent(chatCompletionChunks("gpt-4o-mini", ["Hi"], false)[0]!);

type Handler = (request: Request) => Response | Promise<Response>;

interface Upstream extends AsyncDisposable {
  url: string;
  /** Chat requests seen per script name, and a promise per script that resolves when its client goes away. */
  hits: Map<string, number>;
  aborted(script: string): Promise<void>;
}

/**
 * A fake provider whose chat answer is chosen by the request itself: the first message's content
 * names a script, so one upstream and one gateway serve every case of a group, concurrently.
 */
function scriptedUpstream(scripts: Record<string, Handler>, models: Handler = () => Response.json({ object: "list", data: [] })): Upstream {
  const hits = new Map<string, number>();
  const aborts = new Map<string, PromiseWithResolvers<void>>();
  const abortOf = (name: string) => aborts.get(name) ?? aborts.set(name, Promise.withResolvers<void>()).get(name)!;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(request) {
      const path = new URL(request.url).pathname;
      if (path === "/v1/models") return models(request);
      const body = (await request.json()) as { messages: Array<{ content: string }> };
      const name = body.messages[0]!.content;
      hits.set(name, (hits.get(name) ?? 0) + 1);
      request.signal.addEventListener("abort", () => abortOf(name).resolve(), { once: true });
      const script = scripts[name];
      return script ? script(request) : new Response(`no script ${name}`, { status: 500 });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/v1`,
    hits,
    aborted: (name) => abortOf(name).promise,
    [Symbol.asyncDispose]: () => server.stop(true),
  };
}

const chat = (url: string, script: string, stream = false) =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o-mini", stream, messages: [{ role: "user", content: script }] }),
    signal: AbortSignal.timeout(8_000),
  });

interface WireError {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

async function expectError(res: Response, status: number, code: string): Promise<WireError> {
  const text = await res.text();
  expect({ status: res.status, text }).toMatchObject({ status });
  const body = JSON.parse(text) as { error: WireError };
  expect(body.error).toMatchObject({ type: status === 429 || status < 500 ? expect.any(String) : "server_error", code });
  return body.error;
}

/** The events of an SSE body, each one's data. */
function events(text: string): string[] {
  const data: string[] = [];
  createParser({ onEvent: (event) => data.push(event.data) }).feed(text);
  return data;
}

describe("upstream redirects are never followed", () => {
  const target = { hits: 0, server: undefined as ReturnType<typeof Bun.serve> | undefined };
  const location = () => `http://127.0.0.1:${target.server!.port}/v1/chat/completions?token=LOCATION-SECRET`;
  const redirect = (status: number) => () => new Response(null, { status, headers: { location: location() } });
  let up: Upstream;
  let gw: GatewayProcess;

  beforeAll(async () => {
    target.server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => (target.hits++, Response.json({ choices: [] })) });
    up = scriptedUpstream({ "307": redirect(307), "308": redirect(308), "302": redirect(302) }, redirect(302));
    gw = await spawnBinary({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: KEY });
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.[Symbol.asyncDispose]();
    await target.server?.stop(true);
  });

  const expectRedirectError = async (res: Response) => {
    const error = await expectError(res, 502, "upstream_redirect");
    expect(error.message).toContain("'openai'");
    for (const leak of ["LOCATION-SECRET", "token", String(target.server!.port), KEY]) expect(error.message).not.toContain(leak);
  };

  test.each(["307", "308", "302"])("regression: a %p to another host on a JSON chat call is a 502 naming the provider, and the target receives nothing", async (status) => {
    await expectRedirectError(await chat(gw.url, status));
    expect(target.hits).toBe(0);
  });

  test.each(["307", "308"])("regression: a %p on a streamed chat call is a 502, and the target receives nothing", async (status) => {
    await expectRedirectError(await chat(gw.url, status, true));
    expect(target.hits).toBe(0);
  });

  test("regression: a redirect on /models is a 502, and the target receives nothing", async () => {
    await expectRedirectError(await fetch(`${gw.url}/v1/models`));
    expect(target.hits).toBe(0);
  });
});

describe("every string of an upstream error is redacted", () => {
  const FIELDS = ["message", "type", "param", "code"] as const;
  const errorWith = (field: string, escaped: boolean): WireError => {
    const key = escaped ? "@@KEY@@" : KEY;
    const error: WireError = { message: "Refused.", type: "invalid_request_error", param: null, code: null };
    return { ...error, [field]: field === "message" ? `Refused for ${key}.` : key };
  };
  // The key as the upstream sent it: plain, or JSON-escaped in the raw text.
  const wire = (field: string, escaped: boolean) => JSON.stringify({ error: errorWith(field, escaped) }).replace("@@KEY@@", ESCAPED_KEY);
  const scripts: Record<string, Handler> = {};
  for (const field of FIELDS) {
    for (const escaped of [false, true]) {
      for (const status of [400, 429, 500]) {
        scripts[`${status} ${field} ${escaped}`] = () => new Response(wire(field, escaped), { status, headers: { "content-type": "application/json" } });
      }
      scripts[`event ${field} ${escaped}`] = () =>
        new Response(FIRST_EVENT + `data: ${wire(field, escaped)}\n\n`, { headers: { "content-type": "text/event-stream" } });
    }
  }
  let up: Upstream;
  let gw: GatewayProcess;
  beforeAll(async () => {
    up = scriptedUpstream(scripts);
    gw = await spawnBinary({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: KEY });
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.[Symbol.asyncDispose]();
  });

  const expectNoKey = (text: string) => {
    expect(text).not.toContain(KEY);
    expect(text).not.toContain("UPSTREAM\\/KEY");
    expect(text).not.toContain("q7Zx4T9vLm2Rk8Wc");
  };
  const cases = FIELDS.flatMap((field) => [false, true].map((escaped) => [field, escaped ? "JSON-escaped" : "plain", escaped] as const));

  describe.each([400, 429, 500])("an upstream %p", (status) => {
    const expected = status === 500 ? 502 : status;
    test.each(cases)("regression: the key in `%s` (%s) never reaches the client of a JSON call or a stream", async (field, _, escaped) => {
      for (const stream of [false, true]) {
        const res = await chat(gw.url, `${status} ${field} ${escaped}`, stream);
        const text = await res.text();
        expect(res.status).toBe(expected);
        expectNoKey(text);
        const error = (JSON.parse(text) as { error: WireError }).error;
        if (status !== 500) expect(error[field]).toBe(field === "message" ? "Refused for ***." : "***");
        else if (field === "message") expect(error.message).toContain("Refused for ***.");
      }
    });
  });

  test.each(cases)("regression: the key in `%s` (%s) of an in-band error event is redacted", async (field, _, escaped) => {
    const res = await chat(gw.url, `event ${field} ${escaped}`, true);
    const text = await res.text();
    expect(res.status).toBe(200);
    expectNoKey(text);
    const data = events(text);
    expect(data).toHaveLength(2);
    const error = (JSON.parse(data[1]!) as { error: WireError }).error;
    expect(error).toEqual({ ...errorWith(field, false), [field]: field === "message" ? "Refused for ***." : "***" });
  });
});
