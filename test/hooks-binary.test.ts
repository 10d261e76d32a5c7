// Webhook channels against the compiled binary, from outside, as a chat channel's webhook meets
// them: signatures made with openssl as the README shows, replays, conversations and their bounds
// as a fake OpenAI upstream receives them, client keys for a hook without a secret, /status.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary, spawnBinary } from "./support/binary.ts";
import type { GatewayProcess } from "./support/process.ts";
import { fakeOpenAI, type FakeOpenAI } from "./support/upstream.ts";

const SECRET = "whsec-binary-support-0123456789";
const CLIENT_KEY = "ck-hooks-binary-client-0001";
const dir = mkdtempSync(join(tmpdir(), "chatgate-hooks-bin-"));

let up: FakeOpenAI;
let gw: GatewayProcess;

beforeAll(async () => {
  await compiledBinary();
  up = fakeOpenAI();
  const config = join(dir, "chatgate.yaml");
  writeFileSync(
    config,
    `providers:
  - {id: up, type: openai, base_url: "${up.url}", api_key: sk-upstream-secret, models: [gpt-4o-mini]}
models:
  smart: {targets: [{provider: up, model: gpt-4o-mini}]}
hooks:
  support:
    model: smart
    system: You are the support desk.
    secret: \${SUPPORT_HOOK_SECRET}
    memory: {turns: 2, ttl: 1h}
  tiny:
    model: up/gpt-4o-mini
    secret: \${SUPPORT_HOOK_SECRET}
    memory: {turns: 5, max_senders: 2, max_bytes: 1024}
  open:
    model: smart
`,
  );
  gw = await spawnBinary({ CHATGATE_CONFIG: config, SUPPORT_HOOK_SECRET: SECRET, CHATGATE_API_KEYS: CLIENT_KEY, CHATGATE_RATE_LIMIT_MAX: "0" });
}, 120_000);

afterAll(async () => {
  await gw?.stop();
  await up?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The README's recipe: `openssl dgst -sha256 -hmac "$SECRET"` over the body file, hex after the `= `. */
async function opensslSignature(body: string, secret = SECRET): Promise<string> {
  const file = join(dir, `body-${crypto.randomUUID()}.json`);
  writeFileSync(file, body);
  const proc = Bun.spawn(["openssl", "dgst", "-sha256", "-hmac", secret, file], { stdout: "pipe" });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  return `sha256=${out.trim().split("= ")[1]}`;
}

const nowSeconds = () => String(Math.floor(Date.now() / 1000));

async function send(name: string, body: Record<string, unknown> | string, headers: Record<string, string | null> = {}): Promise<Response> {
  const raw = typeof body === "string" ? body : JSON.stringify(body);
  const all: Record<string, string> = { "content-type": "application/json" };
  const signatureGiven = "x-chatgate-signature" in headers;
  if (!signatureGiven) all["x-chatgate-signature"] = await opensslSignature(raw);
  if (!("x-chatgate-timestamp" in headers)) all["x-chatgate-timestamp"] = nowSeconds();
  for (const [k, v] of Object.entries(headers)) if (v !== null) all[k] = v;
  return fetch(`${gw.url}/hooks/${name}`, { method: "POST", headers: all, body: raw });
}

const lastMessages = (n = 1) => up.calls.slice(-n).map((c) => (c.body as { messages: { role: string; content: string }[] }).messages);
const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;
const channels = async () =>
  ((await (await fetch(`${gw.url}/status`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } })).json()) as { channels: { name: string; sessions: number }[] }).channels;

describe("signed webhooks on the binary", () => {
  test("a body signed with openssl is answered; missing, wrong, stale and replayed signatures are 401s naming why", async () => {
    const body = JSON.stringify({ text: "Where is my order?", from: "sig-alice" });
    up.reply({ kind: "completion", content: "On its way." });
    const good = await send("support", body);
    expect(good.status).toBe(200);
    expect(await good.json()).toEqual({ reply: "On its way.", model: "gpt-4o-mini", session: { from: "sig-alice", turns: 1 }, usage: expect.objectContaining({ total_tokens: expect.any(Number) }) });

    const calls = up.calls.length;
    const other = JSON.stringify({ text: "Another", from: "sig-alice" });
    const missing = await send("support", other, { "x-chatgate-signature": null });
    expect([missing.status, await errorCode(missing)]).toEqual([401, "missing_signature"]);
    const noTimestamp = await send("support", other, { "x-chatgate-timestamp": null });
    expect([noTimestamp.status, await errorCode(noTimestamp)]).toEqual([401, "missing_signature"]);
    const wrong = await send("support", other, { "x-chatgate-signature": await opensslSignature(other, "whsec-someone-else-000000") });
    expect([wrong.status, await errorCode(wrong)]).toEqual([401, "invalid_signature"]);
    const tampered = await send("support", other.replace("Another", "AnotheR"), { "x-chatgate-signature": await opensslSignature(other) });
    expect([tampered.status, await errorCode(tampered)]).toEqual([401, "invalid_signature"]);
    const stale = await send("support", other, { "x-chatgate-timestamp": String(Math.floor(Date.now() / 1000) - 600) });
    expect([stale.status, await errorCode(stale)]).toEqual([401, "signature_expired"]);
    const replayed = await send("support", body);
    expect(replayed.status).toBe(401);
    expect(await replayed.json()).toEqual({ error: { message: expect.stringContaining("already received"), type: "authentication_error", param: null, code: "signature_replayed" } });
    expect(up.calls.length).toBe(calls);
    expect(gw.output()).not.toContain(SECRET);
  });

  test("the README's example, run by a shell with openssl and curl, is answered", async () => {
    const readme = readFileSync(join(import.meta.dir, "..", "README.md"), "utf8");
    const script = /## Webhook channels[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(script).toBeDefined();
    up.reply({ kind: "completion", content: "It left our warehouse this morning." });
    const proc = Bun.spawn(["bash", "-c", script!.replaceAll("localhost:3000", gw.url)], { env: { PATH: "/usr/bin:/bin", SUPPORT_HOOK_SECRET: SECRET }, stdout: "pipe", stderr: "pipe" });
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ reply: "It left our warehouse this morning.", model: "gpt-4o-mini", session: { from: "+15551234567", turns: 1 } });
  });

  test("an unknown hook is a 404 whatever the headers; a hook without a secret takes the client key", async () => {
    const unknown = await fetch(`${gw.url}/hooks/sales`, { method: "POST", body: "{}" });
    expect([unknown.status, await errorCode(unknown)]).toEqual([404, "hook_not_found"]);
    const post = (key?: string) =>
      fetch(`${gw.url}/hooks/open`, { method: "POST", headers: key ? { authorization: `Bearer ${key}` } : {}, body: JSON.stringify({ text: "hi", from: "open-alice" }) });
    const none = await post();
    expect([none.status, await errorCode(none)]).toEqual([401, "invalid_api_key"]);
    expect((await post("ck-wrong")).status).toBe(401);
    expect((await post(CLIENT_KEY)).status).toBe(200);
  });
});

describe("conversations on the binary", () => {
  test("several messages of one sender carry the last `turns` exchanges upstream; reset forgets them", async () => {
    const replies = ["R1", "R2", "R3"];
    up.reply(...replies.map((content) => ({ kind: "completion" as const, content })));
    const turns = [];
    for (const text of ["M1", "M2", "M3"]) turns.push(((await (await send("support", { text, from: "conv-bob" })).json()) as { session: { turns: number } }).session.turns);
    expect(turns).toEqual([1, 2, 2]);
    const [m1, m2, m3] = lastMessages(3);
    const system = { role: "system", content: "You are the support desk." };
    expect(m1).toEqual([system, { role: "user", content: "M1" }]);
    expect(m2).toEqual([system, { role: "user", content: "M1" }, { role: "assistant", content: "R1" }, { role: "user", content: "M2" }]);
    expect(m3).toEqual([system, { role: "user", content: "M1" }, { role: "assistant", content: "R1" }, { role: "user", content: "M2" }, { role: "assistant", content: "R2" }, { role: "user", content: "M3" }]);
    const reset = await send("support", { from: "conv-bob", action: "reset" });
    expect(await reset.json()).toEqual({ reply: null, model: "smart", session: { from: "conv-bob", turns: 0 }, usage: null });
    await send("support", { text: "M4", from: "conv-bob" });
    expect(lastMessages()[0]).toEqual([system, { role: "user", content: "M4" }]);
  });

  test("max_senders and max_bytes bound what is remembered: the least recently active sender is forgotten first", async () => {
    // Each exchange holds 319 bytes: 300 of the message, 19 of the reply ("Hello from upstream").
    const text = (n: number) => `${n}`.repeat(300);
    const sentFor = async (n: number, from: string) => {
      await send("tiny", { text: text(n), from });
      return lastMessages()[0]!.map((m) => m.content);
    };
    await sentFor(1, "a");
    await sentFor(2, "b");
    // max_senders: 2 — a third sender pushes out the least recently active (a).
    await sentFor(3, "c");
    expect((await channels()).find((c) => c.name === "tiny")!.sessions).toBe(2);
    expect(await sentFor(4, "a")).toEqual([text(4)]);
    // max_bytes: 1024 — c's third exchange (c 957 + a 319 bytes) pushes out a, now the least recently active.
    await sentFor(5, "c");
    expect(await sentFor(6, "c")).toEqual([text(3), "Hello from upstream", text(5), "Hello from upstream", text(6)]);
    expect((await channels()).find((c) => c.name === "tiny")!.sessions).toBe(1);
    // Alone over the bound, c keeps only its newest exchanges that fit.
    await sentFor(7, "c");
    expect(await sentFor(8, "c")).toEqual([text(5), "Hello from upstream", text(6), "Hello from upstream", text(7), "Hello from upstream", text(8)]);
    expect(await sentFor(9, "a")).toEqual([text(9)]);
  });

  test("/status lists every hook and its live conversations; the log names the hook's route, never the secret", async () => {
    const list = await channels();
    expect(list.map((c) => c.name)).toEqual(["support", "tiny", "open"]);
    expect(list.find((c) => c.name === "support")!.sessions).toBeGreaterThanOrEqual(2);
    const line = await gw.waitForLog((l) => l.msg === "request" && l.route === "/hooks/support" && l.status === 200);
    expect(line.model).toBe("smart");
    expect(gw.output()).not.toContain(SECRET);
    // Metrics keep their labels bounded: every hook, and every name sent to none, is one route.
    const metrics = await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } })).text();
    expect(metrics).toContain('chatgate_requests_total{route="/hooks/:name",model="smart",provider="up",status="200"}');
    expect(metrics).toContain('chatgate_requests_total{route="/hooks/:name",model="none",provider="none",status="404"} 1');
    expect(metrics).not.toContain('route="/hooks/support"');
  });
});
