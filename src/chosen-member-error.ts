import { Kind, type TSchema } from "@sinclair/typebox";
import { ValueErrorType, type ValueError } from "@sinclair/typebox/errors";

/** The JSON kind of a value, as a schema kind accepts it. */
type JsonKind = "null" | "array" | "object" | "string" | "number" | "boolean";

function kindOf(value: unknown): JsonKind | undefined {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  const type = typeof value;
  return type === "object" || type === "string" || type === "number" || type === "boolean" ? type : undefined;
}

/** Whether a schema could take a value of this kind at all (a nested union: any of its members). */
function accepts(schema: TSchema, kind: JsonKind): boolean {
  switch (schema[Kind]) {
    case "Union":
      return (schema.anyOf as TSchema[]).some((member) => accepts(member, kind));
    case "Literal":
      return kindOf(schema.const) === kind;
    case "Integer":
      return kind === "number";
    case "Object":
    case "Record":
      return kind === "object";
    case "Array":
    case "String":
    case "Number":
    case "Boolean":
    case "Null":
      return schema[Kind].toLowerCase() === kind;
    default:
      return true;
  }
}

/** Whether an object has every literal property of an object schema (its `type`, a message's `role`). */
function matchesLiterals(member: TSchema, value: Record<string, unknown>): boolean {
  if (member[Kind] !== "Object") return true;
  return Object.entries(member.properties as Record<string, TSchema>).every(([key, property]) => property.const === undefined || value[key] === property.const);
}

/** The one member a value's shape selects: by its kind, then among objects by their literal properties. */
function chosenMember(members: readonly TSchema[], value: unknown): number | undefined {
  const kind = kindOf(value);
  if (kind === undefined) return undefined;
  let chosen = members.flatMap((member, i) => (accepts(member, kind) ? [i] : []));
  // Even a lone candidate: an object naming no member (a part of the wrong type) selects none.
  if (kind === "object") chosen = chosen.filter((i) => matchesLiterals(members[i]!, value as Record<string, unknown>));
  return chosen.length === 1 ? chosen[0] : undefined;
}

/**
 * The error to report for a request field: TypeBox reports a union-typed field that fails as one
 * error on the field itself (`messages[0].content`), whatever went wrong inside it. When the
 * value's shape selects one member (an array where the union is string | array of parts, an object
 * where it is object | null, an object whose `type` or `role` names a member), that member's own first error
 * is what OpenAI names (`messages[0].content[0].text`), so it is followed down, through nested
 * unions too. A caller with a text for the union may prefer it when the error is at the union's
 * own path (the member failed as a whole: an empty array where a non-empty one is wanted).
 */
export function chosenMemberError(error: ValueError): ValueError {
  let current = error;
  while (current.type === ValueErrorType.Union) {
    const i = chosenMember(current.schema.anyOf as TSchema[], current.value);
    const inner = i === undefined ? undefined : current.errors[i]?.First();
    if (inner === undefined) break;
    current = inner;
  }
  return current;
}
