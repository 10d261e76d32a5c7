// Checks response bodies against the schemas of OpenAI's own OpenAPI document, so "OpenAI-shaped"
// means the spec's required fields and types, not our idea of them. The schemas are a vendored cut
// of that document (test/fixtures/openai-spec/, provenance in its SOURCE.md), validated with Ajv
// as JSON Schema 2020-12 (the document is OpenAPI 3.1).
import path from "node:path";
import Ajv2020, { type ValidateFunction } from "ajv/dist/2020";
import addFormats from "ajv-formats";

const FIXTURE_PATH = path.resolve(import.meta.dir, "fixtures/openai-spec/schemas.json");
const SPEC_ID = "https://chatgate.invalid/openai-spec.json";

export type SpecSchemaName =
  | "CreateChatCompletionRequest"
  | "CreateChatCompletionResponse"
  | "CreateChatCompletionStreamResponse"
  | "ErrorResponse"
  | "ListModelsResponse"
  | "Model";

// OpenAPI 3.0's `nullable: true` (which the document still uses, even beside `$ref`) is not JSON
// Schema: rewrite each such schema to `anyOf: [schema-without-nullable, {type: "null"}]`.
function desugarNullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(desugarNullable);
  if (node === null || typeof node !== "object") return node;
  const { nullable, ...rest } = node as Record<string, unknown>;
  const out = Object.fromEntries(Object.entries(rest).map(([key, value]) => [key, desugarNullable(value)]));
  return nullable === true ? { anyOf: [out, { type: "null" }] } : out;
}

let ajv: Promise<Ajv2020> | undefined;
const loadAjv = (): Promise<Ajv2020> =>
  (ajv ??= Bun.file(FIXTURE_PATH)
    .json()
    .then((fixture: object) => {
      const instance = new Ajv2020({ strict: false, allErrors: true });
      addFormats(instance);
      // Integer seconds since the epoch: the `created` fields and the like.
      instance.addFormat("unixtime", { type: "number", validate: (n: number) => Number.isInteger(n) });
      instance.addSchema({ ...(desugarNullable(fixture) as object), $id: SPEC_ID });
      return instance;
    }));

const validators = new Map<SpecSchemaName, ValidateFunction>();

/** Everything about `value` that disagrees with the named schema of OpenAI's spec; [] when it conforms. */
export async function specErrors(value: unknown, name: SpecSchemaName): Promise<string[]> {
  const instance = await loadAjv();
  let validate = validators.get(name);
  if (validate === undefined) {
    validate = instance.getSchema(`${SPEC_ID}#/components/schemas/${name}`);
    if (validate === undefined) throw new Error(`no schema ${name} in ${FIXTURE_PATH}`);
    validators.set(name, validate);
  }
  if (validate(value)) return [];
  return (validate.errors ?? []).map(
    (error) => `${name}${error.instancePath}: ${error.message ?? error.keyword} ${JSON.stringify(error.params)} (${error.schemaPath})`,
  );
}
