// Regression tests, against the compiled binary, for the process lifecycle the probe found
// wanting: SIGHUP killed the process, a second Ctrl-C did nothing, requests cut by the shutdown
// timeout got no word of why, and a second instance on the same port silently split the traffic.
import { describe, expect, test } from "bun:test";
import { readEvents } from "./support/sse.ts";
import type { Subprocess } from "bun";
import { compiledBinary, spawnBinary } from "./support/binary.ts";
import { spawnGateway } from "./support/process.ts";
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

  test("regression: a SIGHUP while the gateway is still starting neither kills it nor is lost: a reload follows the start", async () => {
    // The signals the process catches, as the kernel records them (bit n-1 for signal n).
    const caught = async (pid: number) => BigInt(`0x${/SigCgt:\s*([0-9a-f]+)/.exec(await Bun.file(`/proc/${pid}/status`).text().catch(() => ""))?.[1] ?? "0"}`);
    const SIGHUP_BIT = 1n << 0n;
    const SIGTERM_BIT = 1n << 14n;
    let sentWith: bigint | undefined;
    // SIGHUP as soon as the process catches it. Before this fix that was only once the gateway had
    // loaded and installed its handlers; a SIGHUP sooner got the default action and killed it.
    const hupOnceCaught = async (proc: Subprocess) => {
      for (let i = 0; i < 5_000 && proc.exitCode === null; i++) {
        const mask = await caught(proc.pid);
        if ((mask & SIGHUP_BIT) !== 0n) {
          proc.kill("SIGHUP");
          sentWith = mask;
          return;
        }
        await Bun.sleep(1);
      }
    };
    await using gw = await spawnGateway([await compiledBinary()], { CHATGATE_MOCK: "1", BUN_CONFIG_MAX_HTTP_REQUESTS: "65535" }, undefined, hupOnceCaught);
    expect(sentWith).toBeDefined();
    // Sent while the gateway was still loading: its own handlers (SIGTERM's among them) were not in place yet.
    expect(sentWith! & SIGTERM_BIT).toBe(0n);
    await gw.waitForOutput(/config reloaded/);
    const order = gw.logs().map((line) => line.msg);
    expect(order.findIndex((msg) => msg.includes("listening on"))).toBeLessThan(order.findIndex((msg) => msg.includes("config reloaded")));
    expect(order.filter((msg) => msg.includes("config reloaded"))).toHaveLength(1);
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
