import { badGateway, clientClosed, upstreamTimeout, type GatewayError } from "../../errors.ts";
import type { CallTimer } from "./timer.ts";

/** A stream from Anthropic that ended without its end (`message_stop`). */
export const truncated = (provider: string, detail: string): GatewayError =>
  badGateway(`Provider '${provider}' stream ${detail}.`, "upstream_stream_truncated");

/** A failed read: our timer, the client leaving, or the upstream cutting the stream. */
export function readFailure(err: unknown, events: number, options: { provider: string; timer: CallTimer; client: AbortSignal }): GatewayError {
  if (options.timer.stoppedWith !== undefined) return options.timer.stoppedWith;
  if (options.timer.expired !== undefined) return upstreamTimeout(options.provider, options.timer.expired);
  if (options.client.aborted) return clientClosed();
  const name = err instanceof Error ? err.name : "network error";
  return truncated(options.provider, `was cut after ${events} events (${name})`);
}
