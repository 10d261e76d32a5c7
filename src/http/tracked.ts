import type { GatewayError } from "../errors.ts";
import type { OpenStream } from "../gateway/gateway.ts";
import type { Served } from "../gateway/run.ts";
import { SSE_HEADERS, type OnEnd } from "./sse.ts";

type Headers = Record<string, unknown>;

/**
 * Says who served a response: the provider, the upstream model and how many attempts it took (and
 * what `drop_params` dropped). On every answer — JSON, stream or error — once routing has run.
 */
export function servedHeaders(headers: Headers, served: Served | undefined, dropped?: readonly string[]): void {
  if (served === undefined) return;
  if (served.provider !== "") {
    headers["x-chatgate-provider"] = served.provider;
    headers["x-chatgate-model"] = served.model;
  }
  headers["x-chatgate-attempts"] = String(served.attempts);
  if (dropped !== undefined && dropped.length > 0) headers["x-chatgate-dropped-params"] = dropped.join(", ");
}

/**
 * Opens a stream and answers it as Server-Sent Events: `body` shapes the committed stream into the
 * response body, and its end writes the request's finish record (the gateway counts it in flight
 * until then). The SSE headers are set only once the stream has committed, so an error before it
 * keeps its JSON type.
 */
export async function streamAnswer<T>(set: { headers: Headers }, open: () => Promise<OpenStream>, body: (open: OpenStream, onEnd: OnEnd) => T): Promise<T> {
  const opened = await open();
  Object.assign(set.headers, SSE_HEADERS);
  servedHeaders(set.headers, opened.served, opened.dropped);
  return body(opened, (outcome, error?: GatewayError) => opened.end(outcome, error));
}
