import type { Gateway } from "../gateway/gateway.ts";
import type { ChatCall, NativeRequest } from "../providers/provider.ts";
import type { ChatRequest } from "../schema.ts";
import { requestIdOf } from "./request-id.ts";
import { traceOf } from "./trace-of.ts";

/**
 * The gateway's call for a request another API's front end translated to chat completions: the
 * translation as its body (what the gateway reads), serialised only if a provider sends it; with
 * `native`, the client's own request, which a provider of that API sends as it is.
 */
export function translatedCall(gateway: Gateway, chat: ChatRequest, request: Request, set: { headers: Record<string, unknown> }, native?: NativeRequest): ChatCall {
  let raw: string | undefined;
  return {
    body: chat,
    get raw() {
      return (raw ??= JSON.stringify(chat));
    },
    requestId: requestIdOf(set),
    trace: traceOf(gateway, request),
    native,
    translated: true,
  };
}
