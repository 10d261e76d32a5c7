// A config reload and the client keys: new keys and limits apply to new requests; the counters of
// limits that did not change carry over; a request in flight settles into the counter it reserved in.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { parseConfig } from "../src/config.ts";
import { TEST_DEFAULTS } from "./support/gateway.ts";
import { chatAs, keyed, keyedDoc, type KeyDoc, type Keyed } from "./support/keys.ts";

const A: KeyDoc = { id: "team-a", secret: "ck-team-a-secret" };
const B: KeyDoc = { id: "team-b", secret: "ck-team-b-secret" };

/** Rewrites the gateway's config file with `keys` and reloads it, as SIGHUP does. */
function reload(k: Keyed, keys: KeyDoc[]): string {
  writeFileSync(k.env.CHATGATE_CONFIG!, JSON.stringify(keyedDoc(k.up, keys)));
  return k.gw.app.reload(parseConfig({ ...TEST_DEFAULTS, ...k.env, PORT: "0", HOST: "127.0.0.1" }));
}

const statuses = async (k: Keyed, secret: string, n: number, extra: Record<string, unknown> = {}) => {
  const out = [];
  for (let i = 0; i < n; i++) out.push((await chatAs(k.gw, secret, extra)).status);
  return out;
};

describe("reloading keys", () => {
  test("a key's request count carries over while its rpm stays; a new key works at once; a changed rpm starts a fresh count", async () => {
    await using k = keyed([{ ...A, rpm: 3 }]);
    expect(await statuses(k, A.secret, 4)).toEqual([200, 200, 200, 429]);
    expect((await chatAs(k.gw, B.secret)).status).toBe(401);
    expect(reload(k, [{ ...A, rpm: 3 }, B])).toContain("2 client keys (was 1)");
    expect(await statuses(k, A.secret, 1)).toEqual([429]);
    expect(await statuses(k, B.secret, 1)).toEqual([200]);
    reload(k, [{ ...A, rpm: 5 }, B]);
    expect(await statuses(k, A.secret, 6)).toEqual([200, 200, 200, 200, 200, 429]);
  });

  test("a removed key is refused from the next request on; its id in records is the configured one", async () => {
    await using k = keyed([A, B]);
    expect((await chatAs(k.gw, B.secret)).status).toBe(200);
    reload(k, [A]);
    expect((await chatAs(k.gw, B.secret)).status).toBe(401);
    expect(k.records.map((r) => [r.keyId, r.status])).toEqual([["team-b", 200], [null, 401]]);
  });

  test("new models lists apply to new requests", async () => {
    await using k = keyed([{ ...A, models: ["smart"] }]);
    expect((await chatAs(k.gw, A.secret, { model: "other" })).status).toBe(404);
    reload(k, [{ ...A, models: ["smart", "other"] }]);
    expect((await chatAs(k.gw, A.secret, { model: "other" })).status).toBe(200);
  });

  test("tokens reserved before a reload are settled after it, into the same counter while tpm stays", async () => {
    await using k = keyed([{ ...A, tpm: 1000 }]);
    k.up.hold();
    const held = chatAs(k.gw, A.secret, { max_tokens: 400 });
    await k.up.arrived(1);
    reload(k, [{ ...A, tpm: 1000 }, B]);
    // The reservation (405) still counts after the reload.
    const during = await chatAs(k.gw, A.secret, { max_tokens: 600 });
    expect(during.status).toBe(429);
    k.up.release();
    expect((await held).status).toBe(200);
    // Settled to the 8 tokens used: 992 left.
    const after = await chatAs(k.gw, A.secret, { max_tokens: 600 });
    expect(after.status).toBe(200);
    expect(after.headers.get("x-ratelimit-remaining-tokens")).toBe(String(1000 - 8 - 605));
  });

  test("a changed tpm starts a fresh window; a request in flight settles into the old one and leaves the new alone", async () => {
    await using k = keyed([{ ...A, tpm: 1000 }]);
    k.up.hold();
    const held = chatAs(k.gw, A.secret, { max_tokens: 900 });
    await k.up.arrived(1);
    reload(k, [{ ...A, tpm: 2000 }]);
    const fresh = chatAs(k.gw, A.secret, { max_tokens: 100 });
    await k.up.arrived(2);
    k.up.release();
    expect((await fresh).headers.get("x-ratelimit-remaining-tokens")).toBe(String(2000 - 105));
    await held;
    // The old request's settlement (905 reserved, 8 used) went to the old window, not this one.
    const next = await chatAs(k.gw, A.secret, { max_tokens: 100 });
    expect(next.headers.get("x-ratelimit-remaining-tokens")).toBe(String(2000 - 8 - 105));
  });

  test("spend carries over a reload whatever the budget's amount: money spent stays spent when a budget is raised", async () => {
    await using k = keyed([{ ...A, budget: { usd: 0.0005, period: "day" } }]);
    k.up.usage = { prompt_tokens: 5, completion_tokens: 500, total_tokens: 505 };
    // $0.00030075 each: one fits, then the key is over $0.0005.
    expect(await statuses(k, A.secret, 2, { max_tokens: 500 })).toEqual([200, 429]);
    reload(k, [{ ...A, budget: { usd: 0.0008, period: "day" } }]);
    // $0.00030075 spent: one more fits $0.0008, not two.
    expect(await statuses(k, A.secret, 2, { max_tokens: 500 })).toEqual([200, 429]);
  });
});

describe("seeding spend (what the usage ledger calls at start)", () => {
  test("spend seeded for a key and period counts against its budget", async () => {
    await using k = keyed([{ ...A, budget: { usd: 0.001, period: "month" } }, { ...B, budget: { usd: 0.001, period: "day" } }]);
    k.gw.app.seedSpend("team-a", "month", 0.0009);
    // A month's seed is not the day's: team-b is unaffected by it, and team-a's other period is not its budget.
    k.gw.app.seedSpend("team-b", "month", 0.0009);
    expect((await chatAs(k.gw, A.secret, { max_tokens: 500 })).status).toBe(429);
    expect((await chatAs(k.gw, B.secret, { max_tokens: 500 })).status).toBe(200);
  });
});
