import { Elysia } from "elysia";
import type { Gateway } from "../gateway/gateway.ts";
import { hookNotFound, type Channels } from "../hooks/channels.ts";
import { HookRequest, HookResponse, MAX_HOOK_BODY, hookMessage } from "../hooks/hook-body.ts";
import { SIGNATURE_HEADER, TIMESTAMP_HEADER } from "../hooks/signature.ts";
import { jsonObject, readBody } from "./body.ts";
import { clientOf } from "./guard.ts";
import { errorResponse, jsonContent } from "./openapi-doc.ts";
import { requestIdOf } from "./request-id.ts";
import { traceOf } from "./trace-of.ts";
import { servedHeaders, type Answering } from "./tracked.ts";

export interface HooksRouteOptions {
  /** The running config's hooks; undefined while none is configured (then every hook is a 404 and nothing else runs). */
  channels: () => Channels | undefined;
  /** The guard's key and limit check (guard.ts `admission`), for hooks without a secret. */
  admission: (request: Request, set: { headers: Record<string, unknown> }) => void | Promise<void>;
  answering: Answering;
  /** Reads the request's trace context while tracing is on, as the API routes do. */
  gateway: Gateway;
  maxBodyBytes: number;
}

const DESCRIPTION = `A message from a chat channel that delivers by webhook: \`{"text", "from", "action"?}\`, answered by the hook's model with the sender's last exchanges as context. \`action: "reset"\` forgets the sender's conversation. A hook with a secret takes no client key but a signed body: \`${SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of the raw body>\` and \`${TIMESTAMP_HEADER}: <unix seconds>\` within 5 minutes; a signed body is taken once. A hook without a secret takes a client key, as /v1/chat/completions does; its conversations are the key's own (another key with the same \`from\` has another).`;

/**
 * POST /hooks/:name. Mounted before the guard: a signed hook takes no client key. The order of the
 * checks: an unknown hook is a 404 before any talk of keys; then the client key (no secret) or the
 * signature (read with the raw body it signs); then the hook's rpm; then the body's fields.
 */
export function hooksRoute(options: HooksRouteOptions) {
  const { channels, admission, answering, gateway } = options;
  const maxBytes = Math.min(options.maxBodyBytes, MAX_HOOK_BODY);
  return new Elysia({ name: "hooks" }).post(
    "/hooks/:name",
    async ({ params, request, set }) => {
      const channel = channels()?.get(params.name);
      if (channel === undefined) throw hookNotFound(params.name);
      if (!channel.signed) await admission(request, set);
      const bytes = await readBody(request, maxBytes);
      const release = channel.authenticate(bytes, request.headers);
      try {
        await channel.admit(set.headers);
        const message = hookMessage(jsonObject(bytes) as Record<string, unknown>);
        const context = { requestId: requestIdOf(set), signal: request.signal, client: clientOf(set), trace: traceOf(gateway, request) };
        const { response, served } = await answering.json(request, () => channel.answer(message, context));
        servedHeaders(set.headers, served);
        return response;
      } catch (err) {
        // A failed delivery may be sent again: its signature is not a replay then.
        release();
        throw err;
      }
    },
    {
      // The raw bytes are read here: the signature is over them, exactly as sent.
      parse: "none",
      detail: {
        summary: "Webhook channel: a message in, the model's reply out",
        description: DESCRIPTION,
        tags: ["chatgate"],
        // Either a signed body (no key) or a client key, by the hook's config.
        security: [{}, { bearer: [] }],
        requestBody: { required: true, content: jsonContent(HookRequest) },
        responses: {
          200: { description: "The reply, and how many exchanges of the sender's conversation are remembered", content: jsonContent(HookResponse) },
          400: errorResponse("A body that is not the message shape: `param` names the field"),
          401: errorResponse("A missing, wrong, expired or replayed signature (`code` says which), or a missing or wrong client key"),
          404: errorResponse("No hook of that name (`hook_not_found`)"),
          413: errorResponse("A body over the hook's size limit"),
          429: errorResponse("The hook's rpm, the client key's limit, too many messages of one sender waiting, or too many signed requests remembered at once"),
          502: errorResponse("The hook's model failed upstream, as on /v1/chat/completions"),
          503: errorResponse("No target of the hook's model can be asked now (cooling down), or chatgate is shutting down"),
          504: errorResponse("No answer from the hook's model in time"),
        },
      },
    },
  );
}
