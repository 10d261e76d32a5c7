import { Elysia, ParseError, ValidationError } from "elysia";
import { GatewayError, errorBody, errorHeaders, invalidRequest, notFound, toGatewayError } from "../errors.ts";
import type { Stats } from "../obs/stats.ts";

/** `/messages/0/role` → `messages[0].role`, the way OpenAI names a parameter. */
export function paramName(pointer: string): string | null {
  const parts = pointer.split("/").slice(1);
  if (parts.length === 0 || (parts.length === 1 && parts[0] === "")) return null;
  let name = "";
  for (const raw of parts) {
    const part = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    name += /^\d+$/.test(part) ? `[${part}]` : name === "" ? part : `.${part}`;
  }
  return name;
}

function fromValidation(error: ValidationError): GatewayError {
  const first = error.valueError;
  const param = first ? paramName(first.path) : null;
  if (param === null) return invalidRequest("The request body must be a JSON object.");
  if (first?.message === "Expected required property") return invalidRequest(`Missing required parameter: '${param}'.`, param);
  const why = typeof error.customError === "string" ? error.customError : (first?.message ?? "is invalid").replace(/^Expected/, "expected");
  return invalidRequest(`Invalid value for '${param}': ${why}.`, param);
}

/** Anything thrown, as the error a client gets. */
export function toWireError(code: string | number, error: unknown, request: Request): GatewayError {
  if (error instanceof GatewayError) return error;
  // Elysia wraps whatever a parse hook throws; ours throws the 400/413 it means.
  if (error instanceof ParseError && error.cause instanceof GatewayError) return error.cause;
  if (error instanceof ValidationError) return fromValidation(error);
  switch (code) {
    case "NOT_FOUND": {
      const url = new URL(request.url);
      return notFound(`Invalid URL (${request.method} ${url.pathname}).`);
    }
    case "PARSE":
      return invalidRequest("We could not parse the body of your request.");
    case "INVALID_COOKIE_SIGNATURE":
    case "INVALID_FILE_TYPE":
      return invalidRequest("The request is malformed.");
  }
  return toGatewayError(error);
}

/**
 * The one place where anything thrown becomes an OpenAI error response. Headers already set on
 * the request (rate-limit headers) are kept.
 */
export function onError(stats: Stats) {
  return new Elysia({ name: "on-error" }).onError({ as: "global" }, ({ code, error, set, request }) => {
    const err = toWireError(code, error, request);
    if (err.status >= 500 && !(error instanceof GatewayError)) console.error("chatgate: internal error:", error);
    stats.countError(err.status);
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(set.headers)) if (typeof value === "string" && key.startsWith("x-ratelimit-")) headers[key] = value;
    return new Response(JSON.stringify(errorBody(err)), { status: err.status, headers: { ...headers, ...errorHeaders(err) } });
  });
}
