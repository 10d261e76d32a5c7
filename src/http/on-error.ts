import { ValueErrorType } from "@sinclair/typebox/errors";
import { Elysia, ParseError, ValidationError } from "elysia";
import { GatewayError, errorBody, errorHeaders, invalidRequest, notFound, toGatewayError } from "../errors.ts";
import type { Finishes } from "../gateway/finish.ts";
import { answeredRecord, isRecorded, refusedRecord, type UpstreamAsked } from "../gateway/run.ts";
import type { Stats } from "../obs/stats.ts";
import { anthropicErrorBody, anthropicStatus, speaksAnthropic } from "../messages/errors.ts";
import { chosenMemberError } from "../chosen-member-error.ts";
import { paramName } from "../param-name.ts";
import { keyIdOf } from "./guard.ts";
import { ANTHROPIC_REQUEST_ID, REQUEST_ID, requestIdFor, requestIdOf } from "./request-id.ts";
import { servedHeaders } from "./tracked.ts";

export { paramName };

/** The path of a request URL, which Bun gives without scheme and host when the Host header is missing or unusable. */
export function requestPath(url: string): string {
  let start = 0;
  if (url.charCodeAt(0) !== 47) {
    const scheme = url.indexOf("://");
    start = scheme === -1 ? -1 : url.indexOf("/", scheme + 3);
    if (start === -1) return "/";
  }
  const query = url.indexOf("?", start);
  return url.substring(start, query === -1 ? undefined : query);
}

/** `anthropic`: the field named as Anthropic names it (`messages.0.content: Field required`). */
function fromValidation(error: ValidationError, anthropic: boolean): GatewayError {
  // A member failing as a whole (an empty array where a non-empty one is wanted) is better told
  // by the union's own text, which names the choices; a value inside it, by its own.
  const chosen = error.valueError && chosenMemberError(error.valueError);
  const first = chosen && chosen.path === error.valueError!.path ? error.valueError : chosen;
  const param = first ? paramName(first.path, error.value) : null;
  if (param === null) return invalidRequest("The request body must be a JSON object.");
  const missing = first!.type === ValueErrorType.ObjectRequiredProperty;
  // Every schema node has its `error` text (withErrorTexts); TypeBox's own words are the fallback.
  const text: unknown = first!.schema.error;
  const why = typeof text === "string" ? text : first!.message.replace(/^Expected/, "expected");
  if (anthropic) {
    const field = first!.path.slice(1).replaceAll("/", ".");
    return invalidRequest(`${field}: ${missing ? "Field required" : why}.`, field);
  }
  if (missing) return invalidRequest(`Missing required parameter: '${param}'.`, param);
  return invalidRequest(`Invalid value for '${param}': ${why}.`, param);
}

/** Anything thrown, as the error a client gets. */
export function toWireError(code: string | number, error: unknown, request: Request, anthropic = false): GatewayError {
  if (error instanceof GatewayError) return error;
  // Elysia wraps whatever a parse hook throws; ours throws the 400/413 it means.
  if (error instanceof ParseError && error.cause instanceof GatewayError) return error.cause;
  if (error instanceof ValidationError) return fromValidation(error, anthropic);
  switch (code) {
    case "NOT_FOUND":
      return notFound(`Invalid URL (${request.method} ${requestPath(request.url)}).`);
    case "PARSE":
      return invalidRequest("We could not parse the body of your request.");
    case "INVALID_COOKIE_SIGNATURE":
    case "INVALID_FILE_TYPE":
      return invalidRequest("The request is malformed.");
  }
  return toGatewayError(error);
}

/**
 * Headers set before the error that its response keeps: the rate limit's, and CORS's (a page must
 * be able to read a 401 or 429, not see an opaque CORS failure).
 */
const keptOnError = (key: string): boolean => key.startsWith("x-ratelimit-") || key.startsWith("access-control-") || key === "vary";

/** The routes whose every answer carries `x-chatgate-cache`. */
const CHAT_PATHS: ReadonlySet<string> = new Set(["/v1/chat/completions", "/chat", "/v1/messages", "/v1/responses"]);

/**
 * The one place where anything thrown becomes an error response: OpenAI's shape, or Anthropic's
 * on the routes of its API (`/v1/messages…`, and `/v1/models` asked with `anthropic-version`).
 * Headers already set on the request (rate-limit headers) are kept.
 */
export function onError(stats: Stats, finishes: Finishes) {
  return new Elysia({ name: "on-error" }).onError({ as: "global" }, ({ code, error, set, request }) => {
    const path = requestPath(request.url);
    const anthropic = speaksAnthropic(path, request.headers);
    const err = toWireError(code, error, request, anthropic);
    if (err.status >= 500 && !(error instanceof GatewayError)) console.error("chatgate: internal error:", error);
    // Anthropic's routes answer a 5xx with the status Anthropic sends its type with (503 overloaded → 529).
    const status = anthropic ? anthropicStatus(err) : err.status;
    stats.countError(status);
    // A request the gateway took has its record already; one refused before it gets one here.
    const id = requestIdOf(set) ?? requestIdFor(request.headers.get(REQUEST_ID));
    if (!isRecorded(error)) finishes.emit(refusedRecord(path, status, err.code ?? err.type, id, keyIdOf(set), askedOf(err)));
    const headers: Record<string, string> = { [REQUEST_ID]: id };
    if (anthropic) headers[ANTHROPIC_REQUEST_ID] = id;
    for (const [key, value] of Object.entries(set.headers)) if (typeof value === "string" && keptOnError(key)) headers[key] = value;
    servedHeaders(headers, err.served);
    // A chat request refused before the gateway took it (a key, a limit, a bad body): the cache took no part.
    if (err.served === undefined && CHAT_PATHS.has(path)) headers["x-chatgate-cache"] = "skip";
    const body = anthropic ? anthropicErrorBody(err, id) : errorBody(err);
    return new Response(JSON.stringify(body), { status, headers: { ...headers, ...errorHeaders(err) } });
  });
}

/** The upstream an error's route asked without a record of its own (count_tokens), from who served it. */
function askedOf(err: GatewayError): UpstreamAsked | undefined {
  const served = err.served;
  if (served === undefined || served.provider === "" || served.attempts === 0) return undefined;
  return { model: null, provider: served.provider, upstreamModel: served.model, status: err.upstreamStatus ?? err.status, reason: err.code ?? err.type };
}

/** A route as the router knows it: its method and path pattern (`/v1/models/:model`). */
export interface KnownRoute {
  method: string;
  path: string;
}

const methodNotAllowed = (method: string, path: string, methods: readonly string[]) =>
  new GatewayError({
    status: 405, type: "invalid_request_error",
    message: `Invalid method for URL (${method} ${path}): use ${methods.filter((m) => m !== "HEAD").join(" or ")}.`,
  });

/** Answers a request as an OpenAI-shaped error, with extra headers (`Allow`). */
function errorResponse(stats: Stats, finishes: Finishes, request: Request, path: string, id: string, err: GatewayError, headers: Record<string, string> = {}): Response {
  const anthropic = speaksAnthropic(path, request.headers);
  const status = anthropic ? anthropicStatus(err) : err.status;
  stats.countError(status);
  finishes.emit(refusedRecord(path, status, err.code ?? err.type, id));
  const body = anthropic ? anthropicErrorBody(err, id) : errorBody(err);
  const ids = anthropic ? { [REQUEST_ID]: id, [ANTHROPIC_REQUEST_ID]: id } : { [REQUEST_ID]: id };
  return new Response(JSON.stringify(body), { status, headers: { ...errorHeaders(err), ...headers, ...ids } });
}

/**
 * Bun's own router (`Bun.serve` `routes`, where Elysia registers every route) is the one parser of
 * the request path: this handler is its catch-all, so what it does not match is answered here and
 * never by Elysia's fallback router, which cuts the path out of the URL string at a fixed offset and
 * gets it wrong for short or missing Host headers (`Host: a` made `/docs/status` serve `/status`).
 * Unknown paths get 404; a known path with a method it does not take gets 405 with `Allow`; a known
 * path with a trailing slash (`/docs/`) is redirected to the path without it. None of these needs a
 * key: they say no more than the published OpenAPI document.
 */
export function unrouted(routes: () => readonly KnownRoute[], stats: Stats, finishes: Finishes) {
  let table: { pattern: RegExp; methods: string[] }[] | undefined;
  const build = () => {
    const byPath = new Map<string, string[]>();
    for (const { method, path } of routes()) {
      const methods = byPath.get(path) ?? [];
      if (!methods.includes(method)) methods.push(method);
      if (method === "GET" && !methods.includes("HEAD")) methods.push("HEAD"); // Bun answers HEAD for GET routes
      byPath.set(path, methods);
    }
    return [...byPath].map(([path, methods]) => ({
      pattern: new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/:[^/]+/g, "[^/]+")}$`),
      methods,
    }));
  };
  const allowed = (path: string) => (table ??= build()).find((route) => route.pattern.test(path))?.methods;
  return (request: Request): Response => {
    stats.total++;
    const path = requestPath(request.url);
    const id = requestIdFor(request.headers.get(REQUEST_ID));
    const methods = allowed(path);
    // A method the path takes means Bun's router did not take the path as written (say, encoded):
    // that is a 404 like any path we do not serve.
    if (methods !== undefined && !methods.includes(request.method)) {
      return errorResponse(stats, finishes, request, path, id, methodNotAllowed(request.method, path, methods), { allow: methods.join(", ") });
    }
    if (path.length > 1 && path.endsWith("/") && !path.endsWith("//") && allowed(path.slice(0, -1)) !== undefined) {
      const query = request.url.indexOf("?");
      finishes.emit(answeredRecord(path, 308, id, null, 0));
      return new Response(null, { status: 308, headers: { location: path.slice(0, -1) + (query === -1 ? "" : request.url.slice(query)), [REQUEST_ID]: id } });
    }
    return errorResponse(stats, finishes, request, path, id, notFound(`Invalid URL (${request.method} ${path}).`));
  };
}
