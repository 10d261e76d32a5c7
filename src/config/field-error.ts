/**
 * A problem with one value of the config file, named the way the operator reads the file:
 * `providers[1].base_url`, `models["gpt-4.1"].targets[0].weight`. The loader prefixes the file's
 * path and turns it into the start-up refusal.
 */
export class FieldError extends Error {
  constructor(readonly field: string, readonly problem: string) {
    super(field ? `${field}: ${problem}` : problem);
    this.name = "FieldError";
  }
}

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Appends a key or list index; keys with dots or other punctuation (`gpt-4.1`) are quoted. */
export function fieldPath(base: string, key: string | number): string {
  if (typeof key === "number") return `${base}[${key}]`;
  const part = PLAIN_KEY.test(key) ? key : `[${JSON.stringify(key)}]`;
  return base === "" || part.startsWith("[") ? `${base}${part}` : `${base}.${part}`;
}

/** A JSON pointer (`/providers/1/base_url`, as TypeBox reports) in the file's notation. */
export function pointerToField(pointer: string, root: unknown): string {
  let field = "";
  let node: unknown = root;
  for (const raw of pointer.split("/").slice(1)) {
    const segment = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    const index = Array.isArray(node) && /^\d+$/.test(segment) ? Number(segment) : undefined;
    field = fieldPath(field, index ?? segment);
    node = node !== null && typeof node === "object" ? (node as Record<string, unknown>)[segment] : undefined;
  }
  return field;
}
