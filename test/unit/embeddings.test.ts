// The pure parts of embeddings: reading an answer's usage without parsing its vectors, the
// reservation estimate of an input, the mock's vectors and OpenAI's base64 encoding.
import { describe, expect, test } from "bun:test";
import { inputEstimate } from "../../src/keys/estimate.ts";
import { base64Of, mockVector } from "../../src/providers/mock-embeddings.ts";
import { readEmbeddings } from "../../src/providers/embeddings-usage.ts";

const USAGE = { prompt_tokens: 8, total_tokens: 8 };
const DATA = [{ object: "embedding", index: 0, embedding: [0.1, -0.2] }];

describe("readEmbeddings", () => {
  test("OpenAI's pretty-printed answer and a compact one: the usage at the end", () => {
    expect(readEmbeddings(JSON.stringify({ object: "list", data: DATA, model: "m", usage: USAGE }, null, 2))).toEqual({ usage: USAGE });
    expect(readEmbeddings(JSON.stringify({ object: "list", data: DATA, model: "m", usage: USAGE }) + "\n")).toEqual({ usage: USAGE });
  });

  test("fields in another order, or usage missing or null, are read by parsing the whole answer", () => {
    expect(readEmbeddings(JSON.stringify({ usage: USAGE, model: "m", data: DATA }))).toEqual({ usage: USAGE });
    expect(readEmbeddings(JSON.stringify({ model: "m", data: DATA, usage: { prompt_tokens: 3 } }))).toEqual({ usage: { prompt_tokens: 3, total_tokens: 3 } });
    expect(readEmbeddings(JSON.stringify({ object: "list", data: DATA, model: "m" }))).toEqual({ usage: undefined });
    expect(readEmbeddings(JSON.stringify({ object: "list", data: DATA, model: "m", usage: null }))).toEqual({ usage: undefined });
    expect(readEmbeddings(JSON.stringify({ object: "list", data: DATA, usage: { prompt_tokens: "8" } }))).toEqual({ usage: undefined });
  });

  test("a usage object nested inside the answer rather than last is not taken for the answer's", () => {
    const text = JSON.stringify({ object: "list", data: [{ ...DATA[0], meta: { usage: { prompt_tokens: 99 } } }], model: "m" });
    expect(readEmbeddings(text)).toEqual({ usage: undefined });
  });

  test("what is not an embeddings list: undefined", () => {
    for (const text of ["", "  ", "<html>busy</html>", "[1,2]", '{"object":"list"', '{"error":{"message":"x"}}', '{"object":"list","data":{}}']) {
      expect(readEmbeddings(text), text).toBeUndefined();
    }
  });
});

describe("inputEstimate", () => {
  test("characters / 4 of each text, rounded up; token ids count one each", () => {
    expect(inputEstimate("a".repeat(9))).toBe(3);
    expect(inputEstimate(["abcd", "abcde"])).toBe(3);
    expect(inputEstimate([5, 6, 7])).toBe(3);
    expect(inputEstimate([[5, 6], [7]])).toBe(3);
  });
});

describe("the mock's vectors", () => {
  test("deterministic, unit length, different for different inputs and for text and token ids", () => {
    const v = mockVector("hello", 32);
    expect(Array.from(mockVector("hello", 32))).toEqual(Array.from(v));
    expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    expect(Array.from(mockVector("hello!", 32))).not.toEqual(Array.from(v));
    expect(Array.from(mockVector([1, 2], 4))).not.toEqual(Array.from(mockVector("1,2", 4)));
  });

  test("base64 is the float32 values little-endian, as OpenAI encodes them", () => {
    expect(base64Of(Float32Array.of(1, -2))).toBe(Buffer.from([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]).toString("base64"));
  });
});
