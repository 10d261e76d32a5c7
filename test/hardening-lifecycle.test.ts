// Regression tests, against the compiled binary, for the process lifecycle the probe found
// wanting: SIGHUP killed the process, a second Ctrl-C did nothing, requests cut by the shutdown
// timeout got no word of why, and a second instance on the same port silently split the traffic.
import { describe, expect, test } from "bun:test";
import { readEvents } from "./support/sse.ts";
import { spawnBinary } from "./support/binary.ts";
import { chatCompletionChunks, sseEvent } from "./support/openai-wire.ts";
import { fakeOpenAI } from "./support/upstream.ts";

const post = (url: string, stream: boolean) =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o-mini", stream, messages: [{ role: "user", content: "hi" }] }),
  });


const words = ["one", " two", " three", " four"];
/** A stream whose role chunk and first word come at once, then one word every `gapMs`. */
const slowStream = (gapMs: number) => {
  const head = new TextEncoder().encode(chatCompletionChunks("gpt-4o-mini", words, false).slice(0, 2).map(sseEvent).join("")).length;
  return { kind: "stream" as const, words, delayMs: gapMs, splitBytes: head };
};

describe("signals", () => {
  test("regression: SIGHUP does not kill: it reloads the config, the stream in flight completes and the process keeps serving", async () => {
    await using up = fakeOpenAI();
    up.reply(slowStream(150));
    await using gw = await spawnBinary({ OPENAI_BASE_URL: up.url });
    const reading = readEvents(await post(gw.url, true));
    await reading.first;
    gw.proc.kill("SIGHUP");
    await gw.waitForOutput(/config reloaded/);
    expect((await reading.done).at(-1)).toBe("[DONE]");
    expect(gw.proc.exitCode).toBeNull();
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  });

  test("regression: a second SIGTERM exits at once, and the first says how to force it", async () => {
    await using up = fakeOpenAI();
    up.reply({ kind: "stream", stallAfterEvents: 2 });
    await using gw = await spawnBinary({ OPENAI_BASE_URL: up.url, CHATGATE_SHUTDOWN_TIMEOUT_MS: "30000" });
    const reading = readEvents(await post(gw.url, true));
    await reading.first;
    gw.proc.kill("SIGTERM");
    await gw.waitForOutput(/press Ctrl-C again to force/);
    const started = performance.now();
    gw.proc.kill("SIGTERM");
    expect(await gw.exited).toBe(143);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(await reading.done).not.toContain("[DONE]");
  });

  test("regression: when the shutdown timeout ends a stream its client gets one server_shutting_down error event, a JSON request a 503; then exit 0", async () => {
    await using up = fakeOpenAI();
    up.reply({ kind: "stream", stallAfterEvents: 2 }, { kind: "stall" });
    await using gw = await spawnBinary({ OPENAI_BASE_URL: up.url, CHATGATE_SHUTDOWN_TIMEOUT_MS: "300" });
    const reading = readEvents(await post(gw.url, true));
    await reading.first;
    const json = post(gw.url, false);
    await up.nextCall();
    await up.nextCall();
    gw.proc.kill("SIGTERM");
    const events = await reading.done;
    expect(events).toHaveLength(3);
    expect(JSON.parse(events[2]!)).toMatchObject({ error: { type: "server_error", code: "server_shutting_down" } });
    const res = await json;
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: unknown }).error).toMatchObject({ type: "server_error", code: "server_shutting_down" });
    expect(await gw.exited).toBe(0);
    await Promise.all(up.calls.map((call) => call.aborted));
  });
});

describe("one instance per port", () => {
  test("regression: a second instance on a busy port refuses to start, and the first keeps serving every request", async () => {
    await using first = await spawnBinary({ CHATGATE_MOCK: "1" });
    const port = new URL(first.url).port;
    const second = await spawnBinary({ CHATGATE_MOCK: "1", PORT: port }).then(
      (gw) => ({ started: true, gw }),
      (err: Error) => ({ started: false, message: err.message }),
    );
    expect(second).toMatchObject({ started: false });
    expect((second as { message: string }).message).toMatch(/exited with 1[\s\S]*cannot listen on 127\.0\.0\.1:\d+/);
    const statuses = await Promise.all(Array.from({ length: 20 }, () => fetch(`${first.url}/health`).then((r) => r.status)));
    expect(statuses.every((s) => s === 200)).toBe(true);
    const status = (await (await fetch(`${first.url}/status`)).json()) as { requests: { total: number } };
    expect(status.requests.total).toBeGreaterThanOrEqual(21);
  });
});
