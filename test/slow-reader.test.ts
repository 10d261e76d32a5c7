// The stall allowance for slow clients (src/http/sse.ts): a client that takes nothing for
// CHATGATE_STREAM_IDLE_TIMEOUT_MS has its stream ended (client_stalled), unless it is still taking
// a large piece: then it gets a second per 512 bytes of that piece, at most 5 minutes. Over real
// HTTP with a raw TCP client that stops reading; the idle timeout is 300 ms so nothing sleeps long.
// A client's pause is not the upstream idling either: the upstream's idle timer (the same setting)
// does not run while the gateway waits on its client (providers/deadline.ts, suspend).
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fakeAnthropic } from "./support/fake-anthropic.ts";
import { chatCompletionChunks, sseEvent } from "./support/openai-wire.ts";
import { spawnGateway, SOURCE_CMD } from "./support/process.ts";

const STALL_MS = 300;
const encoder = new TextEncoder();

/** An upstream streaming `events` content events of `bytes` each as fast as it is read, then [DONE]; `aborted` resolves when the gateway lets it go. */
function bulkUpstream(events: number, bytes: number) {
  const [role, , content] = chatCompletionChunks("gpt-4o-mini", ["x", "y".repeat(bytes)], false);
  const head = encoder.encode(sseEvent(role));
  const event = encoder.encode(sseEvent(content));
  const done = encoder.encode("data: [DONE]\n\n");
  const aborted = Promise.withResolvers<void>();
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    fetch(req) {
      req.signal.addEventListener("abort", () => aborted.resolve());
      let sent = -1;
      return new Response(
        new ReadableStream({
          pull(c) {
            if (sent === -1) c.enqueue(head);
            else if (sent < events) c.enqueue(event);
            else {
              c.enqueue(done);
              return c.close();
            }
            sent++;
          },
        }),
        { headers: { "content-type": "text/event-stream" } },
      );
    },
  });
  return { url: `http://127.0.0.1:${server.port}/v1`, aborted: aborted.promise, [Symbol.dispose]: () => server.stop(true) };
}

const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
});

/** A raw HTTP/1.1 stream request; the socket starts paused after its first bytes, so the test decides when it reads. */
function openStream(url: string) {
  const body = JSON.stringify({ model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "hi" }] });
  const socket = connect({ host: "127.0.0.1", port: Number(new URL(url).port) });
  sockets.push(socket);
  let received = "";
  const ended = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  socket.setEncoding("latin1");
  socket.on("connect", () => socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`));
  const first = new Promise<void>((resolve) =>
    socket.on("data", (chunk: string) => {
      if (received === "") socket.pause();
      received += chunk;
      resolve();
    }),
  );
  socket.on("error", () => {});
  return { socket, first, ended, received: () => received };
}

const dir = mkdtempSync(join(tmpdir(), "chatgate-slow-reader-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Reads the paused client twice after 5 stall times each, then to the end: what it received. */
async function readSlowly(client: ReturnType<typeof openStream>): Promise<string> {
  await client.first;
  for (let pause = 0; pause < 2; pause++) {
    await Bun.sleep(5 * STALL_MS);
    client.socket.resume();
    await Bun.sleep(50);
    client.socket.pause();
  }
  client.socket.resume();
  // Until [DONE], or the end of the chunked body (a stream ended early ends its response, not the connection).
  while (!client.received().includes("data: [DONE]\n\n") && !client.received().endsWith("\r\n0\r\n\r\n")) {
    await Promise.race([new Promise((r) => client.socket.once("data", r)), client.ended]);
    if (client.socket.destroyed) break;
  }
  return client.received();
}

const SLOW_ENV = { CHATGATE_STREAM_IDLE_TIMEOUT_MS: String(STALL_MS), CHATGATE_STREAM_HEARTBEAT_MS: "0", CHATGATE_RATE_LIMIT_MAX: "0", CHATGATE_LOG_REQUESTS: "0" };

/** The 12 MB stream arrived whole, uncut by either side. Booleans, not the text: a failure would print 12 MB. */
function expectWhole(received: string, output: string): void {
  expect(received.includes("upstream_timeout")).toBe(false);
  expect(received.includes("data: [DONE]\n\n")).toBe(true);
  expect(received.length).toBeGreaterThan(12 * 1024 * 1024);
  expect(output).not.toContain("client_stalled");
}

describe("a slow reader of a large stream", () => {
  test("one that stops reading for 5 stall times at a stretch, while taking 256 KB pieces, is not cut: the stream arrives whole", async () => {
    // 12 MB: more than the kernel's socket buffers hold, so while the client reads nothing the
    // gateway cannot hand over its piece and pulls nothing (the allowance for a 256 KB piece: 300 s).
    using up = bulkUpstream(48, 256 * 1024);
    await using gw = await spawnGateway(SOURCE_CMD, { ...SLOW_ENV, OPENAI_BASE_URL: up.url });
    expectWhole(await readSlowly(openStream(gw.url)), gw.output());
  }, 20_000);

  test("the same through an Anthropic provider (a translated stream): not cut, whole", async () => {
    await using up = fakeAnthropic();
    up.reply({ kind: "stream", content: [{ type: "text", text: Array.from({ length: 48 }, () => "y".repeat(256 * 1024)).join(" ") }] });
    const config = join(dir, "anthropic.yaml");
    writeFileSync(config, `providers:\n  - {id: a, type: anthropic, base_url: "${up.url}", api_key: k}\nmodels:\n  gpt-4o-mini: {targets: [{provider: a, model: claude-x}]}\n`);
    await using gw = await spawnGateway(SOURCE_CMD, { ...SLOW_ENV, CHATGATE_CONFIG: config });
    expectWhole(await readSlowly(openStream(gw.url)), gw.output());
  }, 20_000);

  test("one that takes nothing more, with small pieces (256 B: an allowance of 0.5 s), is cut as client_stalled and its upstream let go", async () => {
    using up = bulkUpstream(1_000_000, 200);
    await using gw = await spawnGateway(SOURCE_CMD, { ...SLOW_ENV, OPENAI_BASE_URL: up.url, CHATGATE_STREAM_BUFFER_BYTES: "256" });
    const client = openStream(gw.url);
    await client.first;
    await gw.waitForOutput(/client_stalled/, 5_000);
    await up.aborted;
    expect(client.received().includes("[DONE]")).toBe(false);
  }, 20_000);
});
