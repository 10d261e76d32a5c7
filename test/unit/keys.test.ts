// Client-key matching over digests and parsing of the Authorization header.
import { describe, expect, test } from "bun:test";
import { bearerToken, matchKey, sha256 } from "../../src/auth/keys.ts";
import { ConfigError, parseConfig } from "../../src/config.ts";

const hex = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");

describe("matchKey", () => {
  const digests = [sha256("alpha-key"), sha256("beta-key"), sha256("gamma-key")];

  test("returns the index of the key that matches", () => {
    expect(matchKey(digests, "alpha-key")).toBe(0);
    expect(matchKey(digests, "beta-key")).toBe(1);
    expect(matchKey(digests, "gamma-key")).toBe(2);
  });

  test("returns -1 for a key that is not configured, however close", () => {
    expect(matchKey(digests, "alpha-ke")).toBe(-1);
    expect(matchKey(digests, "alpha-key ")).toBe(-1);
    expect(matchKey(digests, "ALPHA-KEY")).toBe(-1);
    expect(matchKey(digests, "")).toBe(-1);
    expect(matchKey(digests, "x".repeat(100_000))).toBe(-1);
  });

  test("returns -1 when no keys are configured", () => {
    expect(matchKey([], "alpha-key")).toBe(-1);
  });

  test("does not accept the digest of a key, in hex or raw, in place of the key", () => {
    expect(matchKey(digests, hex("alpha-key"))).toBe(-1);
    expect(matchKey(digests, `sha256:${hex("alpha-key")}`)).toBe(-1);
    expect(matchKey(digests, Buffer.from(sha256("alpha-key")).toString("latin1"))).toBe(-1);
  });

  test("a key listed twice matches its first entry", () => {
    expect(matchKey([sha256("other"), sha256("dup"), sha256("dup")], "dup")).toBe(1);
  });

  test("sha256 is SHA-256 of the key's UTF-8 bytes, as a sha256: entry in CHATGATE_API_KEYS expects", () => {
    expect(Buffer.from(sha256("clé-🔑")).toString("hex")).toBe(hex("clé-🔑"));
    expect(Buffer.from(sha256("abc")).toString("hex")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});

describe("CHATGATE_API_KEYS entries, as matchKey sees them", () => {
  test("plain keys and sha256:<hex> digests both match their key, by position in the list", () => {
    const { apiKeyDigests } = parseConfig({ CHATGATE_API_KEYS: ` plain-key , sha256:${hex("hashed-key")},sha256:${hex("upper").toUpperCase()}` });
    expect(apiKeyDigests).toHaveLength(3);
    expect(matchKey(apiKeyDigests, "plain-key")).toBe(0);
    expect(matchKey(apiKeyDigests, "hashed-key")).toBe(1);
    expect(matchKey(apiKeyDigests, "upper")).toBe(2);
    expect(matchKey(apiKeyDigests, hex("hashed-key"))).toBe(-1);
  });

  const refusal = (value: string): ConfigError => {
    try {
      parseConfig({ CHATGATE_API_KEYS: value });
    } catch (err) {
      if (err instanceof ConfigError) return err;
      throw err;
    }
    throw new Error(`CHATGATE_API_KEYS=${JSON.stringify(value)} was accepted`);
  };

  test("an empty entry refuses to start, naming its position, where it used to be skipped", () => {
    for (const [value, position] of [["one,,two", 2], ["one, ,two", 2], ["one,two,", 3], [",one", 1], ["one,\t,two", 2]] as const) {
      const err = refusal(value);
      expect(err.variable).toBe("CHATGATE_API_KEYS");
      expect(err.message).toContain(`entry ${position} is empty`);
    }
  });

  test("a variable set to nothing, spaces or commas refuses to start and says to unset it to run without client auth", () => {
    for (const value of ["", " ", "\t", ",", " , ,, "]) {
      const err = refusal(value);
      expect(err.message).toStartWith("CHATGATE_API_KEYS: ");
      expect(err.message).toContain("unset it to run without client auth");
    }
    expect(parseConfig({}).apiKeyDigests).toEqual([]);
  });

  test("the digest of the empty string (a sha256: entry made from an unset variable) refuses to start", () => {
    expect(hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    for (const value of [`sha256:${hex("")}`, `good-key,sha256:${hex("").toUpperCase()}`]) {
      const err = refusal(value);
      expect(err.message).toStartWith("CHATGATE_API_KEYS: ");
      expect(err.message).toContain("SHA-256 of the empty string");
    }
  });

  test("no refusal message repeats a key", () => {
    for (const value of ["secret-one,,secret-two", `secret-one,sha256:${hex("")}`, "secret-one,sha256:abc"]) {
      expect(refusal(value).message).not.toContain("secret-");
    }
  });

  test("the sha256: prefix in any case is a digest, never a key in plain text", () => {
    const { apiKeyDigests } = parseConfig({ CHATGATE_API_KEYS: `SHA256:${hex("upper-prefix")},Sha256:${hex("mixed-prefix")}` });
    expect(matchKey(apiKeyDigests, "upper-prefix")).toBe(0);
    expect(matchKey(apiKeyDigests, "mixed-prefix")).toBe(1);
    expect(matchKey(apiKeyDigests, `SHA256:${hex("upper-prefix")}`)).toBe(-1);
    expect(refusal("SHA256:abc").message).toBe("CHATGATE_API_KEYS: entry 1: a sha256: entry needs 64 hex digits");
    expect(refusal(`ok,Sha256:${hex("")}`).message).toContain("entry 2 is the SHA-256 of the empty string");
  });

  test("a sha256: entry that is not 64 hex digits refuses to start, naming CHATGATE_API_KEYS", () => {
    for (const bad of ["sha256:abc", `sha256:${hex("k")}0`, `sha256:${"z".repeat(64)}`]) {
      expect(() => parseConfig({ CHATGATE_API_KEYS: bad })).toThrow(ConfigError);
      expect(() => parseConfig({ CHATGATE_API_KEYS: bad })).toThrow(/CHATGATE_API_KEYS/);
    }
  });
});

describe("bearerToken", () => {
  const cases: [string | null, string | undefined][] = [
    ["Bearer sk-abc", "sk-abc"],
    ["bearer sk-abc", "sk-abc"],
    ["BEARER sk-abc", "sk-abc"],
    ["Bearer    sk-abc", "sk-abc"],
    ["Bearer\tsk-abc", "sk-abc"],
    ["Bearer sk-abc  ", "sk-abc"],
    ["Bearer sha256:abc", "sha256:abc"],
    ["Bearer a=b+c/d_-.~", "a=b+c/d_-.~"],
    [null, undefined],
    ["", undefined],
    ["Bearer", undefined],
    ["Bearer ", undefined],
    ["Bearer  \t ", undefined],
    ["sk-abc", undefined],
    ["Basic c2stYWJj", undefined],
    ["Token sk-abc", undefined],
    ["Bearersk-abc", undefined],
    ["XBearer sk-abc", undefined],
    ["Bearer sk-abc extra", undefined],
    ["Bearer sk-abc, Bearer sk-def", undefined],
  ];
  for (const [header, token] of cases) {
    test(`the header ${JSON.stringify(header)} yields ${token === undefined ? "no key" : `the key ${JSON.stringify(token)}`}`, () => {
      expect(bearerToken(header)).toBe(token);
    });
  }
});
