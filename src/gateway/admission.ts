// Who a request comes from and what it may do: the route its model resolves to for that client,
// and its key's admission. Run before any upstream call.
import { modelNotFound } from "../errors.ts";
import type { ChatCall, EmbeddingCall } from "../providers/provider.ts";
import type { FinishRecord } from "./finish.ts";
import type { Route } from "./route-table.ts";
import type { Router } from "./router.ts";
import type { Run } from "./run.ts";

/**
 * Who a request comes from (a client key, src/keys/client-key.ts): its id for the finish record,
 * the models it may use, and its limits' admission. No key (client auth off): null.
 */
export interface Client {
  readonly id: string;
  /** The model names it may use; undefined: any. Any other is a 404 `model_not_found`, as if it did not exist. */
  readonly models: ReadonlySet<string> | undefined;
  /**
   * Reserves what the request may use on `route` against the client's limits, before any upstream
   * call; throws the 429 when it does not fit. Returns what settles the reservation with the
   * request's finish record, and says what its budget was charged (USD; undefined without one).
   * Absent: nothing to reserve.
   */
  admit?(call: ChatCall | EmbeddingCall, route: Route): ((record: FinishRecord) => number | undefined) | Promise<(record: FinishRecord) => number | undefined>;
}

/**
 * The client key's admission (its tokens and spend reserved) for this request; what to settle when
 * it ends goes on the run. The memory store answers at once: then there is nothing to await, and
 * no extra turn of the event loop.
 */
export function admit(run: Run, client: Client | null, call: ChatCall | EmbeddingCall, route: Route): Promise<void> | undefined {
  if (client?.admit === undefined) return undefined;
  const settle = client.admit(call, route);
  if (!(settle instanceof Promise)) {
    run.settle = settle;
    return undefined;
  }
  return settle.then((value) => void (run.settle = value));
}

/**
 * The route for `model`, as the client may see it: a name outside the client's models is the same
 * 404 as a name nothing serves, before any upstream call or route lookup.
 */
export function resolveFor(router: Router, model: string, client: Client | null): Route {
  if (client?.models !== undefined && !client.models.has(model)) throw modelNotFound(model);
  return router.resolve(model);
}
