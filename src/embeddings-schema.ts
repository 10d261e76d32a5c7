import { Type, type Static } from "@sinclair/typebox";
import { withErrorTexts } from "./schema.ts";

/**
 * `POST /v1/embeddings`, as OpenAI's spec (CreateEmbeddingRequest) has it: one text or token list,
 * or up to 2048 of them. Open like the chat request, so fields a provider adds (`input_type`, …)
 * reach it. OpenAI refuses an empty text, so the schema does too.
 */
const MAX_INPUTS = 2048;
const text = Type.String({ minLength: 1 });
const tokens = Type.Array(Type.Integer({ minimum: 0 }), { minItems: 1, maxItems: MAX_INPUTS });
/** One input of a batch as token ids: its length is bounded by the model's context (8192 tokens), not by the batch's 2048. */
const tokenInput = Type.Array(Type.Integer({ minimum: 0 }), { minItems: 1 });

export const EmbeddingRequest = withErrorTexts(Type.Object(
  {
    model: Type.String({ minLength: 1, error: "must be a non-empty string naming the model" }),
    input: Type.Union(
      [text, Type.Array(text, { minItems: 1, maxItems: MAX_INPUTS }), tokens, Type.Array(tokenInput, { minItems: 1, maxItems: MAX_INPUTS })],
      { error: `must be a non-empty string, an array of up to ${MAX_INPUTS} non-empty strings, an array of token ids, or an array of up to ${MAX_INPUTS} such arrays` },
    ),
    encoding_format: Type.Optional(Type.Union([Type.Literal("float"), Type.Literal("base64")], { error: "must be 'float' or 'base64'" })),
    dimensions: Type.Optional(Type.Integer({ minimum: 1, error: "must be an integer of at least 1" })),
    user: Type.Optional(Type.String({ error: "must be a string" })),
  },
  { additionalProperties: true, error: "must be a JSON object", example: { model: "text-embedding-3-small", input: "Say hello in three words." } },
));
export type EmbeddingRequest = Static<typeof EmbeddingRequest>;

/** The answer's shape, for the OpenAPI document only: the body is the upstream's, passed through. */
export const EmbeddingList = Type.Object(
  {
    object: Type.Literal("list"),
    data: Type.Array(Type.Object({
      object: Type.Literal("embedding"),
      index: Type.Integer(),
      embedding: Type.Union([Type.Array(Type.Number()), Type.String({ description: "little-endian float32 values, base64-encoded (`encoding_format: base64`)" })]),
    })),
    model: Type.String(),
    usage: Type.Object({ prompt_tokens: Type.Integer(), total_tokens: Type.Integer() }),
  },
  { additionalProperties: true },
);
