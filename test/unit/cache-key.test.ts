// The response cache's key and the client's Cache-Control: pure functions.
import { describe, expect, spyOn, test } from "bun:test";
import { cacheModeOf } from "../../src/cache/cache-control.ts";
import { cacheKey, canonicalJson, canonicalRequest } from "../../src/cache/cache-key.ts";
import { ResponseCache } from "../../src/cache/response-cache.ts";
import { MemoryStore } from "../../src/cache/memory-store.ts";
import type { ChatCall } from "../../src/providers/provider.ts";

const HI = [{ role: "user", content: "hi" }];

describe("canonical request", () => {
  test("keys are sorted at every depth; arrays keep their order", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: "x" } })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  test("stream, stream_options, user and safety_identifier are left out, and top-level nulls too", () => {
    const body = { model: "m", messages: HI, stream: true, stream_options: { include_usage: true }, user: "u", safety_identifier: "s", temperature: null, seed: 3 };
    expect(canonicalRequest(body)).toBe('{"messages":[{"content":"hi","role":"user"}],"model":"m","seed":3}');
  });

  test("nulls inside messages stay: they are part of the conversation", () => {
    expect(canonicalRequest({ model: "m", messages: [{ role: "assistant", content: null }] })).toBe('{"messages":[{"content":null,"role":"assistant"}],"model":"m"}');
  });

  test("the key is the SHA-256 of the canonical form, in hex", () => {
    const body = { model: "m", messages: HI };
    expect(cacheKey(body)).toBe(new Bun.CryptoHasher("sha256").update(canonicalRequest(body)).digest("hex"));
    expect(cacheKey(body)).toMatch(/^[0-9a-f]{64}$/);
  });

  test("what changes the answer changes the key; what does not, does not", () => {
    const base = { model: "m", messages: HI, temperature: 0.2 };
    const same = [{ ...base, user: "x" }, { temperature: 0.2, messages: HI, model: "m" }, { ...base, stream: true }, { ...base, top_p: null }];
    for (const body of same) expect(cacheKey(body)).toBe(cacheKey(base));
    const different = [{ ...base, temperature: 0.3 }, { ...base, model: "n" }, { ...base, seed: 1 }, { ...base, n: 2 }, { ...base, messages: [...HI, ...HI] }, { ...base, tools: [] }];
    for (const body of different) expect(cacheKey(body)).not.toBe(cacheKey(base));
  });
});

describe("Cache-Control", () => {
  test("no header or other directives: use; no-cache: refresh; no-store wins: bypass", () => {
    expect(cacheModeOf(null)).toBe("use");
    expect(cacheModeOf("max-age=0")).toBe("use");
    expect(cacheModeOf("no-cache")).toBe("refresh");
    expect(cacheModeOf("max-age=0, NO-CACHE")).toBe("refresh");
    expect(cacheModeOf("no-cache, no-store")).toBe("bypass");
    expect(cacheModeOf(" No-Store ")).toBe("bypass");
  });
});

describe("ResponseCache.use", () => {
  const call = (body: Record<string, unknown>): ChatCall => ({ body: { messages: HI, ...body } as ChatCall["body"], raw: "" });
  const cache = () => new ResponseCache(new MemoryStore(), { ttlMs: 0, models: new Map([["on", 60_000], ["off", 0]]) });

  test("a model with the cache off computes no key: the hash is never called", () => {
    const hash = spyOn(Bun.CryptoHasher, "hash");
    try {
      const c = cache();
      expect(c.use(call({ model: "off" }), "use")).toBeUndefined();
      expect(c.use(call({ model: "unlisted" }), "use")).toBeUndefined();
      expect(c.use(call({ model: "on" }), "bypass")).toBeUndefined();
      expect(hash).not.toHaveBeenCalled();
      expect(c.keysComputed).toBe(0);
      expect(c.use(call({ model: "on" }), "use")).toMatchObject({ ttlMs: 60_000, read: true });
      expect(hash).toHaveBeenCalledTimes(1);
    } finally {
      hash.mockRestore();
    }
  });

  test("no-cache is a use that does not read; log probabilities are never cached", () => {
    expect(cache().use(call({ model: "on" }), "refresh")).toMatchObject({ read: false });
    expect(cache().use(call({ model: "on", logprobs: true }), "use")).toBeUndefined();
    expect(cache().use(call({ model: "on", top_logprobs: 2 }), "use")).toBeUndefined();
  });

  test("a body nested too deep for the key is not cached rather than failed", () => {
    let deep: unknown = "x";
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(cache().use(call({ model: "on", extra: deep }), "use")).toBeUndefined();
  });

  test("enabled: any model or the global TTL above 0", () => {
    expect(ResponseCache.enabled({ ttlMs: 0, models: new Map() })).toBe(false);
    expect(ResponseCache.enabled({ ttlMs: 0, models: new Map([["m", 0]]) })).toBe(false);
    expect(ResponseCache.enabled({ ttlMs: 1, models: new Map() })).toBe(true);
    expect(ResponseCache.enabled({ ttlMs: 0, models: new Map([["m", 5]]) })).toBe(true);
  });
});
