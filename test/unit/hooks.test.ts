// The webhook channels' parts, with an injected clock: conversations and their bounds, signatures
// and replays, the message shape, and the `hooks:` section of the config file.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, parseConfig } from "../../src/config.ts";
import { checkConfig } from "../../src/config/check-config.ts";
import { hookMessage } from "../../src/hooks/hook-body.ts";
import { MAX_WAITING, SenderQueue } from "../../src/hooks/sender-queue.ts";
import { Sessions } from "../../src/hooks/sessions.ts";
import { ReplayGuard, WINDOW_MS, verifySignature } from "../../src/hooks/signature.ts";
import { GatewayError } from "../../src/errors.ts";

const SECRET = "whsec-0123456789abcdef";
const sign = (body: string, secret = SECRET) => `sha256=${new Bun.CryptoHasher("sha256", secret).update(body).digest("hex")}`;

function clock(start = 1_765_000_000_000) {
  let time = start;
  return { now: () => time, advance: (ms: number) => void (time += ms) };
}

/** The GatewayError `run` throws. */
function thrown(run: () => unknown): GatewayError {
  try {
    run();
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error("did not throw");
}

describe("sessions", () => {
  const limits = { turns: 3, ttlMs: 60_000, maxSenders: 100, maxBytes: 1 << 20 };

  test("keep the last `turns` exchanges of each sender, oldest first, apart from other senders'", () => {
    const t = clock();
    const sessions = new Sessions(limits, t.now);
    for (let i = 1; i <= 5; i++) expect(sessions.add("alice", { user: `q${i}`, assistant: `a${i}` })).toBe(Math.min(i, 3));
    sessions.add("bob", { user: "hi", assistant: "hello" });
    expect(sessions.history("alice")).toEqual([{ user: "q3", assistant: "a3" }, { user: "q4", assistant: "a4" }, { user: "q5", assistant: "a5" }]);
    expect(sessions.history("bob")).toEqual([{ user: "hi", assistant: "hello" }]);
    expect(sessions.history("carol")).toEqual([]);
    expect(sessions.active()).toBe(2);
  });

  test("are forgotten `ttl` after their last exchange, and each exchange starts the ttl again", () => {
    const t = clock();
    const sessions = new Sessions(limits, t.now);
    sessions.add("alice", { user: "q1", assistant: "a1" });
    sessions.add("bob", { user: "q1", assistant: "a1" });
    t.advance(59_000);
    sessions.add("alice", { user: "q2", assistant: "a2" });
    t.advance(1_000);
    expect(sessions.history("bob")).toEqual([]);
    expect(sessions.history("alice")).toHaveLength(2);
    expect(sessions.active()).toBe(1);
    t.advance(59_000);
    expect(sessions.active()).toBe(0);
    expect(sessions.size).toEqual({ senders: 0, bytes: 0 });
  });

  test("past max_senders, the least recently active sender is forgotten", () => {
    const t = clock();
    const sessions = new Sessions({ ...limits, maxSenders: 2 }, t.now);
    sessions.add("alice", { user: "1", assistant: "1" });
    sessions.add("bob", { user: "1", assistant: "1" });
    sessions.add("alice", { user: "2", assistant: "2" });
    sessions.add("carol", { user: "1", assistant: "1" });
    expect(sessions.history("bob")).toEqual([]);
    expect(sessions.history("alice")).toHaveLength(2);
    expect(sessions.history("carol")).toHaveLength(1);
    expect(sessions.size.senders).toBe(2);
  });

  test("past max_bytes, the least recently active senders go first, then the newest sender's own oldest exchanges", () => {
    const t = clock();
    const sessions = new Sessions({ ...limits, maxBytes: 100 }, t.now);
    const forty = { user: "x".repeat(20), assistant: "é".repeat(10) }; // 20 + 20 UTF-8 bytes
    sessions.add("alice", forty);
    sessions.add("bob", forty);
    expect(sessions.size).toEqual({ senders: 2, bytes: 80 });
    sessions.add("carol", forty);
    expect(sessions.size).toEqual({ senders: 2, bytes: 80 });
    expect(sessions.history("alice")).toEqual([]);
    expect(sessions.add("carol", forty)).toBe(2);
    expect(sessions.add("carol", forty)).toBe(2);
    expect(sessions.history("bob")).toEqual([]);
    expect(sessions.size).toEqual({ senders: 1, bytes: 80 });
  });

  test("an exchange larger than max_bytes is not kept at all, costs no other sender their history, and leaves no empty conversation", () => {
    const sessions = new Sessions({ ...limits, maxBytes: 10 }, clock().now);
    expect(sessions.add("alice", { user: "a long message", assistant: "a long reply" })).toBe(0);
    expect(sessions.size).toEqual({ senders: 0, bytes: 0 });
    const fits = { user: "hi", assistant: "yo" };
    sessions.add("bob", fits);
    expect(sessions.add("carol", { user: "a long message", assistant: "a long reply" })).toBe(0);
    expect([sessions.history("bob"), sessions.size]).toEqual([[fits], { senders: 1, bytes: 4 }]);
    expect(sessions.active()).toBe(1);
  });

  test("turns: 0 keeps nothing; reset forgets one sender", () => {
    const none = new Sessions({ ...limits, turns: 0 }, clock().now);
    expect(none.add("alice", { user: "q", assistant: "a" })).toBe(0);
    expect(none.active()).toBe(0);
    const sessions = new Sessions(limits, clock().now);
    sessions.add("alice", { user: "q", assistant: "a" });
    sessions.add("bob", { user: "q", assistant: "a" });
    sessions.reset("alice");
    expect(sessions.history("alice")).toEqual([]);
    expect(sessions.size).toEqual({ senders: 1, bytes: 2 });
  });
});

describe("one sender's messages", () => {
  test("run one at a time in arrival order, other senders' alongside; a failure does not block the next", async () => {
    const queue = new SenderQueue();
    const order: string[] = [];
    const first = Promise.withResolvers<void>();
    const a1 = queue.run("alice", async () => (order.push("a1 start"), await first.promise, order.push("a1 end")));
    const a2 = queue.run("alice", async () => void order.push("a2"));
    const b1 = queue.run("bob", async () => void order.push("b1"));
    await b1;
    expect(order).toEqual(["a1 start", "b1"]);
    first.resolve();
    await Promise.all([a1, a2]);
    expect(order).toEqual(["a1 start", "b1", "a1 end", "a2"]);
    await expect(queue.run("alice", () => Promise.reject(new Error("upstream down")))).rejects.toThrow("upstream down");
    expect(await queue.run("alice", async () => "next")).toBe("next");
  });

  test(`beyond ${MAX_WAITING} waiting behind the one in flight get 429 session_busy`, async () => {
    const queue = new SenderQueue();
    const hold = Promise.withResolvers<void>();
    const running = Array.from({ length: MAX_WAITING + 1 }, () => queue.run("alice", () => hold.promise));
    const refused = await queue.run("alice", async () => undefined).catch((err: GatewayError) => err);
    expect(refused).toBeInstanceOf(GatewayError);
    expect((refused as GatewayError).status).toBe(429);
    expect((refused as GatewayError).code).toBe("session_busy");
    hold.resolve();
    await Promise.all(running);
  });
});

describe("signatures", () => {
  const body = new TextEncoder().encode('{"text":"hi","from":"alice"}');
  const headers = (signature: string | null, timestamp: string | null) => {
    const h = new Headers();
    if (signature !== null) h.set("x-chatgate-signature", signature);
    if (timestamp !== null) h.set("x-chatgate-timestamp", timestamp);
    return h;
  };
  const now = 1_765_000_000_000;
  const seconds = (ms: number) => String(Math.floor(ms / 1000));

  test("the HMAC-SHA256 of the raw body under the secret, within 5 minutes either way, is taken", () => {
    const signature = sign('{"text":"hi","from":"alice"}');
    for (const at of [now, now - WINDOW_MS + 1000, now + WINDOW_MS - 1000]) {
      const signed = verifySignature(SECRET, body, headers(signature, seconds(at)), now);
      expect(signed.digest).toHaveLength(32);
      expect(signed.at).toBe(Number(seconds(at)) * 1000);
    }
    expect(verifySignature(SECRET, body, headers(signature.toUpperCase().replace("SHA256=", "sha256="), seconds(now)), now).digest).toHaveLength(32);
  });

  test("each wrong header is a 401 whose code says what is wrong", () => {
    const good = sign('{"text":"hi","from":"alice"}');
    const cases: [Headers, string][] = [
      [headers(null, seconds(now)), "missing_signature"],
      [headers(good, null), "missing_signature"],
      [headers(sign('{"text":"hi","from":"alice"} '), seconds(now)), "invalid_signature"],
      [headers(sign('{"text":"hi","from":"alice"}', "another-secret-0123"), seconds(now)), "invalid_signature"],
      [headers(good.slice(0, -2), seconds(now)), "invalid_signature"],
      [headers(good.replace("sha256=", "sha1="), seconds(now)), "invalid_signature"],
      [headers(good, seconds(now - WINDOW_MS - 1000)), "signature_expired"],
      [headers(good, seconds(now + WINDOW_MS + 1000)), "signature_expired"],
      [headers(good, String(now)), "signature_expired"],
      [headers(good, "yesterday"), "signature_expired"],
    ];
    for (const [h, code] of cases) {
      const err = thrown(() => verifySignature(SECRET, body, h, now));
      expect({ status: err.status, type: err.type, code: err.code }).toEqual({ status: 401, type: "authentication_error", code });
      expect(err.message).not.toContain(SECRET);
    }
  });

  const signed = (n: number, at: number) => ({ digest: Buffer.alloc(32, n), at });

  test("a signature is taken once within the window; given back, it may be taken again; after the window it is forgotten", () => {
    const t = clock();
    const guard = new ReplayGuard(t.now);
    const digest = signed(7, t.now());
    guard.take("support", digest);
    expect(thrown(() => guard.take("support", digest)).code).toBe("signature_replayed");
    guard.take("sales", digest);
    const release = guard.take("support", signed(8, t.now()));
    release();
    guard.take("support", signed(8, t.now()));
    // The timestamp is accepted through now + WINDOW_MS: so long the signature is remembered.
    t.advance(WINDOW_MS);
    expect(thrown(() => guard.take("support", digest)).code).toBe("signature_replayed");
    t.advance(1);
    guard.take("support", digest);
  });

  test("a signature is remembered until its timestamp leaves the window, and at least the window after receipt", () => {
    const t = clock();
    const start = t.now();
    const guard = new ReplayGuard(t.now);
    guard.take("h", signed(1, start + WINDOW_MS - 10_000));
    guard.take("h", signed(2, start - WINDOW_MS + 10_000));
    t.advance(WINDOW_MS + 1);
    // The first's timestamp is still accepted: a replay; the second's window after receipt is over.
    expect(thrown(() => guard.take("h", signed(1, start + WINDOW_MS - 10_000))).code).toBe("signature_replayed");
    guard.take("h", signed(2, t.now()));
    t.advance(WINDOW_MS - 10_000 - 1);
    expect(thrown(() => guard.take("h", signed(1, t.now()))).code).toBe("signature_replayed");
    t.advance(1);
    guard.take("h", signed(1, t.now()));
  });

  test("remembers at most `max` signatures: past it the expired are forgotten, wherever they are, and a new one is a 429 rather than one forgotten early", () => {
    const t = clock();
    const guard = new ReplayGuard(t.now, 3);
    guard.take("h", signed(0, t.now() + WINDOW_MS));
    guard.take("h", signed(1, t.now()));
    guard.take("h", signed(2, t.now()));
    const full = thrown(() => guard.take("h", signed(3, t.now())));
    expect({ status: full.status, code: full.code, retryAfterMs: full.retryAfterMs }).toEqual({ status: 429, code: "too_many_signed_requests", retryAfterMs: WINDOW_MS + 1 });
    expect(guard.size).toBe(3);
    // The later arrivals expire first: they make room, and the first is still remembered.
    t.advance(WINDOW_MS + 1);
    guard.take("h", signed(3, t.now()));
    const giveBack = guard.take("h", signed(4, t.now()));
    expect(guard.size).toBe(3);
    expect(thrown(() => guard.take("h", signed(0, t.now()))).code).toBe("signature_replayed");
    expect(thrown(() => guard.take("h", signed(5, t.now()))).code).toBe("too_many_signed_requests");
    // Given back, a signature frees its place at once.
    giveBack();
    guard.take("h", signed(5, t.now()));
    expect(guard.size).toBe(3);
  });
});

describe("the message", () => {
  test("chat needs text and from; action defaults to chat; reset needs only from", () => {
    expect(hookMessage({ text: "hi", from: "alice" })).toEqual({ action: "chat", from: "alice", text: "hi" });
    expect(hookMessage({ from: "alice", action: "reset", id: "evt-1" })).toEqual({ action: "reset", from: "alice" });
  });

  test("a 400 names the field at fault", () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ text: "hi" }, "from", "Missing required parameter: 'from'."],
      [{ from: "alice" }, "text", "Missing required parameter: 'text'."],
      [{ text: "", from: "alice" }, "text", "Invalid value for 'text'"],
      [{ text: 42, from: "alice" }, "text", "Invalid value for 'text'"],
      [{ text: "x".repeat(32_769), from: "alice" }, "text", "Invalid value for 'text'"],
      [{ text: "hi", from: "a".repeat(129) }, "from", "Invalid value for 'from'"],
      [{ text: "hi", from: ["alice"] }, "from", "Invalid value for 'from'"],
      [{ text: "hi", from: "alice", action: "delete" }, "action", "Invalid value for 'action': expected chat or reset."],
      [{ text: "hi", from: "alice", id: 7 }, "id", "Invalid value for 'id'"],
      [{ text: "hi", from: "alice", messages: [] }, "messages", "Unrecognized request argument supplied: messages"],
    ];
    for (const [body, param, message] of cases) {
      const err = thrown(() => hookMessage(body));
      expect(err.status).toBe(400);
      expect(err.param).toBe(param);
      expect(err.message).toStartWith(message);
    }
  });
});

describe("hooks: in the config file", () => {
  const dir = mkdtempSync(join(tmpdir(), "chatgate-hooks-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const load = (yaml: string, env: Record<string, string> = {}) => {
    const path = join(dir, `h${n++}.yaml`);
    writeFileSync(path, `providers:\n  - {id: up, type: openai, base_url: "http://127.0.0.1:9/v1", models: [gpt-4o-mini]}\nmodels:\n  smart: {targets: [{provider: up, model: gpt-4o-mini}]}\n${yaml}`);
    return { path, config: () => parseConfig(env, { config: path }) };
  };
  const refusal = (yaml: string, env: Record<string, string> = {}) => {
    const { path, config } = load(yaml, env);
    try {
      config();
    } catch (err) {
      if (err instanceof ConfigError) return err.message.slice(path.length + 2);
      throw err;
    }
    throw new Error("accepted");
  };

  test("a hook gets its defaults from the schema and its secret from ${VAR}", () => {
    const { config } = load("hooks:\n  support:\n    model: smart\n    system: Be brief.\n    secret: ${HOOK_SECRET}\n    memory: {turns: 4}\n    rpm: 30\n  open-1: {model: up/gpt-4o-mini}\n", { HOOK_SECRET: SECRET });
    expect(config().hooks).toEqual({
      support: { name: "support", model: "smart", system: "Be brief.", secret: SECRET, turns: 4, ttlMs: 3_600_000, maxSenders: 10_000, maxBytes: 16 * 1024 * 1024, rpm: 30 },
      "open-1": { name: "open-1", model: "up/gpt-4o-mini", turns: 10, ttlMs: 3_600_000, maxSenders: 10_000, maxBytes: 16 * 1024 * 1024 },
    });
  });

  test("chatgate.example.yaml's hooks block, uncommented, is valid and states the defaults", () => {
    const example = readFileSync(join(import.meta.dir, "..", "..", "chatgate.example.yaml"), "utf8");
    const block = /^# hooks:\n(?:#   .*\n)+/m.exec(example)?.[0];
    expect(block).toBeDefined();
    const { config } = load(block!.replace(/^# /gm, ""), { SUPPORT_HOOK_SECRET: SECRET });
    expect(config().hooks.support).toEqual({
      name: "support", model: "smart", system: "You answer for the support desk. Be brief.", secret: SECRET,
      turns: 10, ttlMs: 3_600_000, maxSenders: 10_000, maxBytes: 16_777_216, rpm: 60,
    });
  });

  test("the README's webhook example is valid", () => {
    const readme = readFileSync(join(import.meta.dir, "..", "..", "README.md"), "utf8");
    const yaml = /## Webhook channels[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(yaml).toBeDefined();
    expect(load(yaml!, { SUPPORT_HOOK_SECRET: SECRET }).config().hooks.support).toMatchObject({ model: "smart", secret: SECRET, turns: 10, ttlMs: 3_600_000, rpm: 60 });
  });

  test("check-config lists the hooks, the secret as ***", () => {
    const { path } = load("hooks:\n  support: {model: smart, secret: '${HOOK_SECRET}', rpm: 30}\n  open: {model: smart, memory: {turns: 0, ttl: 90s}}\n");
    const { code, stdout } = checkConfig(path, { HOOK_SECRET: SECRET }, {});
    expect(code).toBe(0);
    expect(stdout).toContain("hooks:\n  /hooks/support → smart (secret ***; memory 10 turns, ttl 1h, 10000 senders, 16777216 bytes, rpm 30)\n  /hooks/open → smart (client key; memory 0 turns, ttl 90s, 10000 senders, 16777216 bytes)\n");
    expect(stdout).not.toContain(SECRET);
  });

  test("a bad hook refuses to start, naming the field; a secret is never in the message", () => {
    expect(refusal("hooks:\n  Support: {model: smart}\n")).toStartWith("hooks.Support: a hook name must be 1-64 lower-case letters");
    expect(refusal("hooks:\n  support: {model: nothing}\n")).toStartWith('hooks.support.model: no model "nothing"');
    expect(refusal("hooks:\n  support: {model: other/gpt-4o}\n")).toBe('hooks.support.model: no provider "other" for "other/gpt-4o"');
    expect(refusal("hooks:\n  support: {system: hi}\n")).toContain("hooks.support.model");
    expect(refusal("hooks:\n  support: {model: smart, secret: short-secret}\n")).toBe("hooks.support.secret: expected a secret of at least 16 characters (or ${VAR} naming a variable that holds one)");
    expect(refusal("hooks:\n  support: {model: smart, memory: {ttl: 30}}\n")).toContain("hooks.support.memory.ttl");
    expect(refusal("hooks:\n  support: {model: smart, memory: {ttl: 10ms}}\n")).toBe("hooks.support.memory.ttl: must be at least 1000ms");
    expect(refusal("hooks:\n  support: {model: smart, memory: {turns: -1}}\n")).toContain("hooks.support.memory.turns");
    expect(refusal("hooks:\n  support: {model: smart, rpm: 0}\n")).toContain("hooks.support.rpm");
    expect(refusal("hooks:\n  support: {model: smart, secrets: x}\n")).toContain("hooks.support");
    expect(refusal("hooks:\n  support: {model: smart, secret: '${NOPE}'}\n")).toBe("hooks.support.secret: environment variable NOPE is not set");
  });
});
