import type { Gateway } from "../gateway/gateway.ts";
import type { RequestTrace } from "../obs/trace-context.ts";

/**
 * The request's trace while tracing is on: it continues the caller's `traceparent` when valid.
 * Off: undefined, and the headers are not even read; a caller's `traceparent` is then not passed on.
 */
export function traceOf(gateway: Gateway, request: Request): RequestTrace | undefined {
  return gateway.traces?.(request.headers.get("traceparent"), request.headers.get("tracestate"));
}
