import { Elysia } from "elysia";

export const REQUEST_ID = "x-request-id";
/**
 * Where Anthropic's API puts a response's id, and the only place its SDKs read one
 * (`message._request_id`, `APIError.requestID`): Anthropic-shaped answers carry the same id here too.
 */
export const ANTHROPIC_REQUEST_ID = "request-id";

/** Gives an answer in Anthropic's shape its `request-id` (the request's id). */
export function anthropicRequestId(set: { headers: Record<string, unknown> }): void {
  set.headers[ANTHROPIC_REQUEST_ID] = set.headers[REQUEST_ID];
}

/** What a client's own id may be: the characters log and trace systems take as they are, and not too long. */
const ACCEPTED = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's `x-request-id` when it is acceptable, else a fresh one: a bad id is replaced, never refused. */
export function requestIdFor(header: string | null): string {
  return header !== null && ACCEPTED.test(header) ? header : crypto.randomUUID();
}

/**
 * Gives every request its id before anything else runs: on the response's headers (`set`), where
 * the routes, the error mapping and the streams read it, so every answer carries the same one.
 */
export function requestIds() {
  return new Elysia({ name: "request-id" }).onRequest(({ request, set }) => {
    set.headers[REQUEST_ID] = requestIdFor(request.headers.get(REQUEST_ID));
  });
}

/** The id `requestIds` gave this request. */
export const requestIdOf = (set: { headers: Record<string, unknown> }): string | undefined => set.headers[REQUEST_ID] as string | undefined;
