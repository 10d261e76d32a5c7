/**
 * `/messages/0/role` → `messages[0].role`, the way OpenAI names a parameter; null for the body
 * itself. With the body, a key of digits in an object is named as a key (`logit_bias.50256`), not
 * as an index.
 */
export function paramName(pointer: string, body?: unknown): string | null {
  const parts = pointer.split("/").slice(1);
  if (parts.length === 0 || (parts.length === 1 && parts[0] === "")) return null;
  let name = "";
  let at: unknown = body;
  for (const raw of parts) {
    const part = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    const index = /^\d+$/.test(part) && (body === undefined || Array.isArray(at));
    name += index ? `[${part}]` : name === "" ? part : `.${part}`;
    at = at !== null && typeof at === "object" ? (at as Record<string, unknown>)[part] : undefined;
  }
  return name;
}
