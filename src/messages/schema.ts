import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { withErrorTexts } from "../schema.ts";
import { MAX_TOKEN_COUNT } from "../schema.ts";

/**
 * Schemas of Anthropic's Messages API as chatgate takes it (`POST /v1/messages`), from the API
 * reference (anthropic-version 2023-06-01). Open like the chat schema: a field Anthropic adds is
 * passed on to an Anthropic target and left out of a translation. Content blocks are checked one
 * by one against the schema of their type (content-blocks.ts), so a 400 names the block at fault.
 */
const open = { additionalProperties: true } as const;

/** Any content block: an object naming its type. */
const Block = Type.Object({ type: Type.String({ error: "must be a string naming the block type" }) }, { ...open, error: "must be a content block object with a type" });

const MessageParam = Type.Object(
  {
    role: Type.Union([Type.Literal("user"), Type.Literal("assistant")], { error: "must be one of user, assistant" }),
    content: Type.Union([Type.String(), Type.Array(Block)], { error: "must be a string or an array of content blocks" }),
  },
  { ...open, error: "must be a message object with a role and content" },
);

const Tool = Type.Object(
  {
    name: Type.String({ minLength: 1, error: "must be a non-empty string" }),
    description: Type.Optional(Type.String()),
    input_schema: Type.Optional(Type.Object({}, open)),
    strict: Type.Optional(Type.Boolean({ error: "must be a boolean" })),
  },
  { ...open, error: "must be a tool object with a name" },
);

const ToolChoice = Type.Object(
  {
    type: Type.Union(["auto", "any", "tool", "none"].map((t) => Type.Literal(t)), { error: "must be one of auto, any, tool, none" }),
    name: Type.Optional(Type.String()),
    disable_parallel_tool_use: Type.Optional(Type.Boolean()),
  },
  { ...open, error: "must be an object with a type" },
);

const Thinking = Type.Object(
  {
    type: Type.Union(["enabled", "disabled", "adaptive"].map((t) => Type.Literal(t)), { error: "must be one of enabled, disabled, adaptive" }),
    budget_tokens: Type.Optional(Type.Integer({ minimum: 1024, error: "must be an integer of at least 1024" })),
  },
  { ...open, error: "must be an object with a type" },
);

/**
 * Structured outputs: `format` a JSON schema the answer must match. Loose here (Anthropic judges
 * what its targets get); a translated request's format is checked in output-format.ts.
 */
const OutputConfig = Type.Object(
  { format: Type.Optional(Type.Union([Type.Object({ type: Type.String(), schema: Type.Optional(Type.Object({}, open)) }, open), Type.Null()], { error: "must be an object with a type" })) },
  { ...open, error: "must be an object" },
);

/** The fields a Messages request and a token count share. */
const common = {
  model: Type.String({ minLength: 1, error: "must be a non-empty string naming the model" }),
  messages: Type.Array(MessageParam, { minItems: 1, error: "must be a non-empty array of messages" }),
  system: Type.Optional(Type.Union([Type.String(), Type.Array(Block)], { error: "must be a string or an array of text blocks" })),
  tools: Type.Optional(Type.Array(Tool, { error: "must be an array of tool objects" })),
  tool_choice: Type.Optional(ToolChoice),
  thinking: Type.Optional(Thinking),
  output_config: Type.Optional(OutputConfig),
};

export const MessagesRequest = withErrorTexts(Type.Object(
  {
    ...common,
    max_tokens: Type.Integer({ minimum: 1, maximum: MAX_TOKEN_COUNT, error: "must be an integer from 1 to 2147483647" }),
    stop_sequences: Type.Optional(Type.Array(Type.String(), { error: "must be an array of strings" })),
    temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 1, error: "must be a number from 0 to 1" })),
    top_p: Type.Optional(Type.Number({ minimum: 0, maximum: 1, error: "must be a number from 0 to 1" })),
    top_k: Type.Optional(Type.Integer({ minimum: 0, error: "must be an integer of at least 0" })),
    stream: Type.Optional(Type.Boolean({ error: "must be a boolean" })),
    metadata: Type.Optional(Type.Object({ user_id: Type.Optional(Type.Union([Type.String(), Type.Null()])) }, { ...open, error: "must be an object" })),
  },
  { ...open, error: "must be a JSON object", example: { model: "claude-sonnet-4-5", max_tokens: 256, messages: [{ role: "user", content: "Say hello in three words." }] } },
));
export type MessagesRequest = Static<typeof MessagesRequest>;

/** `POST /v1/messages/count_tokens`: a Messages request without `max_tokens` or sampling. */
export const CountTokensRequest = withErrorTexts(
  Type.Object(common, { ...open, error: "must be a JSON object", example: { model: "claude-sonnet-4-5", messages: [{ role: "user", content: "Say hello in three words." }] } }),
);
export type CountTokensRequest = Static<typeof CountTokensRequest>;

export const CountTokensResponse = Type.Object({ input_tokens: Type.Integer() });

export const AnthropicErrorBody = Type.Object({
  type: Type.Literal("error"),
  error: Type.Object({ type: Type.String(), message: Type.String() }),
  request_id: Type.Optional(Type.String()),
});

/** A Message, for the OpenAPI document only: the body is the upstream's or a translation's. */
export const AnthropicMessage = Type.Object(
  {
    id: Type.String(),
    type: Type.Literal("message"),
    role: Type.Literal("assistant"),
    model: Type.String(),
    content: Type.Array(Type.Object({ type: Type.String() }, open)),
    stop_reason: Type.Union([Type.String(), Type.Null()]),
    stop_sequence: Type.Union([Type.String(), Type.Null()]),
    usage: Type.Object({ input_tokens: Type.Integer(), output_tokens: Type.Integer() }, open),
  },
  open,
);

const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/**
 * A model object as Anthropic's Models API reference has it, every field present as its
 * TypeScript SDK types it (null where unknown). Open: a field Anthropic adds reaches the client as
 * an Anthropic provider listed it.
 */
const ModelInfo = Type.Object(
  {
    type: Type.Literal("model"),
    id: Type.String(),
    display_name: Type.String(),
    created_at: Type.String({ description: "RFC 3339" }),
    // A string, not the three values: a stage Anthropic adds must not make its own list a 500 here.
    lifecycle: Type.String({ description: "active, deprecated or retired" }),
    deprecated_at: nullable(Type.String()),
    retires_at: nullable(Type.String()),
    line: nullable(Type.String()),
    max_input_tokens: nullable(Type.Integer()),
    max_tokens: nullable(Type.Integer()),
    capabilities: nullable(Type.Object({}, open)),
  },
  open,
);

/** `GET /v1/models` as Anthropic answers it (sent when the request carries `anthropic-version`). */
export const AnthropicModelList = Type.Object({
  data: Type.Array(ModelInfo),
  has_more: Type.Boolean(),
  first_id: Type.Union([Type.String(), Type.Null()]),
  last_id: Type.Union([Type.String(), Type.Null()]),
});
export const AnthropicModel = ModelInfo;

export type AnyBlock = Static<typeof Block> & Record<string, unknown>;
