import { Type, type Static, type TSchema } from "@sinclair/typebox";

/**
 * Schemas of the public API, used for request validation and the OpenAPI document. Every object
 * is open (`additionalProperties: true`): OpenAI adds fields often, and a gateway that dropped
 * what it does not know would break clients. `error` texts become the message of the 400.
 */
const open = { additionalProperties: true } as const;

const TYPE_TEXT: Record<string, string> = {
  object: "must be an object",
  array: "must be an array",
  string: "must be a string",
  number: "must be a number",
  integer: "must be an integer",
  boolean: "must be a boolean",
  null: "must be null",
};

/**
 * Gives every sub-schema an `error` text. Without one, Elysia's validation error formats the
 * offending value (twice, recursively) to build its message: a deeply nested value under a field
 * then costs seconds of CPU or overflows the stack. With one, the message is the text, and the
 * cost of a 400 does not depend on what was sent.
 */
export function withErrorTexts<T extends TSchema>(schema: T): T {
  const node = schema as TSchema & { error?: unknown; type?: unknown; anyOf?: TSchema[]; items?: TSchema; properties?: Record<string, TSchema>; patternProperties?: Record<string, TSchema> };
  if (node.error === undefined) node.error = (typeof node.type === "string" && TYPE_TEXT[node.type]) || "has the wrong type or value";
  for (const child of [...(node.anyOf ?? []), ...Object.values(node.properties ?? {}), ...Object.values(node.patternProperties ?? {})]) withErrorTexts(child);
  if (node.items && !Array.isArray(node.items)) withErrorTexts(node.items);
  return schema;
}

const nullable = <T extends TSchema>(schema: T, error: string) =>
  Type.Optional(Type.Union([schema, Type.Null()], { error }));
const numberIn = (minimum: number, maximum: number) =>
  nullable(Type.Number({ minimum, maximum }), `must be a number from ${minimum} to ${maximum}`);
/** The largest token count OpenAI takes (a 32-bit integer): beyond it, a count is a 400, as there. */
export const MAX_TOKEN_COUNT = 2_147_483_647;
const positiveInt = () => nullable(Type.Integer({ minimum: 1, maximum: MAX_TOKEN_COUNT }), "must be an integer from 1 to 2147483647");

export const Role = Type.Union(
  ["system", "developer", "user", "assistant", "tool", "function"].map((r) => Type.Literal(r)),
  { error: "must be one of system, developer, user, assistant, tool" },
);

export const ContentPart = Type.Object(
  {
    type: Type.String({ error: "must be a string naming the part type" }),
    text: Type.Optional(Type.String({ error: "must be a string" })),
  },
  open,
);

export const Message = Type.Object(
  {
    role: Role,
    content: Type.Optional(
      Type.Union([Type.String(), Type.Array(ContentPart), Type.Null()], {
        error: "must be a string or an array of content parts",
      }),
    ),
    name: Type.Optional(Type.String({ error: "must be a string" })),
  },
  { ...open, error: "must be a message object with a role" },
);

export const ChatRequest = withErrorTexts(Type.Object(
  {
    model: Type.String({ minLength: 1, error: "must be a non-empty string naming the model" }),
    messages: Type.Array(Message, { minItems: 1, error: "must be a non-empty array of messages" }),
    stream: nullable(Type.Boolean(), "must be a boolean"),
    stream_options: nullable(
      Type.Object({ include_usage: Type.Optional(Type.Boolean()) }, open),
      "must be an object like {\"include_usage\": true}",
    ),
    temperature: numberIn(0, 2),
    top_p: numberIn(0, 1),
    presence_penalty: numberIn(-2, 2),
    frequency_penalty: numberIn(-2, 2),
    // OpenAI's own bound: more choices than this is a 400 there too, and the mock would build them all.
    n: nullable(Type.Integer({ minimum: 1, maximum: 128 }), "must be an integer from 1 to 128"),
    max_tokens: positiveInt(),
    max_completion_tokens: positiveInt(),
    stop: nullable(Type.Union([Type.String(), Type.Array(Type.String())]), "must be a string or an array of strings"),
    seed: nullable(Type.Integer(), "must be an integer"),
    logprobs: nullable(Type.Boolean(), "must be a boolean"),
    top_logprobs: nullable(Type.Integer({ minimum: 0, maximum: 20 }), "must be an integer from 0 to 20"),
    user: Type.Optional(Type.String({ error: "must be a string" })),
    tools: Type.Optional(Type.Array(Type.Object({ type: Type.String() }, open), { error: "must be an array of tool objects" })),
    tool_choice: Type.Optional(Type.Union([Type.String(), Type.Object({}, open)], { error: "must be a string or an object" })),
    parallel_tool_calls: Type.Optional(Type.Boolean({ error: "must be a boolean" })),
    response_format: Type.Optional(Type.Object({ type: Type.String() }, { ...open, error: "must be an object with a type" })),
    logit_bias: nullable(Type.Record(Type.String(), Type.Number()), "must be an object mapping token ids to numbers"),
    // The rest of OpenAI's fields, by type only: the upstream judges their values.
    store: nullable(Type.Boolean(), "must be a boolean"),
    metadata: nullable(Type.Record(Type.String(), Type.String()), "must be an object mapping strings to strings"),
    modalities: nullable(Type.Array(Type.String()), "must be an array of strings"),
    reasoning_effort: nullable(Type.String(), "must be a string"),
    service_tier: nullable(Type.String(), "must be a string"),
    verbosity: nullable(Type.String(), "must be a string"),
    safety_identifier: Type.Optional(Type.String({ error: "must be a string" })),
    prompt_cache_key: Type.Optional(Type.String({ error: "must be a string" })),
    audio: nullable(Type.Object({}, open), "must be an object"),
    prediction: nullable(Type.Object({ type: Type.String() }, open), "must be an object with a type"),
    web_search_options: Type.Optional(Type.Object({}, { ...open, error: "must be an object" })),
    functions: Type.Optional(Type.Array(Type.Object({ name: Type.String() }, open), { error: "must be an array of function objects with a name" })),
    function_call: Type.Optional(Type.Union([Type.String(), Type.Object({}, open)], { error: "must be a string or an object" })),
  },
  // `example`: the body the docs page's "Try it out" starts from; its own sample of this schema
  // ("string" for every field) is a request OpenAI, and the mock, refuse.
  { ...open, error: "must be a JSON object", example: { model: "gpt-4o-mini", messages: [{ role: "user", content: "Say hello in three words." }] } },
));
export type ChatRequest = Static<typeof ChatRequest>;

/** `POST /chat`: the simple endpoint for people who want text in, text out. */
export const SimpleChatRequest = withErrorTexts(Type.Object(
  {
    message: Type.String({ error: "must be a string" }),
    stream: Type.Optional(Type.Boolean({ error: "must be a boolean" })),
    model: Type.Optional(Type.String({ minLength: 1, error: "must be a non-empty string" })),
  },
  { ...open, error: "must be a JSON object", example: { message: "Say hello in three words." } },
));
export type SimpleChatRequest = Static<typeof SimpleChatRequest>;

export const SimpleChatResponse = Type.Object({ content: Type.String(), tokensUsed: Type.Number() });

export const ErrorBody = Type.Object({
  error: Type.Object({
    message: Type.String(),
    type: Type.String(),
    param: Type.Union([Type.String(), Type.Null()]),
    code: Type.Union([Type.String(), Type.Null()]),
  }),
});

export const Model = Type.Object({
  id: Type.String(),
  object: Type.Literal("model"),
  created: Type.Integer(),
  owned_by: Type.String(),
});
export type Model = Static<typeof Model>;

export const ModelList = Type.Object({ object: Type.Literal("list"), data: Type.Array(Model) });

/** Response shapes for the OpenAPI document only: the bodies are the upstream's, passed through. */
export const ChatCompletion = Type.Object(
  {
    id: Type.String(),
    object: Type.Literal("chat.completion"),
    created: Type.Integer(),
    model: Type.String(),
    choices: Type.Array(Type.Object({ index: Type.Integer(), message: Type.Object({}, open), finish_reason: Type.String() }, open)),
    usage: Type.Optional(Type.Object({ prompt_tokens: Type.Integer(), completion_tokens: Type.Integer(), total_tokens: Type.Integer() }, open)),
  },
  open,
);

export const Health = Type.Object({ status: Type.Literal("ok") });

export const Status = Type.Object({
  uptime_s: Type.Number(),
  version: Type.String(),
  providers: Type.Array(Type.Object({ id: Type.String(), type: Type.String(), host: Type.Union([Type.String(), Type.Null()]) })),
  in_flight: Type.Object({ json: Type.Integer(), streams: Type.Integer() }),
  /** Targets that have failed since start: healthy again, cooling down until a time, or being probed. */
  targets: Type.Array(
    Type.Object({
      provider: Type.String(),
      model: Type.String(),
      state: Type.Union([Type.Literal("healthy"), Type.Literal("cooling_down"), Type.Literal("probe_due"), Type.Literal("probing")]),
      failures_in_a_row: Type.Integer(),
      cooling_until: Type.Union([Type.String(), Type.Null()]),
      last_error: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
  requests: Type.Object({
    total: Type.Integer(),
    completions: Type.Integer(),
    streams: Type.Integer(),
    errors_4xx: Type.Integer(),
    errors_5xx: Type.Integer(),
  }),
  /** Whether spans are exported (CHATGATE_OTLP_ENDPOINT); where to, and with which headers, is never shown. */
  tracing: Type.Optional(Type.Boolean()),
  /** The last config reload (SIGHUP), once there has been one: when, and why it was rejected if it was. */
  reload: Type.Optional(Type.Object({ at: Type.String(), ok: Type.Boolean(), error: Type.Union([Type.String(), Type.Null()]) })),
  /** The webhook channels (`hooks:`), once a config has had any: name, model and live conversations (per sender, and per client key on a hook called with keys). */
  channels: Type.Optional(Type.Array(Type.Object({ name: Type.String(), model: Type.String(), sessions: Type.Integer() }))),
});
