import { Kind, type TSchema } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import { ValueErrorType, type ValueError } from "@sinclair/typebox/errors";
import { chosenMemberError } from "../chosen-member-error.ts";
import { invalidRequest, type GatewayError } from "../errors.ts";
import { paramName } from "../param-name.ts";
import type { ChatRequest } from "../schema.ts";
import { MAX_METADATA_KEY, OpenAIChatRules } from "./mock-strict-schema.ts";

/** Compiled on the mock's first call, so a gateway in front of real providers never builds it. */
let rules: TypeCheck<typeof OpenAIChatRules> | undefined;

/**
 * Refuses what OpenAI's chat completions refuse, as OpenAI says it (`Invalid value: 'sometimes'.
 * Supported values are: 'none', 'auto', and 'required'.`, code `invalid_value`, `param` naming the
 * field): the built-in mock has no upstream to judge values, and a client tested against it should
 * fail where it would fail on OpenAI. The body has passed the gateway's own schema already.
 */
export function judgeLikeOpenAI(body: ChatRequest): void {
  rules ??= TypeCompiler.Compile(OpenAIChatRules);
  if (!rules.Check(body)) {
    const first = rules.Errors(body).First();
    if (first !== undefined) throw refusal(chosenMemberError(first), body);
  }
  if (body.top_logprobs != null && body.logprobs !== true) {
    throw invalidRequest("Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is given.", "top_logprobs", "invalid_value");
  }
  for (const key of Object.keys(body.metadata ?? {})) {
    if (key.length > MAX_METADATA_KEY) throw tooLong(`metadata.${key}`, "key", MAX_METADATA_KEY, key.length);
  }
}

const quoted = (values: readonly unknown[]) => {
  const list = values.map((v) => `'${String(v)}'`);
  return list.length < 3 ? list.join(" and ") : `${list.slice(0, -1).join(", ")}, and ${list.at(-1)}`;
};
const invalidValue = (param: string, value: unknown, values: readonly unknown[]) =>
  invalidRequest(`Invalid value: '${String(value)}'. Supported values are: ${quoted(values)}.`, param, "invalid_value");
const tooLong = (param: string, what: "array" | "string" | "key", max: number, length: number) => {
  const a = what === "array" ? "an" : "a";
  return invalidRequest(`Invalid '${param}': ${what} too long. Expected ${a} ${what} with maximum length ${max}, but got ${a} ${what} with length ${length} instead.`, param, `${what}_above_max_length`);
};

/** One error as OpenAI words it, with its code. */
function refusal(error: ValueError, body: ChatRequest): GatewayError {
  const param = paramName(error.path, body) ?? "body";
  const schema = error.schema;
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return invalidRequest(`Missing required parameter: '${param}'.`, param, "missing_required_parameter");
    case ValueErrorType.Literal:
      return invalidValue(param, error.value, [schema.const]);
    case ValueErrorType.Union:
      return unionRefusal(param, error.value, flat(schema));
    case ValueErrorType.ArrayMinItems:
      return invalidRequest(`Invalid '${param}': empty array. Expected an array with minimum length ${schema.minItems}, but got an empty array instead.`, param, "empty_array");
    case ValueErrorType.ArrayMaxItems:
      return tooLong(param, "array", schema.maxItems, (error.value as unknown[]).length);
    case ValueErrorType.StringMaxLength:
      return tooLong(param, "string", schema.maxLength, (error.value as string).length);
    case ValueErrorType.ObjectMaxProperties: {
      const count = Object.keys(error.value as object).length;
      return invalidRequest(`Invalid '${param}': too many properties. Expected an object with at most ${schema.maxProperties} properties, but got an object with ${count} properties instead.`, param, "object_above_max_properties");
    }
    case ValueErrorType.IntegerMaximum:
      return invalidRequest(`Invalid '${param}': integer above maximum value. Expected a value <= ${schema.maximum}, but got ${String(error.value)} instead.`, param, "integer_above_max_value");
    case ValueErrorType.IntegerMinimum:
      return invalidRequest(`Invalid '${param}': integer below minimum value. Expected a value >= ${schema.minimum}, but got ${String(error.value)} instead.`, param, "integer_below_min_value");
    case ValueErrorType.Integer:
      return invalidRequest(`Invalid type for '${param}': expected an integer, but got ${typeof error.value === "number" ? "a decimal number" : typeof error.value} instead.`, param, "invalid_type");
  }
  return invalidRequest(`Invalid value for '${param}': ${error.message.replace(/^Expected/, "expected")}.`, param, "invalid_value");
}

/** A union's members, nested unions flattened (a nullable enum is a union of a union and null). */
function flat(schema: TSchema): TSchema[] {
  return schema[Kind] === "Union" ? (schema.anyOf as TSchema[]).flatMap(flat) : [schema];
}

/**
 * A union no member of which the value's shape selected: a string outside an enum (named with the
 * enum), or an object whose discriminating field (`type`, a message's `role`) names no member.
 */
function unionRefusal(param: string, value: unknown, members: TSchema[]): GatewayError {
  if (typeof value === "string") {
    const literals = members.filter((m) => typeof m.const === "string").map((m) => m.const as string);
    if (literals.length > 0) return invalidValue(param, value, literals);
  }
  const objects = members.filter((m) => m[Kind] === "Object");
  if (value !== null && typeof value === "object" && !Array.isArray(value) && objects.length > 0) {
    const key = Object.keys(objects[0]!.properties).find((k) => objects.every((m) => m.properties[k]?.const !== undefined));
    if (key !== undefined) {
      const given = (value as Record<string, unknown>)[key];
      if (given === undefined) return invalidRequest(`Missing required parameter: '${param}.${key}'.`, `${param}.${key}`, "missing_required_parameter");
      return invalidValue(`${param}.${key}`, given, objects.map((m) => m.properties[key].const));
    }
  }
  return invalidRequest(`Invalid value for '${param}': not one of the forms OpenAI takes.`, param, "invalid_value");
}
