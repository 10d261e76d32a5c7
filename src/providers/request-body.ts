/**
 * A client's request serialised again with some fields replaced (the model a target is asked
 * for): every other field as the client wrote it. A parse rounds what a double cannot hold — a
 * seed above 2^53, an id of 19 digits, 1e400 (which becomes null) — so when the bytes hold such a
 * number, they are parsed again keeping each changed number's source text. The common request
 * (no such number) pays one regular expression test.
 */
export function serialisedWith(call: { body: object; raw: string | Uint8Array }, patch: object): string {
  const raw = typeof call.raw === "string" ? call.raw : utf8.decode(call.raw);
  const body = MAY_ROUND.test(raw) ? (JSON.parse(raw, keepNumberSource) as object) : call.body;
  return JSON.stringify({ ...body, ...patch });
}

const utf8 = new TextDecoder();
/** A number of 16 digits or more, or a three-digit exponent: the only ones a double may not hold as written. */
const MAY_ROUND = /\d{16}|[eE][+-]?\d{3}/;

/** JSON.rawJSON (TC39's JSON.parse source text access, in JavaScriptCore): a value JSON.stringify writes as given. */
const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

function keepNumberSource(_key: string, value: unknown, context?: { source?: string }): unknown {
  const source = context?.source;
  return typeof value === "number" && source !== undefined && String(value) !== source ? rawJSON(source) : value;
}
