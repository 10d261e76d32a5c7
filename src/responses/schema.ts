import { Type, type Static } from "@sinclair/typebox";
import { withErrorTexts } from "../schema.ts";
import { MAX_TOKEN_COUNT } from "../schema.ts";

/**
 * Schemas of OpenAI's Responses API as chatgate takes it (`POST /v1/responses`), from OpenAI's
 * spec (CreateResponse): the stateless subset a chat completions call can answer. Open like the
 * chat schema, so a field OpenAI adds is not a 400; what has no chat form is left out of the
 * translation (to-chat.ts), and what would need stored state is refused there, naming the field.
 * Input items are checked one by one as they are translated, so a 400 names the item at fault.
 */
const open = { additionalProperties: true } as const;
const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T, error: string) => Type.Union([schema, Type.Null()], { error });

/** An input item: a message (with or without `type: "message"`), a function call, its output, … */
const InputItem = Type.Object(
  { type: Type.Optional(Type.String({ error: "must be a string naming the item type" })) },
  { ...open, error: "must be an input item object" },
);

/** A tool: only `function` tools have a chat form; the type is checked as the tools are translated. */
const Tool = Type.Object(
  {
    type: Type.String({ error: "must be a string naming the tool type" }),
    name: Type.Optional(Type.String({ minLength: 1, error: "must be a non-empty string" })),
    description: Type.Optional(nullable(Type.String(), "must be a string")),
    parameters: Type.Optional(nullable(Type.Object({}, open), "must be a JSON schema object")),
    strict: Type.Optional(nullable(Type.Boolean(), "must be a boolean")),
  },
  { ...open, error: "must be a tool object with a type" },
);

const ToolChoice = Type.Union(
  [
    Type.Literal("auto"), Type.Literal("none"), Type.Literal("required"),
    Type.Object({ type: Type.String(), name: Type.Optional(Type.String()) }, open),
  ],
  { error: "must be one of auto, none, required, or an object naming a function" },
);

const TextFormat = Type.Object(
  {
    type: Type.Union(["text", "json_schema", "json_object"].map((t) => Type.Literal(t)), { error: "must be one of text, json_schema, json_object" }),
    name: Type.Optional(Type.String()),
    description: Type.Optional(Type.String()),
    schema: Type.Optional(Type.Object({}, open)),
    strict: Type.Optional(nullable(Type.Boolean(), "must be a boolean")),
  },
  { ...open, error: "must be an object with a type" },
);

export const ResponsesRequest = withErrorTexts(Type.Object(
  {
    model: Type.String({ minLength: 1, error: "must be a non-empty string naming the model" }),
    input: Type.Union([Type.String(), Type.Array(InputItem, { minItems: 1 })], { error: "must be a string or a non-empty array of input items" }),
    instructions: Type.Optional(nullable(Type.String(), "must be a string")),
    tools: Type.Optional(Type.Array(Tool, { error: "must be an array of tool objects" })),
    tool_choice: Type.Optional(ToolChoice),
    parallel_tool_calls: Type.Optional(nullable(Type.Boolean(), "must be a boolean")),
    max_output_tokens: Type.Optional(nullable(Type.Integer({ minimum: 1, maximum: MAX_TOKEN_COUNT }), "must be an integer from 1 to 2147483647")),
    temperature: Type.Optional(nullable(Type.Number({ minimum: 0, maximum: 2 }), "must be a number from 0 to 2")),
    top_p: Type.Optional(nullable(Type.Number({ minimum: 0, maximum: 1 }), "must be a number from 0 to 1")),
    stream: Type.Optional(nullable(Type.Boolean(), "must be a boolean")),
    store: Type.Optional(nullable(Type.Boolean(), "must be a boolean")),
    background: Type.Optional(nullable(Type.Boolean(), "must be a boolean")),
    user: Type.Optional(Type.String({ error: "must be a string" })),
    safety_identifier: Type.Optional(Type.String({ error: "must be a string" })),
    metadata: Type.Optional(nullable(Type.Record(Type.String(), Type.String()), "must be an object of strings")),
    text: Type.Optional(Type.Object({ format: Type.Optional(TextFormat) }, { ...open, error: "must be an object" })),
    reasoning: Type.Optional(nullable(Type.Object({ effort: Type.Optional(nullable(Type.String(), "must be a string")) }, open), "must be an object")),
    previous_response_id: Type.Optional(nullable(Type.String(), "must be a string")),
  },
  { ...open, error: "must be a JSON object", example: { model: "gpt-4o-mini", input: "Say hello in three words." } },
));
export type ResponsesRequest = Static<typeof ResponsesRequest>;
export type InputItem = Static<typeof InputItem> & Record<string, unknown>;

/** A Response, for the OpenAPI document only: the body is built by to-response.ts. */
export const ResponseObject = Type.Object(
  {
    id: Type.String(),
    object: Type.Literal("response"),
    created_at: Type.Integer(),
    status: Type.String(),
    model: Type.String(),
    output: Type.Array(Type.Object({ type: Type.String() }, open)),
    usage: Type.Object({ input_tokens: Type.Integer(), output_tokens: Type.Integer(), total_tokens: Type.Integer() }, open),
  },
  open,
);
