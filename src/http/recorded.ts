import { Elysia, type AnyElysia } from "elysia";
import type { Finishes } from "../gateway/finish.ts";
import { answeredRecord, type UpstreamAsked } from "../gateway/run.ts";
import { keyIdOf } from "./guard.ts";
import { requestPath } from "./on-error.ts";
import { requestIdOf } from "./request-id.ts";

/** When the route took the request (the gateway's clock), on `set` as the guard keeps its key. */
const STARTED = Symbol("chatgate.started");
/** The upstream a route asked (count_tokens to an Anthropic target), for its record. */
const ASKED = Symbol("chatgate.asked");

interface TimedSet {
  headers: Record<string, unknown>;
  status?: number | string;
  [STARTED]?: number;
  [ASKED]?: UpstreamAsked;
}

/** Tells the record of this answer which upstream the route asked, and how that call ended. */
export function answeredBy(set: { headers: Record<string, unknown> }, asked: UpstreamAsked): void {
  (set as TimedSet)[ASKED] = asked;
}

/**
 * Gives every answer of the routes that write no finish record of their own (/, /health, /status,
 * /v1/models, /metrics, /v1/usage, the docs) its one record, as the model routes and errors have
 * theirs: `recorded(plugin)` mounts `plugin` with two hooks of its own, so those routes alone run
 * them. Not a global hook: the chat, messages and embeddings routes, which record themselves, pay
 * nothing for it.
 *
 * An error answer is recorded where it becomes a response (`onError`): here it is left alone.
 * Written as the answer is handed to Bun (Elysia's mapResponse, which changes nothing), not after
 * it (afterResponse): that runs on a later turn of the event loop, and a SIGTERM right after the
 * answer exited before it, losing the record.
 */
export function recorded(finishes: Finishes, now: () => number): (plugin: AnyElysia) => AnyElysia {
  return (plugin) =>
    new Elysia()
      .onTransform(({ set }) => {
        (set as TimedSet)[STARTED] = now();
      })
      .mapResponse(({ request, set, error, responseValue }: { request: Request; set: TimedSet; error?: unknown; responseValue?: unknown }) => {
        if (error !== undefined || !finishes.active) return;
        const status = responseValue instanceof Response ? responseValue.status : typeof set.status === "number" ? set.status : 200;
        const durationMs = set[STARTED] === undefined ? 0 : now() - set[STARTED];
        finishes.emit(answeredRecord(requestPath(request.url), status, requestIdOf(set) ?? null, keyIdOf(set), durationMs, set[ASKED]));
      })
      .use(plugin);
}
