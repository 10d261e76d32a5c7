// SIGHUP reloads the config, against the compiled binary: the file is rewritten, the signal sent,
// and the reload's own log line awaited before the next request.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readEvents } from "./support/sse.ts";
import { spawnBinary } from "./support/binary.ts";
import { chatCompletionChunks, sseEvent } from "./support/openai-wire.ts";
import { fakeOpenAI } from "./support/upstream.ts";
import { notifyListener } from "./support/notify-listener.ts";
import { createApp } from "../src/app.ts";
import { parseConfig } from "../src/config.ts";
import { TEST_DEFAULTS } from "./support/gateway.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function configFile(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), "chatgate-reload-"));
  dirs.push(dir);
  const path = join(dir, "chatgate.yaml");
  writeFileSync(path, yaml);
  return { path, rewrite: (next: string) => writeFileSync(path, next), dir };
}

/** Two OpenAI-compatible providers, `a` and `b`; the public model `chat` goes to `target`. */
const routed = (a: string, b: string, target: "a" | "b", extra = "") =>
  `providers:\n  - {id: a, type: openai, base_url: '${a}'}\n  - {id: b, type: openai, base_url: '${b}'}\n` +
  `models:\n  chat:\n    targets: [{provider: ${target}, model: m}]\n${extra}`;

const chat = (url: string, stream: boolean, key?: string) =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ model: "chat", stream, messages: [{ role: "user", content: "hi" }] }),
  });


const words = ["one", " two", " three", " four", " five"];
/** Role chunk and first word at once, then a word every `gapMs`: a stream still running after the reload. */
const slowStream = (gapMs: number) => {
  const head = new TextEncoder().encode(chatCompletionChunks("m", words, false).slice(0, 2).map(sseEvent).join("")).length;
  return { kind: "stream" as const, words, delayMs: gapMs, splitBytes: head };
};

const text = (events: string[]) =>
  events
    .filter((e) => e !== "[DONE]")
    .map((e) => (JSON.parse(e) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? "")
    .join("");

describe("SIGHUP reloads the config", () => {
  test("new requests take the new route; a stream in flight finishes intact on the old target", async () => {
    await using a = fakeOpenAI();
    await using b = fakeOpenAI();
    const file = configFile(routed(a.url, b.url, "a"));
    await using gw = await spawnBinary({}, ["--config", file.path]);
    a.reply(slowStream(100));
    const res = await chat(gw.url, true);
    expect(res.headers.get("x-chatgate-provider")).toBe("a");
    const reading = readEvents(res);
    await reading.first;

    file.rewrite(routed(a.url, b.url, "b"));
    gw.proc.kill("SIGHUP");
    await gw.waitForOutput(/config reloaded: 2 providers, 1 model, 0 client keys/);

    const after = await chat(gw.url, false);
    expect(after.status).toBe(200);
    expect(after.headers.get("x-chatgate-provider")).toBe("b");
    expect(b.calls).toHaveLength(1);

    const events = await reading.done;
    expect(events.at(-1)).toBe("[DONE]");
    expect(text(events)).toBe(words.join(""));
    expect(a.calls).toHaveLength(1);
  });

  test("a new client key works after the reload and a removed one gets 401", async () => {
    await using a = fakeOpenAI();
    const file = configFile(routed(a.url, a.url, "a", "api_keys: [old-key-1111]\n"));
    await using gw = await spawnBinary({}, ["--config", file.path]);
    expect((await chat(gw.url, false, "old-key-1111")).status).toBe(200);
    expect((await chat(gw.url, false, "new-key-2222")).status).toBe(401);

    file.rewrite(routed(a.url, a.url, "a", "api_keys: [new-key-2222]\n"));
    gw.proc.kill("SIGHUP");
    const [line] = await gw.waitForOutput(/config reloaded: .*/);
    expect(line).toContain("1 client key");
    expect(gw.output()).not.toContain("key-2222");

    expect((await chat(gw.url, false, "new-key-2222")).status).toBe(200);
    expect((await chat(gw.url, false, "old-key-1111")).status).toBe(401);
  });

  test("rate-limit counters carry over when the limit is unchanged", async () => {
    await using a = fakeOpenAI();
    await using b = fakeOpenAI();
    const limit = "rate_limit: {max: 3, window: 1h}\n";
    const file = configFile(routed(a.url, b.url, "a", limit));
    await using gw = await spawnBinary({}, ["--config", file.path]);
    expect((await chat(gw.url, false)).status).toBe(200);
    expect((await chat(gw.url, false)).status).toBe(200);

    file.rewrite(routed(a.url, b.url, "b", limit));
    gw.proc.kill("SIGHUP");
    await gw.waitForOutput(/config reloaded/);

    const third = await chat(gw.url, false);
    expect(third.status).toBe(200);
    expect(third.headers.get("x-ratelimit-remaining")).toBe("0");
    expect((await chat(gw.url, false)).status).toBe(429);
  });

  test("an invalid file is rejected: the old config stays in force, stderr names the problem, /status shows it", async () => {
    await using a = fakeOpenAI();
    const file = configFile(routed(a.url, a.url, "a"));
    await using gw = await spawnBinary({}, ["--config", file.path]);

    file.rewrite(`providers:\n  - {id: a, type: openai, base_url: 'ftp://127.0.0.1/v1'}\n`);
    gw.proc.kill("SIGHUP");
    const line = await gw.waitForLog((l) => l.msg.startsWith("chatgate: reload rejected"));
    expect(line.level).toBe("error");
    expect(line.msg).toBe(`chatgate: reload rejected: ${file.path}: providers[0].base_url: expected an http(s) URL; keeping the running config`);

    const res = await chat(gw.url, false);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-chatgate-provider")).toBe("a");
    const status = (await (await fetch(`${gw.url}/status`)).json()) as { reload: { at: string; ok: boolean; error: string } };
    expect(status.reload.ok).toBe(false);
    expect(status.reload.error).toContain("providers[0].base_url: expected an http(s) URL");
    expect(Date.parse(status.reload.at)).toBeGreaterThan(0);
    expect(gw.proc.exitCode).toBeNull();
  });

  test("settings that need a restart keep their running values, and the log says so", async () => {
    const file = configFile("providers:\n  - {id: mock, type: mock}\ndefault_model: one\nstream_idle_timeout: 5s\n");
    await using gw = await spawnBinary({}, ["--config", file.path]);
    file.rewrite("providers:\n  - {id: mock, type: mock}\ndefault_model: two\nstream_idle_timeout: 6s\n");
    gw.proc.kill("SIGHUP");
    const line = await gw.waitForLog((l) => l.msg.includes("config reloaded: "));
    expect(line.msg).toEndWith("; CHATGATE_STREAM_IDLE_TIMEOUT_MS, CHATGATE_DEFAULT_MODEL changed but need a restart (running values kept)");
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  });

  test("under systemd: RELOADING=1 with MONOTONIC_USEC= before, READY=1 after (STATUS= says when one was rejected)", async () => {
    const file = configFile("providers:\n  - {id: mock, type: mock}\n");
    await using listener = await notifyListener(join(file.dir, "notify.sock"));
    await using gw = await spawnBinary({ NOTIFY_SOCKET: listener.address }, ["--config", file.path]);
    await listener.next(/^READY=1/);
    const from = listener.received.length;

    gw.proc.kill("SIGHUP");
    const reloading = await listener.next(/^RELOADING=1\nMONOTONIC_USEC=\d+$/, from);
    const usec = Number(/MONOTONIC_USEC=(\d+)/.exec(reloading.msg)![1]);
    // The listener's time.monotonic() is CLOCK_MONOTONIC too: the stamp is from the same clock.
    expect(Math.abs(usec / 1e6 - reloading.t)).toBeLessThan(1);
    const ready = await listener.next(/^READY=1\nSTATUS=/, listener.received.indexOf(reloading));
    expect(ready.msg).not.toContain("rejected");

    file.rewrite("retries: lots\n");
    const again = listener.received.length;
    gw.proc.kill("SIGHUP");
    await listener.next(/^RELOADING=1/, again);
    const refused = await listener.next(/^READY=1\nSTATUS=Reload rejected/, again);
    expect(refused.msg.split("\n")).toHaveLength(2);
  });
});

describe("under systemd, with the service manager slow to read", () => {
  test("state changes held back by a full notify queue arrive later and in order: no READY=1 after a RELOADING=1 is lost", async () => {
    const file = configFile("providers:\n  - {id: mock, type: mock}\n");
    await using listener = await notifyListener(join(file.dir, "notify.sock"));
    await using gw = await spawnBinary({ NOTIFY_SOCKET: listener.address }, ["--config", file.path]);
    await listener.next(/^READY=1/);
    const from = listener.received.length;
    listener.pause();
    const reloads = 12;
    const reloaded = () => gw.logs().filter((l) => l.msg.includes("config reloaded")).length;
    try {
      for (let i = 0; i < reloads; i++) {
        gw.proc.kill("SIGHUP");
        await gw.waitForLog(() => reloaded() > i);
      }
    } finally {
      listener.resume();
    }
    const states = () => listener.received.slice(from).map((d) => d.msg.split("\n")[0]!).filter((m) => m === "READY=1" || m.startsWith("RELOADING=1"));
    while (states().filter((m) => m === "READY=1").length < reloads) await listener.next(/^READY=1/, listener.received.length);
    expect(states()).toEqual(Array.from({ length: reloads }, () => ["RELOADING=1", "READY=1"]).flat());
  }, 20_000);
});

describe("a reload that adds or removes a plain key", () => {
  test("each client keeps its own count: the count follows the key, not its place in the list", async () => {
    const limit = "rate_limit: {max: 2, window: 1h}\nproviders:\n  - {id: mock, type: mock}\n";
    const file = configFile(`api_keys: [ck-aaaa]\n${limit}`);
    const { CHATGATE_RATE_LIMIT_MAX: _, ...defaults } = TEST_DEFAULTS;
    const env = { ...defaults, CHATGATE_CONFIG: file.path, CHATGATE_LEDGER: "0" };
    const app = createApp(parseConfig(env));
    app.app.listen({ hostname: "127.0.0.1", port: 0 });
    const ask = (key: string) => fetch(`http://127.0.0.1:${app.app.server!.port}/v1/models`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.status);
    try {
      expect([await ask("ck-aaaa"), await ask("ck-aaaa")]).toEqual([200, 200]);
      // ck-cccc takes key-1's place, ck-aaaa becomes key-2.
      file.rewrite(`api_keys: [ck-cccc, ck-aaaa]\n${limit}`);
      expect(app.reload(parseConfig(env))).toContain("config reloaded");
      expect([await ask("ck-cccc"), await ask("ck-aaaa")]).toEqual([200, 429]);
    } finally {
      await app.app.server!.stop(true);
    }
  });
});

describe("a reload that would leave a non-loopback listener open", () => {
  test("a file that drops the client keys while the address (restart-only) is not loopback is rejected: the keys stay in force", async () => {
    const file = configFile("host: 0.0.0.0\napi_keys: [s3cret-key]\nproviders:\n  - {id: mock, type: mock}\n");
    const env = { ...TEST_DEFAULTS, CHATGATE_CONFIG: file.path, CHATGATE_LEDGER: "0" };
    const app = createApp(parseConfig(env));
    // Served on loopback here; the config's address is what the reload must keep in mind.
    app.app.listen({ hostname: "127.0.0.1", port: 0 });
    const url = `http://127.0.0.1:${app.app.server!.port}`;
    try {
      file.rewrite("providers:\n  - {id: mock, type: mock}\n");
      expect(() => app.reload(parseConfig(env))).toThrow(/0\.0\.0\.0 \(not loopback\) without client keys/);
      expect((await fetch(`${url}/v1/models`)).status).toBe(401);
      expect((await fetch(`${url}/v1/models`, { headers: { authorization: "Bearer s3cret-key" } })).status).toBe(200);
      // With the keys kept the same reload goes through.
      file.rewrite("api_keys: [s3cret-key]\nproviders:\n  - {id: mock, type: mock}\n");
      expect(app.reload(parseConfig(env))).toContain("config reloaded");
    } finally {
      await app.app.server!.stop(true);
    }
  });
});
