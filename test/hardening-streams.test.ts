// Regression tests, against the compiled binary, for what probing it found on the streaming side:
// Bun's idle timeout cutting a request that waits on its provider, no heartbeat through a silent
// upstream, and a client that never reads making chatgate read and hold the upstream's output.
import { describe, expect, test } from "bun:test";
import { connect } from "node:net";
import OpenAI from "openai";
import { spawnBinary } from "./support/binary.ts";
import { chatCompletionChunks, sseEvent } from "./support/openai-wire.ts";
import { rawRequest } from "./support/raw-http.ts";
import { readSse } from "./support/sse.ts";
import { fakeOpenAI } from "./support/upstream.ts";

const request = (stream: boolean) => JSON.stringify({ model: "gpt-4o-mini", stream, messages: [{ role: "user", content: "hi" }] });
const post = (url: string, stream: boolean) =>
  fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: request(stream) });

/** Bytes of the role chunk and the first word: where a stream commits. */
const headBytes = (words: string[]) => new TextEncoder().encode(chatCompletionChunks("gpt-4o-mini", words, false).slice(0, 2).map(sseEvent).join("")).length;

describe("Bun's idle timeout never cuts a request that waits on its provider", () => {
  // The connection idle timeout is set to 1 s (Bun checks it every few seconds): before the fix a
  // stream's silence or a slow JSON answer longer than Bun's idle timeout (30 s by default) ended
  // the response with nothing, although the stream idle timeout (60 s) allowed it.
  const env = { CHATGATE_IDLE_CONNECTION_TIMEOUT_S: "1", CHATGATE_STREAM_HEARTBEAT_MS: "0", CHATGATE_STREAM_IDLE_TIMEOUT_MS: "20000" };

  test("regression: a stream silent for 6 s after its first content and a JSON answer that takes 6 s both arrive whole; idle keep-alive connections are still closed", async () => {
    await using up = fakeOpenAI();
    const words = ["one", " two"];
    up.reply({ kind: "stream", words, delayMs: 6_000, splitBytes: headBytes(words) }, { kind: "completion", delayMs: 6_000 });
    await using gw = await spawnBinary({ ...env, OPENAI_BASE_URL: up.url, CHATGATE_MOCK: "1" });
    const body = JSON.stringify({ model: "mock", messages: [{ role: "user", content: "hi" }] });
    const [stream, json, idle] = await Promise.all([
      post(gw.url, true).then(readSse),
      (async () => {
        // Started after the stream, so the fake answers it second: the slow JSON reply.
        await up.nextCall();
        return post(gw.url, false);
      })(),
      rawRequest(gw.url, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`, 10_000),
    ]);
    expect(stream.data.at(-1)).toBe("[DONE]");
    expect(json.status).toBe(200);
    expect(((await json.json()) as { object: string }).object).toBe("chat.completion");
    // The mock's answer went out at once; its keep-alive connection was then closed for idling.
    expect(idle).toMatchObject({ status: 200, closed: true });
  }, 30_000);
});

describe("heartbeats through a silent upstream", () => {
  test("regression: a committed stream gets ': keep-alive' comments while the upstream is silent, and still completes for the SDK", async () => {
    await using up = fakeOpenAI();
    const words = ["one", " two", " three"];
    up.reply({ kind: "stream", words, delayMs: 350 });
    await using gw = await spawnBinary({ OPENAI_BASE_URL: up.url, CHATGATE_STREAM_HEARTBEAT_MS: "100" });
    const read = await readSse(await post(gw.url, true));
    expect(read.text).toContain(": keep-alive\n\n");
    expect(read.data.at(-1)).toBe("[DONE]");
    // Comments sit between whole events, never inside one.
    for (const part of read.text.split("\n\n").filter(Boolean)) expect(part === ": keep-alive" || part.startsWith("data: ")).toBe(true);
    up.reply({ kind: "stream", words, delayMs: 350 });
    const client = new OpenAI({ apiKey: "unused", baseURL: `${gw.url}/v1`, maxRetries: 0 });
    let text = "";
    for await (const chunk of await client.chat.completions.create({ model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "hi" }] })) {
      text += chunk.choices[0]?.delta?.content ?? "";
    }
    expect(text).toBe(words.join(""));
  }, 15_000);

  test("no heartbeat while events flow faster than the heartbeat interval", async () => {
    await using up = fakeOpenAI();
    up.reply({ kind: "stream", words: ["a", " b", " c"], delayMs: 20 });
    await using gw = await spawnBinary({ OPENAI_BASE_URL: up.url, CHATGATE_STREAM_HEARTBEAT_MS: "1000" });
    expect((await readSse(await post(gw.url, true))).text).not.toContain("keep-alive");
  });
});

/** An upstream whose streams never end and are written as fast as they are read. */
function endlessUpstream() {
  const role = new TextEncoder().encode(sseEvent(chatCompletionChunks("gpt-4o-mini", ["x"], false)[0]));
  const event = new TextEncoder().encode(sseEvent(chatCompletionChunks("gpt-4o-mini", ["y".repeat(1000)], false)[1]));
  const aborted: Promise<void>[] = [];
  let written = 0;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    fetch(req) {
      const { promise, resolve } = Promise.withResolvers<void>();
      req.signal.addEventListener("abort", () => resolve());
      aborted.push(promise);
      let first = true;
      return new Response(
        new ReadableStream({
          pull(c) {
            if (first) c.enqueue(role);
            first = false;
            for (let i = 0; i < 16; i++) c.enqueue(event);
            written += 16 * event.length;
          },
        }),
        { headers: { "content-type": "text/event-stream" } },
      );
    },
  });
  return { url: `http://127.0.0.1:${server.port}/v1`, aborted, written: () => written, stop: () => server.stop(true) };
}

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(require("node:fs").readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

describe("clients that read slower than the upstream writes", () => {
  test("regression: 20 clients that never read: memory stays bounded, each stalled stream is ended (client_stalled) and its upstream let go", async () => {
    const up = endlessUpstream();
    try {
      // Pieces of at most 2 KB: a client gets a second per 512 bytes of the last one to take it, here 4 s at most.
      await using gw = await spawnBinary({ OPENAI_BASE_URL: up.url, CHATGATE_RATE_LIMIT_MAX: "0", CHATGATE_STREAM_IDLE_TIMEOUT_MS: "1000", CHATGATE_IDLE_CONNECTION_TIMEOUT_S: "1", CHATGATE_STREAM_BUFFER_BYTES: "2048" });
      const { port } = new URL(gw.url);
      const body = request(true);
      const sockets = Array.from({ length: 20 }, () => {
        const socket = connect({ host: "127.0.0.1", port: Number(port) });
        socket.on("connect", () => socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`));
        socket.once("data", () => socket.pause());
        socket.on("error", () => {});
        return socket;
      });
      await gw.waitForOutput(/client_stalled/, 10_000);
      while (up.aborted.length < 20) await Bun.sleep(20);
      await Promise.all(up.aborted);
      const written = up.written();
      const rss = rssMb(gw.proc.pid);
      console.log(`20 stalled streams: gateway RSS ${rss.toFixed(0)} MB; the upstreams wrote ${(written / 1e6).toFixed(0)} MB before they were let go`);
      expect(rss).toBeLessThan(300);
      // Every upstream was let go: nothing more is read from them.
      await Bun.sleep(300);
      expect(up.written()).toBe(written);
      for (const socket of sockets) socket.destroy();
    } finally {
      await up.stop();
    }
  }, 20_000);
});
