// OpenAI's embeddings wire format, as the fake upstream answers it and tests rebuild it: vectors
// that depend on the input and the model (so a test can tell who served), pretty-printed as OpenAI
// prints them (so a gateway that re-serialised the answer would show).

/** The vector length when the request names none. */
export const FAKE_DIMENSIONS = 8;

/** Float32 values with every digit significant: what a round trip through float64 text must keep. */
export function fakeVector(model: string, input: string | number[], dimensions = FAKE_DIMENSIONS): Float32Array {
  const seed = [...`${model}|${JSON.stringify(input)}`].reduce((sum, ch) => (sum * 31 + ch.charCodeAt(0)) % 1_000_003, 7);
  return Float32Array.from({ length: dimensions }, (_, i) => Math.sin(seed + i * 1.618) / 3);
}

/** OpenAI's `base64`: the float32 values little-endian, base64-encoded. */
export function toBase64(vector: Float32Array): string {
  const view = new DataView(new ArrayBuffer(vector.length * 4));
  vector.forEach((value, i) => view.setFloat32(i * 4, value, true));
  return Buffer.from(view.buffer).toString("base64");
}

export interface EmbeddingsRequestBody {
  model: string;
  input: string | string[] | number[] | number[][];
  encoding_format?: "float" | "base64";
  dimensions?: number;
}

/** Each input of a request: a text, or one list of token ids. */
export function inputsOf(input: EmbeddingsRequestBody["input"]): (string | number[])[] {
  if (typeof input === "string") return [input];
  return input.length > 0 && input.every((item) => typeof item === "number") ? [input as number[]] : (input as (string | number[])[]);
}

/** What the fake counts as tokens: words of each text, or the ids sent. */
export function fakeTokens(input: EmbeddingsRequestBody["input"]): number {
  return inputsOf(input).reduce((sum, item) => sum + (typeof item === "string" ? item.split(/\s+/).filter(Boolean).length : item.length), 0);
}

type Usage = { prompt_tokens: number; total_tokens: number };

/** The fake upstream's answer to `body`, as the exact text it sends. */
export function embeddingsText(body: EmbeddingsRequestBody, usage?: Usage | null): string {
  const base64 = body.encoding_format === "base64";
  const data = inputsOf(body.input).map((input, index) => {
    const vector = fakeVector(body.model, input, body.dimensions);
    return { object: "embedding", index, embedding: base64 ? toBase64(vector) : Array.from(vector) };
  });
  const tokens = fakeTokens(body.input);
  const answer: Record<string, unknown> = { object: "list", data, model: body.model };
  if (usage !== null) answer.usage = usage ?? { prompt_tokens: tokens, total_tokens: tokens };
  return JSON.stringify(answer, null, 2);
}
