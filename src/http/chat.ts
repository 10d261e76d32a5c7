import { Elysia } from "elysia";
import { cacheModeOf } from "../cache/cache-control.ts";
import type { Gateway } from "../gateway/gateway.ts";
import { ChatCompletion, ChatRequest } from "../schema.ts";
import { errorResponse, jsonContent, routedErrors } from "./openapi-doc.ts";
import { jsonObjectParser, rawBody } from "./body.ts";
import { requireMessageContent } from "./message-content.ts";
import { clientOf } from "./guard.ts";
import { requestIdOf } from "./request-id.ts";
import { sseResponseBody } from "./sse.ts";
import { traceOf } from "./trace-of.ts";
import { servedHeaders, type Answering } from "./tracked.ts";

/** `POST /v1/chat/completions`: OpenAI's chat API, JSON or SSE, the upstream's bytes passed on. */
export function chatRoutes(gateway: Gateway, answering: Answering, maxBodyBytes: number) {
  return new Elysia({ name: "chat" }).post(
    "/v1/chat/completions",
    async ({ body, request, set }) => {
      requireMessageContent(body.messages);
      const call = { body, raw: rawBody(body), requestId: requestIdOf(set), trace: traceOf(gateway, request) };
      const client = clientOf(set);
      const cacheMode = cacheModeOf(request.headers.get("cache-control"));
      if (body.stream !== true) {
        const answer = await answering.json(request, () => gateway.complete(call, request.signal, "/v1/chat/completions", client, cacheMode));
        // The upstream's own JSON text, as a string: Elysia sends it with `set` as is, where a
        // Response would be rebuilt to merge the rate-limit headers into it.
        set.headers["content-type"] = "application/json";
        servedHeaders(set.headers, answer.served, answer.dropped);
        return answer.json;
      }
      return answering.stream(set, request, () => gateway.stream(call, request.signal, "/v1/chat/completions", client, cacheMode), sseResponseBody);
    },
    {
      // The content type only labels the OpenAPI document; our parser answers every request.
      parse: [jsonObjectParser(maxBodyBytes), "application/json"],
      body: ChatRequest,
      detail: {
        summary: "Create a chat completion",
        description:
          "OpenAI's chat completions API. With `stream: true` the answer is Server-Sent Events: one `data: <chat.completion.chunk>` event per chunk, then `data: [DONE]`; a failure after the first event is one `data: {\"error\": …}` event and no `[DONE]`.",
        tags: ["OpenAI"],
        responses: {
          200: {
            description: "A chat completion, or an event stream of chunks when `stream` is true",
            content: { ...jsonContent(ChatCompletion), "text/event-stream": { schema: { type: "string" } } },
          },
          400: errorResponse("Invalid request: `param` names the field at fault"),
          ...routedErrors(),
        },
      },
    },
  );
}
