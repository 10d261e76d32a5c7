// The response cache's key: a digest of the request in a canonical form, so two requests that ask
// for the same answer get the same key however their JSON was written. Pure: values in, values out.

/**
 * Top-level request fields that never change the answer, left out of the key: whether it streams
 * (a stored answer serves both ways), its usage chunk (`stream_options`), and who the end user is
 * (`user`, and `safety_identifier`, its successor). Everything else is in the key — model,
 * messages, temperature, seed, n, tools, … — so a field chatgate does not know yet can only cost a
 * hit, never serve a wrong answer.
 */
export const FIELDS_NOT_IN_KEY: ReadonlySet<string> = new Set(["stream", "stream_options", "user", "safety_identifier"]);

/**
 * The request as one string: object keys sorted at every depth, the fields above left out, and
 * top-level nulls left out too (`"temperature": null` asks for the default, as leaving it out does).
 * Array order is kept: the order of messages is the conversation.
 */
export function canonicalRequest(body: Readonly<Record<string, unknown>>): string {
  let out = "{";
  for (const name of Object.keys(body).sort()) {
    const value = body[name];
    if (value === null || value === undefined || FIELDS_NOT_IN_KEY.has(name)) continue;
    if (out.length > 1) out += ",";
    out += `${JSON.stringify(name)}:${canonicalJson(value)}`;
  }
  return `${out}}`;
}

/** JSON with object keys sorted; `undefined` members left out, as JSON.stringify leaves them. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += (i > 0 ? "," : "") + (value[i] === undefined ? "null" : canonicalJson(value[i]));
    return `${out}]`;
  }
  const object = value as Record<string, unknown>;
  let out = "{";
  for (const name of Object.keys(object).sort()) {
    if (object[name] === undefined) continue;
    if (out.length > 1) out += ",";
    out += `${JSON.stringify(name)}:${canonicalJson(object[name])}`;
  }
  return `${out}}`;
}

/** SHA-256 of the canonical request, in hex: the key an answer is stored under. */
export function cacheKey(body: Readonly<Record<string, unknown>>): string {
  return Bun.CryptoHasher.hash("sha256", canonicalRequest(body), "hex");
}
