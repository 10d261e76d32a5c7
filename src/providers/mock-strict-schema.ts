import { Kind, Type, type TSchema } from "@sinclair/typebox";

/**
 * What OpenAI's chat completions refuse beyond the gateway's own checks (src/schema.ts, which
 * judges types only and lets the upstream judge values): the values of OpenAI's spec
 * (CreateChatCompletionRequest in openai-openapi, the commit in test/fixtures/openai-spec/SOURCE.md),
 * its per-role messages and content parts, and the limits its descriptions state. Only the
 * built-in mock judges by it, since it has no upstream to do so (mock-judge.ts). Objects stay open:
 * a field OpenAI adds must not make the mock refuse what OpenAI takes. test/mock-strict.test.ts
 * checks each enum against the spec and each refusal against the spec's own schema.
 */
const open = { additionalProperties: true } as const;
const oneOf = (values: readonly string[]) => Type.Union(values.map((value) => Type.Literal(value)));
const nullable = (schema: TSchema) => Type.Optional(Type.Union([schema, Type.Null()]));

/** The spec's enums, by the field that takes them. */
export const OPENAI_ENUMS = {
  service_tier: ["auto", "default", "flex", "scale", "priority", "fast"],
  reasoning_effort: ["none", "minimal", "low", "medium", "high", "xhigh", "max"],
  verbosity: ["low", "medium", "high"],
  modalities: ["text", "audio"],
  tool_choice: ["none", "auto", "required"],
  function_call: ["none", "auto"],
  audio_format: ["wav", "aac", "mp3", "flac", "opus", "pcm16"],
  image_detail: ["auto", "low", "high"],
  input_audio_format: ["wav", "mp3"],
  allowed_tools_mode: ["auto", "required"],
} as const satisfies Record<string, readonly string[]>;

/** Limits the spec states in words: stop sequences, metadata, logit bias. */
export const MAX_STOP_SEQUENCES = 4;
export const MAX_METADATA_PAIRS = 16;
export const MAX_METADATA_KEY = 64;
export const MAX_METADATA_VALUE = 512;
export const LOGIT_BIAS_RANGE = 100;

const part = <T extends string>(type: T, body: Record<string, TSchema>) => Type.Object({ type: Type.Literal(type), ...body }, open);
const TextPart = part("text", { text: Type.String() });
const ImagePart = part("image_url", { image_url: Type.Object({ url: Type.String(), detail: Type.Optional(oneOf(OPENAI_ENUMS.image_detail)) }, open) });
const AudioPart = part("input_audio", { input_audio: Type.Object({ data: Type.String(), format: oneOf(OPENAI_ENUMS.input_audio_format) }, open) });
const FilePart = part("file", { file: Type.Object({}, open) });
const RefusalPart = part("refusal", { refusal: Type.String() });

/** A message's content: a string, or a non-empty array of the parts its role may send. */
// A union even of one part (Type.Union of one is that one), so a part of another type is named by its `type`, as OpenAI names it.
const anyOf = (parts: TSchema[]): TSchema => Type.Unsafe({ [Kind]: "Union", anyOf: parts });
const content = (...parts: TSchema[]) => Type.Union([Type.String(), Type.Array(anyOf(parts), { minItems: 1 })]);

const ToolCall = Type.Union([
  part("function", { id: Type.String(), function: Type.Object({ name: Type.String(), arguments: Type.String() }, open) }),
  part("custom", { id: Type.String(), custom: Type.Object({ name: Type.String(), input: Type.String() }, open) }),
]);

const message = <T extends string>(role: T, body: Record<string, TSchema>) => Type.Object({ role: Type.Literal(role), ...body }, open);
const Message = Type.Union([
  message("developer", { content: content(TextPart) }),
  message("system", { content: content(TextPart) }),
  message("user", { content: content(TextPart, ImagePart, AudioPart, FilePart) }),
  message("assistant", {
    content: nullable(content(TextPart, RefusalPart)),
    audio: nullable(Type.Object({ id: Type.String() }, open)),
    tool_calls: Type.Optional(Type.Array(ToolCall)),
  }),
  message("tool", { content: content(TextPart), tool_call_id: Type.String() }),
  message("function", { content: Type.Union([Type.String(), Type.Null()]), name: Type.String() }),
]);

const Tool = Type.Union([
  part("function", { function: Type.Object({ name: Type.String() }, open) }),
  part("custom", { custom: Type.Object({ name: Type.String() }, open) }),
]);

const ToolChoice = Type.Union([
  oneOf(OPENAI_ENUMS.tool_choice),
  part("function", { function: Type.Object({ name: Type.String() }, open) }),
  part("custom", { custom: Type.Object({ name: Type.String() }, open) }),
  part("allowed_tools", { allowed_tools: Type.Object({ mode: oneOf(OPENAI_ENUMS.allowed_tools_mode), tools: Type.Array(Type.Object({}, open)) }, open) }),
]);

const ResponseFormat = Type.Union([
  part("text", {}),
  part("json_schema", { json_schema: Type.Object({ name: Type.String() }, open) }),
  part("json_object", {}),
]);

export const OpenAIChatRules = Type.Object(
  {
    messages: Type.Array(Message),
    stop: nullable(Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1, maxItems: MAX_STOP_SEQUENCES })])),
    logit_bias: nullable(Type.Record(Type.String(), Type.Integer({ minimum: -LOGIT_BIAS_RANGE, maximum: LOGIT_BIAS_RANGE }))),
    metadata: nullable(Type.Record(Type.String(), Type.String({ maxLength: MAX_METADATA_VALUE }), { maxProperties: MAX_METADATA_PAIRS })),
    tools: Type.Optional(Type.Array(Tool)),
    tool_choice: Type.Optional(ToolChoice),
    response_format: Type.Optional(ResponseFormat),
    service_tier: nullable(oneOf(OPENAI_ENUMS.service_tier)),
    reasoning_effort: nullable(oneOf(OPENAI_ENUMS.reasoning_effort)),
    verbosity: nullable(oneOf(OPENAI_ENUMS.verbosity)),
    modalities: nullable(Type.Array(oneOf(OPENAI_ENUMS.modalities))),
    audio: nullable(Type.Object({ voice: Type.Union([Type.String(), Type.Object({ id: Type.String() }, open)]), format: oneOf(OPENAI_ENUMS.audio_format) }, open)),
    prediction: nullable(part("content", { content: content(TextPart) })),
    function_call: Type.Optional(Type.Union([oneOf(OPENAI_ENUMS.function_call), Type.Object({ name: Type.String() }, open)])),
  },
  open,
);
