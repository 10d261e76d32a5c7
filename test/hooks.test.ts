// POST /hooks/:name on the real app over real HTTP, in front of a fake OpenAI upstream, with an
// injected clock: what each message sends upstream (the sender's remembered exchanges), signatures
// and replays, client keys for hooks without a secret, the hook's rpm, expiry, /status and reload.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { parseConfig } from "../src/config.ts";
import type { FinishRecord } from "../src/gateway/finish.ts";
import { TestClock } from "./support/clock.ts";
import { routedEnv } from "./support/config-file.ts";
import { startGateway, TEST_DEFAULTS, type TestGateway } from "./support/gateway.ts";
import { fakeOpenAI, type FakeOpenAI } from "./support/upstream.ts";
import { chatAs, keyed, sha256Hex } from "./support/keys.ts";
import { WINDOW_MS } from "../src/hooks/signature.ts";

const SECRET = "whsec-support-0123456789";
const CLIENT_KEY = "ck-hooks-client-key-0001";
const NARROW_KEY = "ck-narrow-key-0002";
const T0 = Date.UTC(2026, 11, 7, 9, 0, 0);

type Doc = Record<string, unknown>;

function docFor(up: FakeOpenAI, hooks: Doc): Doc {
  return {
    providers: [{ id: "up", type: "openai", base_url: up.url, api_key: "sk-upstream-secret", models: ["gpt-4o-mini", "gpt-4o"] }],
    models: { smart: { targets: [{ provider: "up", model: "gpt-4o-mini" }] } },
    keys: [{ id: "team-a", key: `sha256:${sha256Hex(CLIENT_KEY)}` }, { id: "narrow", key: `sha256:${sha256Hex("ck-narrow-key-0002")}`, models: ["up/gpt-4o"] }],
    hooks,
  };
}

interface Hooked extends AsyncDisposable {
  gw: TestGateway;
  up: FakeOpenAI;
  clock: TestClock;
  records: FinishRecord[];
  /** Rewrites the config file with `hooks` and reloads it, as SIGHUP does; returns the reload's line. */
  reload(hooks: Doc): string;
}

function hooked(hooks: Doc): Hooked {
  const up = fakeOpenAI();
  const clock = new TestClock(T0);
  const env: Record<string, string> = { ...routedEnv(docFor(up, hooks) as never), CHATGATE_LEDGER: "0" };
  const gw = startGateway(env, clock.overrides);
  const records: FinishRecord[] = [];
  gw.app.gateway.finishes.subscribe((r) => void records.push(r));
  const reload = (next: Doc) => {
    writeFileSync(env.CHATGATE_CONFIG!, JSON.stringify(docFor(up, next)));
    return gw.app.reload(parseConfig({ ...TEST_DEFAULTS, ...env, PORT: "0", HOST: "127.0.0.1" }));
  };
  return { gw, up, clock, records, reload, [Symbol.asyncDispose]: () => gw.stop().then(() => up.stop()) };
}

const signature = (body: string, secret = SECRET) => `sha256=${new Bun.CryptoHasher("sha256", secret).update(body).digest("hex")}`;

/** POSTs `body` to the hook, signed at `at` (ms) unless told otherwise. */
function send(h: Hooked, name: string, body: Doc | string, options: { at?: number; secret?: string; key?: string; sign?: boolean } = {}): Promise<Response> {
  const raw = typeof body === "string" ? body : JSON.stringify(body);
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.sign !== false) {
    headers["x-chatgate-signature"] = signature(raw, options.secret);
    headers["x-chatgate-timestamp"] = String(Math.floor((options.at ?? h.clock.now()) / 1000));
  }
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  return fetch(`${h.gw.url}/hooks/${name}`, { method: "POST", headers, body: raw });
}

/** What a hook or an error answers, as the tests read it. */
interface Wire {
  reply: string | null;
  model: string;
  session: { from: string; turns: number };
  usage: unknown;
  channels?: unknown;
  error: { message: string; type: string; param: string | null; code: string | null };
}
const read = async (res: Response | Promise<Response>): Promise<Wire> => (await (await res).json()) as Wire;

const messagesOf = (up: FakeOpenAI, i: number) => (up.calls[i]!.body as { messages: unknown[] }).messages;
const status = async (h: Hooked) => (await read(fetch(`${h.gw.url}/status`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } }))) as { channels?: unknown };

const SUPPORT = { model: "smart", system: "You are the support desk.", secret: SECRET, memory: { turns: 2, ttl: "10m" } };

describe("a conversation through a hook", () => {
  test("each message goes upstream with the system message and the sender's last exchanges; the answer says what is remembered", async () => {
    await using h = hooked({ support: SUPPORT });
    h.up.reply({ kind: "completion", content: "A1" }, { kind: "completion", content: "A2" }, { kind: "completion", content: "A3" }, { kind: "completion", content: "B1" });
    const first = await send(h, "support", { text: "Q1", from: "alice" });
    expect(first.status).toBe(200);
    expect(first.headers.get("x-chatgate-provider")).toBe("up");
    const body = await read(first);
    expect<unknown>(body).toEqual({ reply: "A1", model: "gpt-4o-mini", session: { from: "alice", turns: 1 }, usage: expect.objectContaining({ total_tokens: expect.any(Number) }) });
    expect((await read(send(h, "support", { text: "Q2", from: "alice" }))).session).toEqual({ from: "alice", turns: 2 });
    expect((await read(send(h, "support", { text: "Q3", from: "alice" }))).session).toEqual({ from: "alice", turns: 2 });
    expect((await read(send(h, "support", { text: "Hi", from: "bob" }))).reply).toBe("B1");
    const system = { role: "system", content: "You are the support desk." };
    expect(h.up.calls[0]!.body).toEqual({ model: "gpt-4o-mini", messages: [system, { role: "user", content: "Q1" }] });
    expect(messagesOf(h.up, 1)).toEqual([system, { role: "user", content: "Q1" }, { role: "assistant", content: "A1" }, { role: "user", content: "Q2" }]);
    // turns: 2 — the first exchange is gone by the third message.
    expect(messagesOf(h.up, 2)).toEqual([system, { role: "user", content: "Q1" }, { role: "assistant", content: "A1" }, { role: "user", content: "Q2" }, { role: "assistant", content: "A2" }, { role: "user", content: "Q3" }]);
    expect(messagesOf(h.up, 3)).toEqual([system, { role: "user", content: "Hi" }]);
    const next = send(h, "support", { text: "Q4", from: "alice" });
    expect(await read(next)).toMatchObject({ session: { turns: 2 } });
    expect(messagesOf(h.up, 4).slice(1, 3)).toEqual([{ role: "user", content: "Q2" }, { role: "assistant", content: "A2" }]);
    // One record per message, under the hook's route; no client key.
    expect(h.records.map((r) => [r.route, r.status, r.keyId, r.model])).toEqual(Array(5).fill(["/hooks/support", 200, null, "smart"]));
  });

  test("reset forgets the sender's conversation and calls no model", async () => {
    await using h = hooked({ support: SUPPORT });
    await send(h, "support", { text: "Q1", from: "alice" });
    const reset = await send(h, "support", { from: "alice", action: "reset" });
    expect(reset.status).toBe(200);
    expect<unknown>(await read(reset)).toEqual({ reply: null, model: "smart", session: { from: "alice", turns: 0 }, usage: null });
    expect(h.up.calls).toHaveLength(1);
    await send(h, "support", { text: "Q2", from: "alice" });
    expect(messagesOf(h.up, 1)).toEqual([{ role: "system", content: "You are the support desk." }, { role: "user", content: "Q2" }]);
  });

  test("a conversation is forgotten `ttl` after its last exchange, and /status counts only live ones", async () => {
    await using h = hooked({ support: SUPPORT });
    await send(h, "support", { text: "Q1", from: "alice" });
    await send(h, "support", { text: "Q1", from: "bob" });
    expect((await status(h)).channels).toEqual([{ name: "support", model: "smart", sessions: 2 }]);
    h.clock.advance(9 * 60_000);
    await send(h, "support", { text: "Q2", from: "alice" });
    h.clock.advance(60_000);
    expect((await status(h)).channels).toEqual([{ name: "support", model: "smart", sessions: 1 }]);
    await send(h, "support", { text: "Q2", from: "bob" });
    expect(messagesOf(h.up, 3)).toEqual([{ role: "system", content: "You are the support desk." }, { role: "user", content: "Q2" }]);
  });

  test("a failed upstream call adds nothing to the conversation, and the sender may deliver the same signed body again", async () => {
    await using h = hooked({ support: SUPPORT });
    h.up.reply({ kind: "error", status: 500 }, { kind: "completion", content: "A1" }, { kind: "completion", content: "A2" });
    const body = JSON.stringify({ text: "Q1", from: "alice", id: "evt-1" });
    const failed = await send(h, "support", body);
    expect(failed.status).toBe(502);
    expect((await read(failed)).error.code).toBe("upstream_error");
    const again = await send(h, "support", body);
    expect(again.status).toBe(200);
    expect((await read(again)).session.turns).toBe(1);
    await send(h, "support", { text: "Q2", from: "alice" });
    expect(messagesOf(h.up, 2)).toHaveLength(4);
  });
});

describe("signed hooks", () => {
  test("good, bad, missing, stale and replayed signatures: 200, then 401 in OpenAI's error shape naming what is wrong", async () => {
    await using h = hooked({ support: SUPPORT });
    const body = JSON.stringify({ text: "hello", from: "alice" });
    const cases: [Promise<Response>, number, string | null][] = [
      [send(h, "support", body, { sign: false }), 401, "missing_signature"],
      [send(h, "support", body, { secret: "whsec-not-the-secret-00" }), 401, "invalid_signature"],
      [send(h, "support", body, { at: T0 - 6 * 60_000 }), 401, "signature_expired"],
      [send(h, "support", body, { at: T0 + 6 * 60_000 }), 401, "signature_expired"],
    ];
    for (const [response, code, error] of cases) {
      const res = await response;
      expect(res.status).toBe(code);
      const json = await read(res);
      expect<unknown>(json).toEqual({ error: { message: expect.any(String), type: "authentication_error", param: null, code: error } });
      expect(JSON.stringify(json)).not.toContain(SECRET);
    }
    // The body's bytes exactly: the same JSON with another spacing is another body.
    const reformatted = await fetch(`${h.gw.url}/hooks/support`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-chatgate-signature": signature(body), "x-chatgate-timestamp": String(T0 / 1000) },
      body: JSON.stringify({ text: "hello", from: "alice" }, null, 1),
    });
    expect((await read(reformatted)).error.code).toBe("invalid_signature");
    expect(h.up.calls).toHaveLength(0);
    expect((await send(h, "support", body)).status).toBe(200);
    const replayed = await send(h, "support", body);
    expect(replayed.status).toBe(401);
    expect((await read(replayed)).error.code).toBe("signature_replayed");
    // A fresh timestamp does not make the same body new within the window.
    h.clock.advance(60_000);
    expect((await read(send(h, "support", body))).error.code).toBe("signature_replayed");
    expect(h.up.calls).toHaveLength(1);
    expect(h.records.filter((r) => r.status === 401).map((r) => r.route)).toEqual(Array(7).fill("/hooks/support"));
  });

  test("a body signed with a timestamp ahead of the clock stays a replay for as long as that timestamp is accepted", async () => {
    await using h = hooked({ support: SUPPORT });
    const body = JSON.stringify({ text: "hello", from: "alice" });
    const at = T0 + 290_000;
    expect((await send(h, "support", body, { at })).status).toBe(200);
    expect((await read(send(h, "support", body, { at }))).error.code).toBe("signature_replayed");
    // 5 minutes after receipt the timestamp is still within the window: the same request is still a replay.
    h.clock.advance(305_000);
    const later = await send(h, "support", body, { at });
    expect(later.status).toBe(401);
    expect((await read(later)).error.code).toBe("signature_replayed");
    // Up to the last instant the timestamp is accepted (at + 5 minutes)…
    h.clock.advance(at + WINDOW_MS - h.clock.now());
    expect((await read(send(h, "support", body, { at }))).error.code).toBe("signature_replayed");
    // …after which the timestamp itself is refused.
    h.clock.advance(1000);
    expect((await read(send(h, "support", body, { at }))).error.code).toBe("signature_expired");
    expect(h.up.calls).toHaveLength(1);
  });

  test("a body signed with a timestamp behind the clock is still remembered for the window after its receipt", async () => {
    await using h = hooked({ support: SUPPORT });
    const body = JSON.stringify({ text: "hello", from: "alice" });
    expect((await send(h, "support", body, { at: T0 - 290_000 })).status).toBe(200);
    h.clock.advance(60_000);
    expect((await read(send(h, "support", body))).error.code).toBe("signature_replayed");
    h.clock.advance(4 * 60_000);
    expect((await read(send(h, "support", body))).error.code).toBe("signature_replayed");
    h.clock.advance(1000);
    expect((await send(h, "support", body)).status).toBe(200);
    expect(h.up.calls).toHaveLength(2);
  });

  test("a signed hook takes no client key, and a client key does not stand in for a signature", async () => {
    await using h = hooked({ support: SUPPORT });
    const res = await send(h, "support", { text: "hi", from: "alice" }, { sign: false, key: CLIENT_KEY });
    expect(res.status).toBe(401);
    expect((await read(res)).error.code).toBe("missing_signature");
    expect((await send(h, "support", { text: "hi", from: "alice" })).status).toBe(200);
  });

  test("an unknown hook is a 404 before anything about keys or signatures; a bad body after the signature is a 400 naming the field", async () => {
    await using h = hooked({ support: SUPPORT });
    const unknown = await fetch(`${h.gw.url}/hooks/sales`, { method: "POST", body: "{}" });
    expect(unknown.status).toBe(404);
    expect<unknown>(await read(unknown)).toEqual({ error: { message: "No hook named 'sales' is configured.", type: "invalid_request_error", param: null, code: "hook_not_found" } });
    const bad = await send(h, "support", { text: "", from: "alice" });
    expect(bad.status).toBe(400);
    expect((await read(bad)).error).toMatchObject({ param: "text", type: "invalid_request_error" });
    const notJson = await send(h, "support", "text=hi");
    expect(notJson.status).toBe(400);
    const huge = await send(h, "support", { text: "x".repeat(300_000), from: "alice" });
    expect(huge.status).toBe(413);
    expect((await fetch(`${h.gw.url}/hooks/support`)).status).toBe(405);
  });
});

describe("hooks without a secret", () => {
  test("take a client key like /v1/chat/completions: none or a wrong one is a 401; the key's models apply; records carry its id", async () => {
    await using h = hooked({ open: { model: "smart" } });
    const none = await send(h, "open", { text: "hi", from: "alice" }, { sign: false });
    expect(none.status).toBe(401);
    expect((await read(none)).error.code).toBe("invalid_api_key");
    expect((await send(h, "open", { text: "hi", from: "alice" }, { sign: false, key: "ck-wrong" })).status).toBe(401);
    const narrow = await send(h, "open", { text: "hi", from: "alice" }, { sign: false, key: "ck-narrow-key-0002" });
    expect(narrow.status).toBe(404);
    expect((await read(narrow)).error.code).toBe("model_not_found");
    const ok = await send(h, "open", { text: "hi", from: "alice" }, { sign: false, key: CLIENT_KEY });
    expect(ok.status).toBe(200);
    expect(h.records.map((r) => [r.status, r.keyId])).toEqual([[401, null], [401, null], [404, "narrow"], [200, "team-a"]]);
  });

  test("a conversation belongs to the client key and the sender together: another key with the same `from` neither sees nor resets it", async () => {
    await using h = hooked({ open: { model: "up/gpt-4o", memory: { turns: 5, ttl: "10m" } } });
    h.up.reply({ kind: "completion", content: "A1" }, { kind: "completion", content: "B1" }, { kind: "completion", content: "A2" });
    const as = (key: string, body: Doc) => send(h, "open", body, { sign: false, key });
    expect((await read(as(CLIENT_KEY, { text: "my order is 4711", from: "victim" }))).session).toEqual({ from: "victim", turns: 1 });
    const other = await read(as(NARROW_KEY, { text: "what is my order?", from: "victim" }));
    expect(other.session).toEqual({ from: "victim", turns: 1 });
    expect(messagesOf(h.up, 1)).toEqual([{ role: "user", content: "what is my order?" }]);
    expect(JSON.stringify(h.up.calls[1]!.body)).not.toContain("4711");
    expect((await status(h)).channels).toEqual([{ name: "open", model: "up/gpt-4o", sessions: 2 }]);
    // The other key's reset forgets its own conversation only.
    expect((await read(as(NARROW_KEY, { from: "victim", action: "reset" }))).session).toEqual({ from: "victim", turns: 0 });
    expect((await status(h)).channels).toEqual([{ name: "open", model: "up/gpt-4o", sessions: 1 }]);
    expect((await read(as(CLIENT_KEY, { text: "and when does it come?", from: "victim" }))).session).toEqual({ from: "victim", turns: 2 });
    expect(messagesOf(h.up, 2)).toEqual([{ role: "user", content: "my order is 4711" }, { role: "assistant", content: "A1" }, { role: "user", content: "and when does it come?" }]);
    expect(h.records.filter((r) => r.route === "/hooks/open").map((r) => [r.status, r.keyId])).toEqual([[200, "team-a"], [200, "narrow"], [200, "team-a"]]);
  });

  test("a key's rpm counts hook messages too", async () => {
    await using k = keyed([{ id: "team-a", secret: CLIENT_KEY, rpm: 2 }], { extra: { hooks: { open: { model: "smart" } } } });
    const post = () => fetch(`${k.gw.url}/hooks/open`, { method: "POST", headers: { authorization: `Bearer ${CLIENT_KEY}` }, body: JSON.stringify({ text: "hi", from: "alice" }) });
    expect((await post()).status).toBe(200);
    expect((await chatAs(k.gw, CLIENT_KEY)).status).toBe(200);
    const over = await post();
    expect(over.status).toBe(429);
    expect(over.headers.get("retry-after")).not.toBeNull();
  });
});

describe("a hook's rpm", () => {
  test("every sender together; over it a 429 in OpenAI's shape with Retry-After, until the minute ends", async () => {
    await using h = hooked({ support: { ...SUPPORT, rpm: 2 } });
    expect((await send(h, "support", { text: "1", from: "alice" })).status).toBe(200);
    expect((await send(h, "support", { text: "2", from: "bob" })).status).toBe(200);
    const over = await send(h, "support", { text: "3", from: "carol", id: "a" });
    expect(over.status).toBe(429);
    expect(over.headers.get("retry-after")).toBe("60");
    expect(over.headers.get("x-ratelimit-limit-requests")).toBe("2");
    expect<unknown>(await read(over)).toEqual({ error: { message: "Rate limit reached for hook support: 2 requests per minute. Please try again in 60s.", type: "requests", param: null, code: "rate_limit_exceeded" } });
    h.clock.advance(60_000);
    // The refused delivery's signature was given back: the sender's retry goes through.
    expect((await send(h, "support", { text: "3", from: "carol", id: "a" })).status).toBe(200);
  });
});

describe("one sender's messages sent together", () => {
  test("are answered one after the other, the second with the first exchange as context", async () => {
    await using k = keyed([], { extra: { hooks: { support: SUPPORT } } });
    const post = (text: string, from: string, at = k.clock.now()) => {
      const body = JSON.stringify({ text, from });
      return fetch(`${k.gw.url}/hooks/support`, {
        method: "POST",
        headers: { "x-chatgate-signature": signature(body), "x-chatgate-timestamp": String(Math.floor(at / 1000)) },
        body,
      });
    };
    k.up.hold();
    const first = post("Q1", "alice");
    await k.up.arrived(1);
    const second = post("Q2", "alice");
    const other = post("Hi", "bob");
    await k.up.arrived(2);
    // Bob's message went up while Alice's second waits for her first.
    expect((k.up.calls[1]!.messages as { content: string }[]).at(-1)!.content).toBe("Hi");
    k.up.release();
    expect((await read(first)).session.turns).toBe(1);
    expect((await read(second)).session.turns).toBe(2);
    expect((await other).status).toBe(200);
    expect((k.up.calls[2]!.messages as { content: string }[]).map((m) => m.content)).toEqual(["You are the support desk.", "Q1", "Hello from upstream", "Q2"]);
  });
});

describe("/status and reload", () => {
  test("/status lists each hook with its live conversations and never its secret", async () => {
    await using h = hooked({ support: SUPPORT, open: { model: "up/gpt-4o" } });
    await send(h, "support", { text: "hi", from: "alice" });
    const res = await fetch(`${h.gw.url}/status`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    const text = await res.text();
    expect(JSON.parse(text).channels).toEqual([{ name: "support", model: "smart", sessions: 1 }, { name: "open", model: "up/gpt-4o", sessions: 0 }]);
    expect(text).not.toContain(SECRET);
  });

  test("without hooks /status has no channels and /hooks/<any> is a 404", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    expect("channels" in ((await read(fetch(`${gw.url}/status`))) as object)).toBe(false);
    const res = await fetch(`${gw.url}/hooks/support`, { method: "POST", body: "{}" });
    expect(res.status).toBe(404);
    expect((await read(res)).error.code).toBe("hook_not_found");
  });

  test("hooks added by a reload to a gateway that started without any work at once; removed, they are 404s again", async () => {
    await using h = hooked({});
    expect((await send(h, "support", { text: "hi", from: "alice" })).status).toBe(404);
    expect((await status(h)).channels).toBeUndefined();
    expect(h.reload({ support: SUPPORT })).toContain("1 hook (was 0)");
    expect((await send(h, "support", { text: "hi", from: "alice" })).status).toBe(200);
    expect((await status(h)).channels).toEqual([{ name: "support", model: "smart", sessions: 1 }]);
    h.reload({});
    expect((await read(send(h, "support", { text: "again", from: "alice" }))).error.code).toBe("hook_not_found");
    expect((await status(h)).channels).toEqual([]);
  });

  test("a reload applies the new hooks to new requests; a hook that stays keeps its conversations while its memory settings do", async () => {
    await using h = hooked({ support: SUPPORT });
    await send(h, "support", { text: "Q1", from: "alice" });
    expect(h.reload({ support: SUPPORT, sales: { model: "smart", secret: "whsec-sales-0123456789" } })).toContain("2 hooks (was 1)");
    expect((await read(send(h, "support", { text: "Q2", from: "alice" }))).session.turns).toBe(2);
    expect((await send(h, "sales", { text: "hi", from: "alice" }, { secret: "whsec-sales-0123456789" })).status).toBe(200);
    h.reload({ support: { ...SUPPORT, memory: { turns: 5, ttl: "10m" } } });
    expect((await read(send(h, "support", { text: "Q3", from: "alice" }))).session.turns).toBe(1);
    expect((await send(h, "sales", { text: "hi again", from: "alice" }, { secret: "whsec-sales-0123456789" })).status).toBe(404);
    const rotated = "whsec-support-rotated-01";
    h.reload({ support: { ...SUPPORT, memory: { turns: 5, ttl: "10m" }, secret: rotated } });
    expect((await send(h, "support", { text: "Q4", from: "alice" })).status).toBe(401);
    expect((await send(h, "support", { text: "Q4", from: "alice" }, { secret: rotated })).status).toBe(200);
  });
});
