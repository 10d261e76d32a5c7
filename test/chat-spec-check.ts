// Checks response bodies against the schemas of OpenAI's own OpenAPI document
// (/work/shared/openai-openapi/openapi.yaml, named in ../shared/openai-openapi/SOURCE.md), so
// "OpenAI-shaped" means the spec's required fields and types, not our idea of them. A small
// validator: $ref, allOf/anyOf/oneOf, type (with OpenAPI 3.0's `nullable`), enum/const, required,
// properties and items — enough for the response objects, and no dependency.
import path from "node:path";

interface Schema {
  $ref?: string;
  type?: string | string[];
  nullable?: boolean;
  enum?: unknown[];
  const?: unknown;
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
}

interface SpecDocument {
  components: { schemas: Record<string, Schema> };
}

const SPEC_PATH = path.resolve(import.meta.dir, "../../shared/openai-openapi/openapi.yaml");
let spec: Promise<SpecDocument> | undefined;

// Parsed once per test file (about 90 ms for the 3 MB document).
const loadSpec = (): Promise<SpecDocument> => (spec ??= Bun.file(SPEC_PATH).text().then((text) => Bun.YAML.parse(text) as SpecDocument));

function typeOk(value: unknown, type: string): boolean {
  switch (type) {
    case "null":
      return value === null;
    case "string":
      return typeof value === "string";
    case "boolean":
      return typeof value === "boolean";
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "integer":
      return Number.isInteger(value);
    case "array":
      return Array.isArray(value);
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
  }
  return true;
}

function check(doc: SpecDocument, value: unknown, schema: Schema, at: string): string[] {
  // The spec puts `nullable` beside `$ref` too (the stream chunk's `usage`).
  if (value === null && schema.nullable === true) return [];
  if (schema.$ref !== undefined) {
    const name = schema.$ref.replace("#/components/schemas/", "");
    const target = doc.components.schemas[name];
    return target === undefined ? [`${at}: unresolved ${schema.$ref}`] : check(doc, value, target, at);
  }
  const errors: string[] = [];
  for (const part of schema.allOf ?? []) errors.push(...check(doc, value, part, at));
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives !== undefined && !alternatives.some((alt) => check(doc, value, alt, at).length === 0)) {
    errors.push(`${at}: ${JSON.stringify(value)?.slice(0, 80)} matches none of the alternatives`);
  }
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.length > 0 && !types.some((type) => typeOk(value, type))) {
    return [...errors, `${at}: expected ${types.join(" | ")}, got ${JSON.stringify(value)?.slice(0, 80)}`];
  }
  if (schema.enum !== undefined && !schema.enum.includes(value)) errors.push(`${at}: ${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`);
  if (schema.const !== undefined && value !== schema.const) errors.push(`${at}: expected ${JSON.stringify(schema.const)}`);
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in record)) errors.push(`${at}.${key}: required`);
    for (const [key, sub] of Object.entries(schema.properties ?? {})) {
      if (key in record) errors.push(...check(doc, record[key], sub, `${at}.${key}`));
    }
  }
  if (Array.isArray(value) && schema.items !== undefined) {
    for (const [index, item] of value.entries()) errors.push(...check(doc, item, schema.items, `${at}[${index}]`));
  }
  return errors;
}

export type SpecSchemaName =
  | "CreateChatCompletionResponse"
  | "CreateChatCompletionStreamResponse"
  | "ErrorResponse"
  | "ListModelsResponse"
  | "Model";

/** Everything about `value` that disagrees with the named schema of OpenAI's spec; [] when it conforms. */
export async function specErrors(value: unknown, name: SpecSchemaName): Promise<string[]> {
  const doc = await loadSpec();
  const schema = doc.components.schemas[name];
  if (schema === undefined) throw new Error(`no schema ${name} in ${SPEC_PATH}`);
  return check(doc, value, schema, name);
}
