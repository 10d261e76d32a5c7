// Issue 8, the upstream side, against the compiled binary: a provider's redirects are never
// followed, its error fields never carry our key to the client, and nothing it sends can make
// chatgate buffer without bound or wait without end.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Socket } from "node:net";
import { createParser } from "eventsource-parser";
import { spawnBinary } from "./support/binary.ts";
import { chatCompletionChunks, sseEvent } from "./support/openai-wire.ts";
import type { GatewayProcess } from "./support/process.ts";

// A "/" in the key, so an upstream that JSON-escapes it (`\/`) hides it from a plain text search.
const KEY = "sk-proj-UPSTREAM/KEY-q7Zx4T9vLm2Rk8Wc";
const ESCAPED_KEY = "\\u0073k-proj-UPSTREAM\\/KEY-q7Zx4T9vLm2Rk8Wc";
const encoder = new TextEncoder();
// The role chunk and the first content chunk: after them a stream has committed (what goes wrong
// later is an error event, not a status).
const FIRST_EVENT = chatCompletionChunks("gpt-4o-mini", ["Hi"], false).slice(0, 2).map(sseEvent).join("");

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

/** A body that writes `next()` for as long as the reader reads, and stops when it goes away. */
function endless(request: Request, next: () => Uint8Array | Promise<Uint8Array>, first?: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    type: "direct",
    async pull(controller) {
      if (first) controller.write(first);
      while (!request.signal.aborted) {
        controller.write(await next());
        await controller.flush(true);
      }
    },
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
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

/** Peak VmRSS of a process, in MB, sampled every 20 ms while `work` runs. */
async function peakRssMb<T>(pid: number, work: Promise<T>): Promise<{ result: T; peakMb: number }> {
  let peak = 0;
  let running = true;
  const sample = async () => {
    const status = await Bun.file(`/proc/${pid}/status`).text();
    peak = Math.max(peak, Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
  };
  const sampler = (async () => {
    while (running) {
      await sample();
      await sleep(20);
    }
  })();
  try {
    return { result: await work, peakMb: peak };
  } finally {
    running = false;
    await sampler;
    await sample();
  }
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
  // Errors in other shapes after the first content: Anthropic's (from a proxy in between), bare
  // fields under `event: error`, and the key in a comment.
  const sse = (text: string) => () => new Response(FIRST_EVENT + text, { headers: { "content-type": "text/event-stream" } });
  scripts["anthropic-shaped"] = sse(`data: ${JSON.stringify({ type: "error", error: { type: "invalid_request_error", message: `Incorrect API key provided: ${KEY}` } })}\n\n`);
  scripts["bare fields"] = sse(`event: error\ndata: ${JSON.stringify({ message: `m ${KEY}`, type: KEY })}\n\n`);
  scripts["comment"] = sse(`: upstream key ${KEY}\n\ndata: [DONE]\n\n`);
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
    expect(data).toHaveLength(3);
    const error = (JSON.parse(data[2]!) as { error: WireError }).error;
    expect(error).toEqual({ ...errorWith(field, false), [field]: field === "message" ? "Refused for ***." : "***" });
  });

  test.each(["anthropic-shaped", "bare fields", "comment"])("regression: the key in a stream event of another shape (%s) never reaches the client", async (script) => {
    const res = await chat(gw.url, script, true);
    const text = await res.text();
    expect(res.status).toBe(200);
    expectNoKey(text);
    expect(text).toContain("***");
  });

  test("an error in Anthropic's shape after the first content ends the stream as an error the SDKs raise", async () => {
    const data = events(await (await chat(gw.url, "anthropic-shaped", true)).text());
    expect(data).toHaveLength(3);
    expect(JSON.parse(data[2]!)).toEqual({ type: "error", error: { type: "invalid_request_error", message: "Incorrect API key provided: ***" } });
  });
});

/** A provider that answers a raw HTTP head (then `body`) to every connection and holds it open. */
async function rawUpstream(head: string, body = ""): Promise<{ url: string; [Symbol.asyncDispose](): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    socket.once("data", () => socket.write(head + body));
  });
  const listening = Promise.withResolvers<void>();
  server.listen(0, "127.0.0.1", () => listening.resolve());
  await listening.promise;
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/v1`,
    async [Symbol.asyncDispose]() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe("what a misbehaving upstream can make chatgate hold is capped", () => {
  const MiB = 1024 * 1024;
  const CAP = 2 * MiB;
  const IDLE_MS = 400;
  const BLOCK = encoder.encode("x".repeat(64 * 1024));
  const COMMENTS = encoder.encode(": keep-alive\n\n".repeat(4096));
  const sse = (body: ReadableStream<Uint8Array>) => new Response(body, { headers: { "content-type": "text/event-stream" } });
  const scripts: Record<string, Handler> = {
    "endless json": (r) => new Response(endless(r, () => BLOCK, encoder.encode('{"id":"')), { headers: { "content-type": "application/json" } }),
    "endless error": (r) => new Response(endless(r, () => BLOCK), { status: 500, headers: { "content-type": "application/json" } }),
    "endless event": (r) => sse(endless(r, () => BLOCK, encoder.encode('data: {"id":"'))),
    "endless event after one": (r) => sse(endless(r, () => BLOCK, encoder.encode(`${FIRST_EVENT}data: {"id":"`))),
    "endless comments": (r) => sse(endless(r, () => COMMENTS)),
    trickle: (r) => sse(endless(r, () => sleep(50).then(() => encoder.encode("x")), encoder.encode('data: {"id":"'))),
    "trickle after one": (r) => sse(endless(r, () => sleep(50).then(() => encoder.encode("x")), encoder.encode(`${FIRST_EVENT}data: {"id":"`))),
  };
  let up: Upstream;
  let gw: GatewayProcess;
  beforeAll(async () => {
    up = scriptedUpstream(scripts, (r) => new Response(endless(r, () => BLOCK, encoder.encode('{"data":["')), { headers: { "content-type": "application/json" } }));
    gw = await spawnBinary({
      OPENAI_BASE_URL: up.url,
      OPENAI_API_KEY: KEY,
      CHATGATE_MAX_UPSTREAM_BYTES: String(CAP),
      CHATGATE_TIMEOUT_MS: "5000",
      CHATGATE_STREAM_IDLE_TIMEOUT_MS: String(IDLE_MS),
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.[Symbol.asyncDispose]();
  });

  const timed = async <T>(work: Promise<T>) => {
    const started = performance.now();
    const result = await work;
    return { result, ms: performance.now() - started };
  };

  test("regression: a JSON answer that never ends is a 502 naming the provider and the cap, quickly, with memory bounded", async () => {
    const { result, peakMb } = await peakRssMb(gw.proc.pid, timed(chat(gw.url, "endless json").then((res) => expectError(res, 502, "upstream_response_too_large"))));
    expect(result.ms).toBeLessThan(2_000);
    expect(result.result.message).toContain("'openai'");
    expect(result.result.message).toContain(String(CAP));
    expect(peakMb).toBeLessThan(200);
    await up.aborted("endless json");
  });

  test("regression: an error body that never ends is still a 502, quickly", async () => {
    const { ms } = await timed(chat(gw.url, "endless error").then((res) => expectError(res, 502, "upstream_error")));
    expect(ms).toBeLessThan(2_000);
    await up.aborted("endless error");
  });

  test("regression: a model list that never ends is a 502, quickly", async () => {
    const { ms } = await timed(fetch(`${gw.url}/v1/models`, { signal: AbortSignal.timeout(8_000) }).then((res) => expectError(res, 502, "upstream_response_too_large")));
    expect(ms).toBeLessThan(2_000);
  });

  test("regression: a stream event that never ends, before the first event, is a 502 with memory bounded", async () => {
    const { result, peakMb } = await peakRssMb(gw.proc.pid, timed(chat(gw.url, "endless event", true).then((res) => expectError(res, 502, "upstream_response_too_large"))));
    expect(result.ms).toBeLessThan(2_000);
    expect(result.result.message).toContain("'openai'");
    expect(result.result.message).toContain(String(MiB));
    expect(peakMb).toBeLessThan(200);
    await up.aborted("endless event");
  });

  test("regression: a stream event that never ends, after the first event, ends the stream with one error event and no [DONE]", async () => {
    const { result, ms } = await timed(chat(gw.url, "endless event after one", true).then(async (res) => ({ status: res.status, text: await res.text() })));
    expect(ms).toBeLessThan(2_000);
    expect(result.status).toBe(200);
    expect(result.text.startsWith(FIRST_EVENT)).toBe(true);
    const data = events(result.text);
    expect(data).toHaveLength(3);
    expect(JSON.parse(data[2]!)).toMatchObject({ error: { type: "server_error", code: "upstream_response_too_large" } });
    await up.aborted("endless event after one");
  });

  test("regression: a stream of nothing but comments is a 502 in bounded time, and the upstream is let go", async () => {
    const { result, ms } = await timed(chat(gw.url, "endless comments", true).then((res) => expectError(res, 502, "upstream_response_too_large")));
    expect(ms).toBeLessThan(2_000);
    expect(result.message).toContain("comments");
    await up.aborted("endless comments");
  });

  test("regression: an event trickled one byte at a time, never ending, hits the stream idle timeout (504) before the first event", async () => {
    const { ms } = await timed(chat(gw.url, "trickle", true).then((res) => expectError(res, 504, "upstream_timeout")));
    expect(ms).toBeGreaterThanOrEqual(IDLE_MS - 5);
    expect(ms).toBeLessThan(IDLE_MS + 1_500);
    await up.aborted("trickle");
  });

  test("regression: an event trickled one byte at a time after the first event ends the stream with a timeout error event", async () => {
    const { result, ms } = await timed(chat(gw.url, "trickle after one", true).then(async (res) => ({ status: res.status, text: await res.text() })));
    expect(ms).toBeLessThan(IDLE_MS + 1_500);
    expect(result.status).toBe(200);
    const data = events(result.text);
    expect(data).toHaveLength(3);
    expect(JSON.parse(data[2]!)).toMatchObject({ error: { type: "server_error", code: "upstream_timeout" } });
  });

  test("regression: a declared Content-Length over the cap is a 502 before a byte of the body is read", async () => {
    await using raw = await rawUpstream("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n", '{"id":"');
    await using gw2 = await spawnBinary({ OPENAI_BASE_URL: raw.url, OPENAI_API_KEY: KEY, CHATGATE_MAX_UPSTREAM_BYTES: String(CAP), CHATGATE_TIMEOUT_MS: "5000" });
    const { result, ms } = await timed(chat(gw2.url, "declared").then((res) => expectError(res, 502, "upstream_response_too_large")));
    expect(ms).toBeLessThan(1_500);
    expect(result.message).toContain(String(CAP));
  });
});
