// The mock's embeddings: loaded on its first embeddings call. Deterministic (the same text gives the
// same vector, in any process), unit length like OpenAI's, in either of OpenAI's encodings.
import { invalidRequest } from "../errors.ts";
import type { EmbeddingRequest } from "../embeddings-schema.ts";
import type { EmbeddingUsage, Embeddings } from "./provider.ts";

/** The length of a vector when the request names none: text-embedding-3-small's. */
export const MOCK_DIMENSIONS = 1536;
/** The most the mock makes, as text-embedding-3-large: a bound on what one request can make it build. */
export const MOCK_MAX_DIMENSIONS = 3072;

/**
 * A unit vector of `dimensions` numbers drawn from the SHA-256 of the input (xorshift128 seeded with
 * its first 16 bytes), each a float32 as OpenAI's are.
 */
export function mockVector(input: string | readonly number[], dimensions: number): Float32Array {
  const seed = new Uint32Array(new Bun.CryptoHasher("sha256").update(typeof input === "string" ? `t:${input}` : `n:${input.join(",")}`).digest().buffer, 0, 4);
  let a = seed[0]! | 1;
  let b = seed[1]!;
  let c = seed[2]!;
  let d = seed[3]!;
  const out = new Float32Array(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    const t = a ^ (a << 11);
    a = b;
    b = c;
    c = d;
    d = (d ^ (d >>> 19) ^ t ^ (t >>> 8)) >>> 0;
    const value = d / 0x8000_0000 - 1;
    out[i] = value;
    norm += value * value;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < dimensions; i++) out[i] = out[i]! * scale;
  return out;
}

/** OpenAI's `base64` encoding: the float32 values little-endian, whatever the host's byte order. */
export function base64Of(vector: Float32Array): string {
  const view = new DataView(new ArrayBuffer(vector.length * 4));
  vector.forEach((value, i) => view.setFloat32(i * 4, value, true));
  return Buffer.from(view.buffer).toString("base64");
}

/** The inputs of a request, one per vector: a text, or a list of token ids. */
function inputsOf(input: EmbeddingRequest["input"]): (string | number[])[] {
  if (typeof input === "string") return [input];
  if (input.every((item) => typeof item === "number")) return [input as number[]];
  return input as (string | number[])[];
}

/** What the mock counts as tokens: the words of a text (as its chat does), or the ids given. */
const tokensOf = (input: string | number[]): number => (typeof input === "string" ? (input.match(/\S+/g)?.length ?? 0) : input.length);

/** The mock's whole embeddings answer, as OpenAI would have sent it for `model`. */
export function mockEmbeddings(body: EmbeddingRequest, model: string): Embeddings {
  const dimensions = body.dimensions ?? MOCK_DIMENSIONS;
  if (dimensions > MOCK_MAX_DIMENSIONS) {
    const err = invalidRequest(`Invalid value for 'dimensions': the mock model makes at most ${MOCK_MAX_DIMENSIONS} dimensions.`, "dimensions");
    // As an upstream's 400 is: the caller's to fix, not the target's failure.
    throw err.with({ upstreamStatus: 400 });
  }
  const inputs = inputsOf(body.input);
  const base64 = body.encoding_format === "base64";
  const data = inputs.map((input, index) => {
    const vector = mockVector(input, dimensions);
    return { object: "embedding" as const, index, embedding: base64 ? base64Of(vector) : Array.from(vector) };
  });
  const prompt = inputs.reduce((sum, input) => sum + tokensOf(input), 0);
  const usage: EmbeddingUsage = { prompt_tokens: prompt, total_tokens: prompt };
  return { json: JSON.stringify({ object: "list", data, model, usage }), usage };
}
