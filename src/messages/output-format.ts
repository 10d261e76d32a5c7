import type { ResponseFormatJSONSchema } from "openai/resources/shared";
import { invalidRequest } from "../errors.ts";

type Loose = Record<string, unknown>;

/**
 * The name a translated output format goes under: OpenAI requires one (`[a-zA-Z0-9_-]{1,64}`) and
 * Anthropic's format has none. Always the same, so the same request makes the same upstream call
 * (and the same cache key upstream).
 */
export const OUTPUT_FORMAT_NAME = "output";

/**
 * Keywords OpenAI's structured outputs refuse in a strict schema (its guide's "supported schemas":
 * composition and these object keywords), which Anthropic's may take (`allOf`, among others).
 */
const UNSUPPORTED_KEYWORDS = ["allOf", "not", "if", "then", "else", "dependentRequired", "dependentSchemas", "patternProperties", "unevaluatedProperties", "propertyNames", "minProperties", "maxProperties"];

const isObject = (value: unknown): value is Loose => value !== null && typeof value === "object" && !Array.isArray(value);

/** The schemas a schema holds, each with its path: properties, items, anyOf branches and definitions. */
function children(schema: Loose, at: string): Array<[Loose, string]> {
  const out: Array<[Loose, string]> = [];
  const each = (value: unknown, path: string) => {
    if (isObject(value)) for (const [key, child] of Object.entries(value)) if (isObject(child)) out.push([child, `${path}.${key}`]);
  };
  const list = (value: unknown, path: string) => {
    if (Array.isArray(value)) value.forEach((child, i) => isObject(child) && out.push([child, `${path}.${i}`]));
  };
  each(schema.properties, `${at}.properties`);
  each(schema.$defs, `${at}.$defs`);
  each(schema.definitions, `${at}.definitions`);
  if (isObject(schema.items)) out.push([schema.items, `${at}.items`]);
  list(schema.items, `${at}.items`);
  list(schema.prefixItems, `${at}.prefixItems`);
  list(schema.anyOf, `${at}.anyOf`);
  return out;
}

/** The first thing a schema says that OpenAI's strict mode cannot: its path and why; undefined when it fits. */
function strictFault(schema: Loose, at: string): string | undefined {
  const keyword = UNSUPPORTED_KEYWORDS.find((k) => Object.hasOwn(schema, k));
  if (keyword !== undefined) return `${at}.${keyword}: OpenAI's strict structured outputs do not support '${keyword}'`;
  if (schema.type === "object" || isObject(schema.properties)) {
    if (schema.additionalProperties !== false) return `${at}.additionalProperties: must be false for every object`;
    const required = Array.isArray(schema.required) ? schema.required : [];
    const optional = Object.keys(isObject(schema.properties) ? schema.properties : {}).find((name) => !required.includes(name));
    if (optional !== undefined) return `${at}.required: property '${optional}' is optional, and OpenAI's strict structured outputs need every property required (make it nullable instead)`;
  }
  for (const [child, path] of children(schema, at)) {
    const fault = strictFault(child, path);
    if (fault !== undefined) return fault;
  }
  return undefined;
}

/**
 * Anthropic's `output_config.format` as OpenAI's `response_format`, for a request an
 * OpenAI-compatible or mock target answers. Anthropic's structured outputs are always enforced
 * (constrained decoding), so the schema goes with `strict: true`: a best-effort hint would break the
 * guarantee the client relies on (the SDKs' `messages.parse` validates the answer against it).
 * Undefined when the request has no format.
 */
export function responseFormatOf(format: unknown): ResponseFormatJSONSchema | undefined {
  if (!isObject(format) || format.type !== "json_schema" || !isObject(format.schema)) return undefined;
  return { type: "json_schema", json_schema: { name: OUTPUT_FORMAT_NAME, schema: format.schema, strict: true } };
}

/**
 * Refuses an output format a translation cannot keep, before any upstream call: a format other
 * than a JSON schema, or a schema OpenAI's strict mode cannot express (a root that is not an
 * object, an optional property, an object open to more properties, an unsupported keyword). Sent
 * without `strict` the answer might not match it; left out, the client would get prose where it
 * asked for JSON. The 400 names the field at fault under `output_config.format`.
 */
export function checkOutputFormat(format: unknown): void {
  if (format === undefined || format === null) return;
  const param = "output_config.format";
  if (!isObject(format) || format.type !== "json_schema") throw invalidRequest(`${param}.type: must be 'json_schema'.`, `${param}.type`);
  if (!isObject(format.schema)) throw invalidRequest(`${param}.schema: Field required: a JSON schema object.`, `${param}.schema`);
  if (format.schema.type !== "object") {
    throw invalidRequest(`${param}.schema.type: the schema's root must be an object for a model this request is translated for (OpenAI's strict structured outputs).`, `${param}.schema.type`);
  }
  const fault = strictFault(format.schema, `${param}.schema`);
  if (fault !== undefined) throw invalidRequest(`${fault}; this model's target cannot guarantee the schema, so the request is refused rather than answered unchecked.`, param);
}
