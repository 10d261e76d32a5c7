// `${VAR}` as the whole of a number or boolean setting (`retries: ${RETRIES}`). Expansion yields
// text, and the schema would refuse the text "3" where it wants 3; so there the variable's text is
// read as the file's own text would be, as a YAML scalar. Only there: `api_key: ${KEY}` with
// KEY=123 stays the string "123", and a secret is never read, typed or printed here.
import { Kind, type TSchema } from "@sinclair/typebox";
import type { Env } from "../config.ts";
import { expandEnv, ONLY_REFERENCE } from "./expand-env.ts";
import { FieldError, fieldPath } from "./field-error.ts";
import { firstProblem } from "./schema-errors.ts";

const TYPED_KINDS = new Set(["Integer", "Number", "Boolean"]);

/**
 * `value` (as parsed, before expansion) with each number or boolean setting that is exactly one
 * `${VAR}` replaced by the variable's value in that type. A value that does not fit refuses to
 * start, naming the field, the reference and the text (`retries: ${R} is "abc", expected …`):
 * the schema's check after expansion would see the field only. Shapes the schema does not expect
 * are left as they are, for kindProblem and firstProblem to name.
 */
export function typeReferences(schema: TSchema, value: unknown, env: Env, field = ""): unknown {
  if (typeof value === "string") {
    return TYPED_KINDS.has(schema[Kind]) && ONLY_REFERENCE.test(value) ? typedValue(schema, value, env, field) : value;
  }
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    if (schema[Kind] !== "Array") return value;
    return value.map((item, i) => typeReferences(schema.items as TSchema, item, env, fieldPath(field, i)));
  }
  const entry = schema[Kind] === "Union" ? memberFor(schema, value) : schema;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const itemSchema = entry && propertySchema(entry, key);
    out[key] = itemSchema ? typeReferences(itemSchema, item, env, fieldPath(field, key)) : item;
  }
  return out;
}

function typedValue(schema: TSchema, reference: string, env: Env, field: string): number | boolean | string {
  const text = expandEnv(reference, env, field) as string;
  const scalar = yamlScalar(text);
  const value = typeof scalar === "number" || typeof scalar === "boolean" ? scalar : text;
  const problem = firstProblem(schema, value);
  if (problem) throw new FieldError(field, `${reference} is ${JSON.stringify(text)}, ${problem.problem}`);
  return value;
}

function yamlScalar(text: string): unknown {
  try {
    return Bun.YAML.parse(text);
  } catch {
    return undefined; // not YAML at all: kept as text, and refused as such
  }
}

function propertySchema(schema: TSchema, key: string): TSchema | undefined {
  if (schema[Kind] === "Object") return (schema.properties as Record<string, TSchema>)[key];
  if (schema[Kind] === "Record") return Object.values(schema.patternProperties ?? {})[0] as TSchema | undefined;
  return undefined;
}

/** The provider entries are a union told apart by `type`: the member the entry names. */
function memberFor(schema: TSchema, value: object): TSchema | undefined {
  const type = (value as Record<string, unknown>).type;
  return ((schema.anyOf ?? []) as TSchema[]).find((m) => m.properties?.type?.const === type);
}
