import { GatewayError, clientClosed, invalidRequest, tooLarge } from "../errors.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The client's own bytes of a parsed body, kept on the body under a symbol (which JSON.stringify
 * and schema checks never see) so an OpenAI-compatible upstream gets them unchanged, without
 * encoding the text again. Not a WeakMap: a weak entry per request measured ~8 µs of GC work a
 * request on this stack.
 */
const RAW = Symbol("chatgate.rawBody");
type WithRaw = { [RAW]?: Uint8Array };

export function rawBody(body: object): string | Uint8Array {
  return (body as WithRaw)[RAW] ?? JSON.stringify(body);
}

/**
 * How deeply a body's arrays and objects may nest (the body itself is level 1). JSON.parse takes
 * any depth, but JSON.stringify and the Messages translators recurse: a body nested 100,000 deep
 * (a few hundred KB) overflowed the stack there and was a 500 or a 502 instead of a 400. Real
 * requests, tools' JSON schemas included, stay within a few dozen levels.
 */
const MAX_DEPTH = 128;

/** Whether `value` nests deeper than `levels`; recurses at most `levels` deep, so it cannot overflow. */
function nestsDeeper(value: unknown, levels: number): boolean {
  if (value === null || typeof value !== "object") return false;
  if (levels === 0) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (nestsDeeper(item, levels - 1)) return true;
    return false;
  }
  for (const key in value) if (nestsDeeper((value as Record<string, unknown>)[key], levels - 1)) return true;
  return false;
}

const NOT_JSON =
  "We could not parse the JSON body of your request. The API expects a JSON object; what was sent was not valid JSON.";

async function readAll(request: Request): Promise<Uint8Array> {
  try {
    return new Uint8Array(await request.arrayBuffer());
  } catch {
    throw unreadable(request);
  }
}

/**
 * Why a body could not be read: the client went away before sending all of it (its connection
 * closed, or was closed for idling) is a client abort, never answered; else a 400.
 */
const unreadable = (request: Request): GatewayError => (request.signal.aborted ? clientClosed() : invalidRequest("The request body could not be read."));

/** A body of unknown length (chunked) is read only up to the limit, never whole. */
async function readLimited(request: Request, maxBytes: number): Promise<Uint8Array> {
  if (request.body === null) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const part of request.body) {
      total += part.byteLength;
      if (total > maxBytes) throw tooLarge(maxBytes);
      parts.push(part);
    }
  } catch (err) {
    throw err instanceof GatewayError ? err : unreadable(request);
  }
  return Buffer.concat(parts);
}

/**
 * Elysia `parse` hook for JSON routes: enforces the size limit (from Content-Length before reading,
 * and on the bytes read), rejects invalid UTF-8 and anything but a JSON object, whatever the
 * content type says. Each failure is a 400 or 413 that says what was wrong.
 */
export function jsonObjectParser(maxBytes: number) {
  return async function parseJsonObject({ request }: { request: Request }): Promise<object> {
    const bytes = await readBody(request, maxBytes);
    const value = jsonObject(bytes);
    (value as WithRaw)[RAW] = bytes;
    return value;
  };
}

const IDENTITY = /^\s*(identity)?\s*$/i;

/** A compressed body: read as it is, it was refused as "not valid UTF-8", which said nothing of why. */
const unsupportedEncoding = (encoding: string) =>
  new GatewayError({
    status: 415, type: "invalid_request_error", code: "unsupported_content_encoding", param: null,
    message: `Request bodies with Content-Encoding '${encoding.slice(0, 64)}' are not supported; send the body uncompressed.`,
  });

/** The request's body bytes, refused with a 413 past `maxBytes` (from Content-Length before reading). */
export async function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const encoding = request.headers.get("content-encoding");
  if (encoding !== null && !IDENTITY.test(encoding)) throw unsupportedEncoding(encoding);
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  const bytes = declared !== null ? await readAll(request) : await readLimited(request, maxBytes);
  if (bytes.byteLength > maxBytes) throw tooLarge(maxBytes);
  return bytes;
}

/** Body bytes as a JSON object, or the 400 that says what they are instead. */
export function jsonObject(bytes: Uint8Array): object {
  if (bytes.byteLength === 0) throw invalidRequest("The request body is empty; expected a JSON object.");
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw invalidRequest("The request body is not valid UTF-8.");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidRequest(NOT_JSON);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw invalidRequest("The request body must be a JSON object.");
  }
  for (const key in value) {
    if (nestsDeeper((value as Record<string, unknown>)[key], MAX_DEPTH - 1)) {
      throw invalidRequest(`Invalid value for '${key}': arrays and objects nested more than ${MAX_DEPTH} levels deep.`, key);
    }
  }
  return value;
}
