import { expect, test } from "bun:test";
import { createParser } from "eventsource-parser";
import { SOURCE_CMD, spawnGateway } from "./support/process.ts";
import { fakeOpenAI } from "./support/upstream.ts";

const WORDS = Array.from({ length: 8 }, (_, i) => `w${i} `);

/** Reads an SSE response to its end; calls `onFirst` when the first event arrives. */
async function readEvents(res: Response, onFirst: () => void): Promise<string[]> {
  const events: string[] = [];
  const parser = createParser({
    onEvent: ({ data }) => {
      if (events.push(data) === 1) onFirst();
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of res.body!) parser.feed(decoder.decode(chunk, { stream: true }));
  return events;
}

const streamRequest = (url: string) =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "hi" }] }),
  });

test("SIGTERM lets a stream in flight finish with [DONE], refuses new connections, then exits 0", async () => {
  await using up = fakeOpenAI();
  up.reply({ kind: "stream", words: WORDS, delayMs: 40 });
  await using gw = await spawnGateway(SOURCE_CMD, { OPENAI_BASE_URL: up.url, CHATGATE_RATE_LIMIT_MAX: "0" });
  const res = await streamRequest(gw.url);
  expect(res.status).toBe(200);
  const first = Promise.withResolvers<void>();
  const reading = readEvents(res, first.resolve);
  await first.promise;
  gw.proc.kill("SIGTERM");
  const events = await reading;
  expect(events.at(-1)).toBe("[DONE]");
  const contents = events.slice(0, -1).map((e) => JSON.parse(e).choices[0]?.delta?.content ?? "").join("");
  expect(contents).toBe(WORDS.join(""));
  expect(await gw.exited).toBe(0);
  await expect(fetch(`${gw.url}/health`)).rejects.toThrow();
});

test("SIGINT with nothing in flight exits 0 at once", async () => {
  await using gw = await spawnGateway(SOURCE_CMD, { CHATGATE_MOCK: "1" });
  expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  gw.proc.kill("SIGINT");
  expect(await gw.exited).toBe(0);
});

test("a stream that outlives CHATGATE_SHUTDOWN_TIMEOUT_MS is cut and the process still exits 0", async () => {
  await using up = fakeOpenAI();
  up.reply({ kind: "stream", stallAfterEvents: 2 });
  await using gw = await spawnGateway(SOURCE_CMD, { OPENAI_BASE_URL: up.url, CHATGATE_RATE_LIMIT_MAX: "0", CHATGATE_SHUTDOWN_TIMEOUT_MS: "300" });
  const res = await streamRequest(gw.url);
  const first = Promise.withResolvers<void>();
  const reading = readEvents(res, first.resolve).catch(() => ["(connection closed)"]);
  await first.promise;
  const call = up.calls[0]!;
  const started = performance.now();
  gw.proc.kill("SIGTERM");
  expect(await gw.exited).toBe(0);
  expect(performance.now() - started).toBeLessThan(5_000);
  expect(await reading).not.toContain("[DONE]");
  await call.aborted;
});
