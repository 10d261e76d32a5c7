// Client keys with identities over real HTTP: ids in finish records, the keys from every source
// (keys:, api_keys:, CHATGATE_API_KEYS), the models a key may use, and per-key requests per minute
// with OpenAI's rate-limit headers.
import { describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { startGateway } from "./support/gateway.ts";
import { chatAs, getAs, keyed, type KeyDoc } from "./support/keys.ts";
import { readSse } from "./support/sse.ts";

const A: KeyDoc = { id: "team-a", secret: "ck-team-a-secret" };
const B: KeyDoc = { id: "team-b", secret: "ck-team-b-secret", models: ["smart"] };

const errorOf = async (res: Response) => ({ status: res.status, body: (await res.json()) as { error: Record<string, unknown> } });

describe("keys from the config file", () => {
  test("each key is let in under its id: the finish record names the id, for JSON, streams and refusals alike, never the key", async () => {
    await using k = keyed([A, B]);
    expect((await chatAs(k.gw, A.secret)).status).toBe(200);
    const stream = await chatAs(k.gw, B.secret, { stream: true });
    expect((await readSse(stream)).data.at(-1)).toBe("[DONE]");
    expect((await chatAs(k.gw, B.secret, { temperature: 9 })).status).toBe(400);
    expect((await chatAs(k.gw, "ck-wrong")).status).toBe(401);
    expect(k.records.map((r) => [r.keyId, r.status, r.stream])).toEqual([["team-a", 200, false], ["team-b", 200, true], ["team-b", 400, false], [null, 401, false]]);
    expect(JSON.stringify(k.records)).not.toContain("secret");
  });

  test("the official SDK works with a key from the file", async () => {
    await using k = keyed([A]);
    const completion = await k.gw.client(A.secret).chat.completions.create({ model: "smart", messages: [{ role: "user", content: "hi" }] });
    expect(completion.choices[0]!.message.content).toBe("Hello from upstream");
    expect(await k.gw.client("ck-nope").models.list().then(() => "listed", (err: unknown) => err)).toBeInstanceOf(OpenAI.AuthenticationError);
  });

  test("api_keys: entries keep working, as key-1, key-2, … before the keys: entries", async () => {
    await using k = keyed([A], { extra: { api_keys: ["ck-plain-one", "ck-plain-two"] } });
    for (const secret of ["ck-plain-two", A.secret, "ck-plain-one"]) expect((await chatAs(k.gw, secret)).status).toBe(200);
    expect(k.records.map((r) => r.keyId)).toEqual(["key-2", "team-a", "key-1"]);
  });
});

describe("CHATGATE_API_KEYS", () => {
  test("keeps working: its keys are key-1, key-2, … and share the global per-client limit, each counted on its own", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1", CHATGATE_LEDGER: "0", CHATGATE_API_KEYS: "ck-env-1,ck-env-2", CHATGATE_RATE_LIMIT_MAX: "2" });
    const ids: (string | null)[] = [];
    gw.app.gateway.finishes.subscribe((r) => void ids.push(r.keyId));
    const body = { model: "mock", messages: [{ role: "user", content: "hi" }] };
    const send = (key: string) =>
      fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    const first = await send("ck-env-2");
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-limit-requests")).toBe("2");
    expect(first.headers.get("x-ratelimit-remaining-requests")).toBe("1");
    expect((await send("ck-env-2")).status).toBe(200);
    expect((await send("ck-env-2")).status).toBe(429);
    expect((await send("ck-env-1")).status).toBe(200);
    expect(ids).toEqual(["key-2", "key-2", "key-2", "key-1"]);
  });
});

describe("models a key may use", () => {
  test("any other model is a 404 model_not_found exactly like a model that does not exist, and never reaches the upstream", async () => {
    await using k = keyed([A, B]);
    const restricted = await errorOf(await chatAs(k.gw, B.secret, { model: "other" }));
    const unknown = await errorOf(await chatAs(k.gw, A.secret, { model: "nothing/such" }));
    expect(restricted).toEqual({
      status: 404,
      body: { error: { message: "The model `other` does not exist or you do not have access to it.", type: "invalid_request_error", param: "model", code: "model_not_found" } },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toEqual({ ...restricted.body.error, message: String(restricted.body.error.message).replace("other", "nothing/such") });
    // Streams, direct provider/model names and the simple /chat route are refused the same way.
    expect((await chatAs(k.gw, B.secret, { model: "other", stream: true })).status).toBe(404);
    expect((await chatAs(k.gw, B.secret, { model: "a/gpt-4o" })).status).toBe(404);
    expect((await chatAs(k.gw, B.secret, { model: "other" }, "/chat")).status).toBe(404);
    expect(k.up.calls).toHaveLength(0);
    expect((await chatAs(k.gw, B.secret)).status).toBe(200);
    expect((await chatAs(k.gw, A.secret, { model: "other" })).status).toBe(200);
    expect(k.records.filter((r) => r.status === 404).map((r) => [r.keyId, r.model, r.errorCode])).toEqual([
      ["team-b", "other", "model_not_found"], ["team-a", "nothing/such", "model_not_found"], ["team-b", "other", "model_not_found"],
      ["team-b", "a/gpt-4o", "model_not_found"], ["team-b", "other", "model_not_found"],
    ]);
  });

  test("/v1/models lists only those models, and /v1/models/{other} is a 404 as for a model that does not exist", async () => {
    await using k = keyed([A, { ...B, models: ["smart", "a/gpt-4o"] }]);
    const all = (await (await getAs(k.gw, A.secret, "/v1/models")).json()) as { data: { id: string }[] };
    expect(all.data.map((m) => m.id)).toEqual(["smart", "other", "mystery", "a/gpt-4o-mini", "a/gpt-4o", "a/mystery-model"]);
    const listed = (await (await getAs(k.gw, B.secret, "/v1/models")).json()) as { data: { id: string }[] };
    expect(listed.data.map((m) => m.id)).toEqual(["smart", "a/gpt-4o"]);
    expect((await getAs(k.gw, B.secret, "/v1/models/smart")).status).toBe(200);
    const other = await getAs(k.gw, B.secret, "/v1/models/other");
    expect(await errorOf(other)).toEqual({
      status: 404,
      body: { error: { message: "The model `other` does not exist or you do not have access to it.", type: "invalid_request_error", param: "model", code: "model_not_found" } },
    });
    const sdk = await k.gw.client(B.secret).models.list();
    expect(sdk.data.map((m) => m.id)).toEqual(["smart", "a/gpt-4o"]);
  });
});

describe("requests per minute per key", () => {
  test("exact under concurrency: rpm 10 and 50 requests at once admit exactly 10; the rest are 429 rate_limit_exceeded with Retry-After", async () => {
    await using k = keyed([{ ...A, rpm: 10 }, B]);
    const answers = await Promise.all(Array.from({ length: 50 }, () => chatAs(k.gw, A.secret)));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40);
    expect(k.up.calls).toHaveLength(10);
    const refused = answers.find((r) => r.status === 429)!;
    expect(refused.headers.get("retry-after")).toBe("30");
    expect((await errorOf(refused)).body.error).toEqual({
      message: "Rate limit reached for key team-a on requests per min (RPM): Limit 10, Used 10, Requested 1. Please try again in 30s.",
      type: "requests", param: null, code: "rate_limit_exceeded",
    });
    // Another key is not affected, and the window starts over with the next clock minute.
    expect((await chatAs(k.gw, B.secret)).status).toBe(200);
    k.clock.advance(30_000);
    expect((await chatAs(k.gw, A.secret)).status).toBe(200);
  });

  test("OpenAI's request headers: limit, remaining, and the reset as a duration; chatgate's own x-ratelimit-* alongside", async () => {
    await using k = keyed([{ ...A, rpm: 3 }]);
    const seen = [];
    for (let i = 0; i < 4; i++) {
      const res = await chatAs(k.gw, A.secret);
      await res.text();
      seen.push(["limit-requests", "remaining-requests", "reset-requests", "limit", "remaining", "reset"].map((h) => res.headers.get(`x-ratelimit-${h}`)));
      k.clock.advance(500);
    }
    expect(seen).toEqual([
      ["3", "2", "30s", "3", "2", "30"],
      ["3", "1", "29.5s", "3", "1", "30"],
      ["3", "0", "29s", "3", "0", "29"],
      ["3", "0", "28.5s", "3", "0", "29"],
    ]);
  });

  test("a key with its own rpm is counted by it instead of the global limit; a key without one by the global limit", async () => {
    await using k = keyed([{ ...A, rpm: 5 }, B], { env: { CHATGATE_RATE_LIMIT_MAX: "2" } });
    const a = await Promise.all(Array.from({ length: 6 }, () => chatAs(k.gw, A.secret).then((r) => r.status)));
    expect(a.filter((s) => s === 200)).toHaveLength(5);
    const b = [];
    for (let i = 0; i < 3; i++) b.push(await chatAs(k.gw, B.secret));
    expect(b.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(b[0]!.headers.get("x-ratelimit-limit-requests")).toBe("2");
  });

  test("the key's rpm counts every route it uses, /v1/models and /chat included", async () => {
    await using k = keyed([{ ...A, rpm: 3 }]);
    expect((await getAs(k.gw, A.secret, "/v1/models")).status).toBe(200);
    expect((await chatAs(k.gw, A.secret, {}, "/chat")).status).toBe(200);
    expect((await chatAs(k.gw, A.secret)).status).toBe(200);
    const over = await getAs(k.gw, A.secret, "/v1/models");
    expect(over.status).toBe(429);
    expect(over.headers.get("x-ratelimit-remaining-requests")).toBe("0");
  });
});
