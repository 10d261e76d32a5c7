// TypeBox's first complaint about the file, in the operator's words and the file's notation
// (`providers[1].base_url: expected an http(s) URL`). TypeBox's own error function is global and
// shared with Elysia's request validation, so it is left alone and the wording is made here.
import { Kind, type TSchema } from "@sinclair/typebox";
import { ValueErrorType, type ValueError } from "@sinclair/typebox/errors";
import { Value } from "@sinclair/typebox/value";
import { FieldError, pointerToField } from "./field-error.ts";
import { fileKeyForEnv } from "./settings.ts";

/** The first problem with `value` (defaults already filled), or undefined when it fits. */
export function firstProblem(schema: TSchema, value: unknown, root: unknown = value, prefix = ""): FieldError | undefined {
  if (Value.Check(schema, value)) return undefined;
  const error = Value.Errors(schema, value).First();
  if (error === undefined) return undefined;
  const pointer = prefix + error.path;
  const at = pointerToField(pointer, root);
  if (error.type === ValueErrorType.Union) {
    const members = discriminated(error.schema);
    if (members) return memberProblem(members, error.value, root, pointer, at);
  }
  return new FieldError(at, words(error));
}

/**
 * A list where the schema wants a mapping, or a mapping where it wants a list, found before
 * defaults are filled: TypeBox's Value.Default merges any object value into an object default,
 * whatever their kinds, so `keys: {team-a: {…}}` became `[]` (no keys: client auth silently off)
 * and `models: []` became `{}`, and the check after it passed.
 */
export function kindProblem(schema: TSchema, value: unknown, root: unknown = value, pointer = ""): FieldError | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const list = Array.isArray(value);
  const at = () => pointerToField(pointer, root);
  const child = (key: string | number) => `${pointer}/${String(key).replaceAll("~", "~0").replaceAll("/", "~1")}`;
  switch (schema[Kind]) {
    case "Array": {
      if (!list) return new FieldError(at(), "expected a list");
      const items = schema.items as TSchema;
      for (const [i, item] of (value as unknown[]).entries()) {
        const problem = kindProblem(items, item, root, child(i));
        if (problem) return problem;
      }
      return undefined;
    }
    case "Object":
    case "Record": {
      if (list) return new FieldError(at(), "expected a mapping (key: value)");
      for (const [key, item] of Object.entries(value)) {
        const itemSchema = schema[Kind] === "Object" ? (schema.properties as Record<string, TSchema>)[key] : (Object.values(schema.patternProperties ?? {})[0] as TSchema | undefined);
        const problem = itemSchema && kindProblem(itemSchema, item, root, child(key));
        if (problem) return problem;
      }
      return undefined;
    }
    case "Union": {
      // The provider entries: each a mapping told apart by its `type`; the one it names is checked.
      const members = discriminated(schema);
      if (!members) return undefined;
      if (list) return new FieldError(at(), "expected a mapping (key: value)");
      const member = members.find((m) => m.properties.type!.const === (value as Record<string, unknown>).type);
      return member && kindProblem(member, value, root, pointer);
    }
    default:
      return undefined;
  }
}

type Member = TSchema & { properties: Record<string, TSchema> };

/** Union members that are objects told apart by a literal `type` (the provider entries). */
function discriminated(schema: TSchema): Member[] | undefined {
  const members = (schema.anyOf ?? []) as TSchema[];
  const all = members.every((m) => m[Kind] === "Object" && m.properties?.type?.const !== undefined);
  return members.length > 0 && all ? (members as Member[]) : undefined;
}

/** Checks an entry against the member its `type` names, so the complaint is about its own keys. */
function memberProblem(members: Member[], value: unknown, root: unknown, pointer: string, at: string): FieldError {
  const types = members.map((m) => String(m.properties.type!.const));
  if (value === null || typeof value !== "object" || Array.isArray(value)) return new FieldError(at, "expected a mapping (key: value)");
  const type = (value as Record<string, unknown>).type;
  const typeField = `${at}.type`;
  if (type === undefined) return new FieldError(typeField, `required: one of ${types.join(", ")}`);
  const member = members.find((m) => m.properties.type!.const === type);
  if (member === undefined) return new FieldError(typeField, `expected one of ${types.join(", ")}, got ${JSON.stringify(type)}`);
  Value.Default(member, value);
  const problem = firstProblem(member, value, root, pointer)!;
  // A key another type takes (base_url on a mock) is misplaced rather than misspelt.
  const key = problem.field.slice(at.length + 1);
  const other = members.find((m) => m !== member && key in m.properties);
  if (problem.problem.startsWith("unknown key") && other) return new FieldError(problem.field, `does not apply to type ${String(type)}`);
  return problem;
}

function words(error: ValueError): string {
  const s = error.schema;
  switch (error.type) {
    case ValueErrorType.ObjectAdditionalProperties:
      return unknownKey(error);
    case ValueErrorType.ObjectRequiredProperty:
      return "required";
  }
  if (error.value === null) return "is empty: give it a value or leave the key out";
  // A number or boolean that would fit as text (`id: 123`) is told so before the field's own
  // wording, which it seemed to meet ("letters and digits"). Not converted: YAML keeps no text of
  // a number (007 → 7, 1.10 → 1.1), and an id or model name is matched and recorded as written,
  // so the file must write it as text. One that would not fit quoted either (`timeout: 30`) gets
  // the field's wording, which says what is missing.
  if (typeof error.value === "number" || typeof error.value === "boolean") {
    if (s[Kind] === "String" && Value.Check(s, String(error.value))) return notText(error.value);
  }
  if (typeof s.errorMessage === "string") return s.errorMessage;
  switch (error.type) {
    case ValueErrorType.String:
      return "expected a string";
    case ValueErrorType.StringMinLength:
      return "must not be empty";
    case ValueErrorType.Integer:
    case ValueErrorType.Number:
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.NumberMaximum:
      return numberWords(s);
    case ValueErrorType.Boolean:
      return "expected true or false";
    case ValueErrorType.Array:
      return "expected a list";
    case ValueErrorType.ArrayMinItems:
      return `expected at least ${s.minItems} item${s.minItems === 1 ? "" : "s"}`;
    case ValueErrorType.Object:
      return "expected a mapping (key: value)";
    case ValueErrorType.Literal:
      return `expected ${JSON.stringify(s.const)}`;
    case ValueErrorType.Union: {
      const literals = ((s.anyOf ?? []) as TSchema[]).map((m) => m.const).filter((c) => c !== undefined);
      return literals.length ? `expected one of ${literals.join(", ")}, got ${JSON.stringify(error.value)}` : error.message;
    }
    default:
      return error.message;
  }
}

/**
 * No quoted value is suggested: YAML keeps no text of a number (`007` and `7.0` both read 7), so
 * the text the file meant is only in the file.
 */
function notText(value: number | boolean): string {
  return `expected text, but YAML reads ${String(value)} as a ${typeof value === "number" ? "number" : "boolean"}: put it in quotes, exactly as you mean it`;
}

function numberWords(s: TSchema): string {
  const kind = s[Kind] === "Integer" ? "a whole number" : "a number";
  const { minimum, maximum } = s as { minimum?: number; maximum?: number };
  if (minimum !== undefined && maximum !== undefined) return `expected ${kind} from ${minimum} to ${maximum}`;
  return minimum !== undefined ? `expected ${kind} of ${minimum} or more` : `expected ${kind}`;
}

/** Typos must not be ignored: name the key, and the nearest known one if it is close. */
function unknownKey(error: ValueError): string {
  const key = error.path.slice(error.path.lastIndexOf("/") + 1).replaceAll("~1", "/").replaceAll("~0", "~");
  const known = Object.keys((error.schema as Member).properties ?? {});
  const fileKey = fileKeyForEnv(key);
  if (fileKey !== undefined) return `unknown key: ${key} is the environment variable; in the file it is ${fileKey}`;
  // `1: x`, often a list item without its `- `: no setting is named by a number.
  if (/^-?\d+(\.\d+)?$/.test(key)) return `unknown key: ${key} is a number, and no setting here is named by one (${known.length <= 12 ? `expected one of ${known.join(", ")}` : "chatgate.example.yaml lists every key"})`;
  const near = known
    .map((name) => ({ name, distance: editDistance(key.toLowerCase(), name) }))
    .filter((c) => c.distance <= Math.max(1, Math.floor(c.name.length / 3)))
    .sort((a, b) => a.distance - b.distance)[0];
  if (near) return `unknown key (did you mean ${near.name}?)`;
  return known.length <= 12 ? `unknown key (expected one of ${known.join(", ")})` : "unknown key (chatgate.example.yaml lists every key)";
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length]!;
}
