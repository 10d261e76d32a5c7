import { Elysia } from "elysia";
import type { Gateway } from "../gateway/gateway.ts";
import { ResponseItems } from "../responses/item-store.ts";
import { responsesBody } from "../responses/responses-stream.ts";
import { ResponseObject, ResponsesRequest } from "../responses/schema.ts";
import { responsesMessage, responsesParam, toChatRequest } from "../responses/to-chat.ts";
import { toResponse } from "../responses/to-response.ts";
import { jsonObjectParser } from "./body.ts";
import { clientOf } from "./guard.ts";
import { errorResponse, jsonContent, routedErrors } from "./openapi-doc.ts";
import { translatedCall } from "./translated-call.ts";
import { servedHeaders, type Answering } from "./tracked.ts";
import { GatewayError } from "../errors.ts";
import { sameRecord } from "../gateway/run.ts";

/**
 * An error about the translated request names the field the client sent (`text.format`, not
 * `response_format`), in `param` and where its message quotes one.
 */
function asResponsesError(err: unknown): never {
  if (!(err instanceof GatewayError) || err.param === null) throw err;
  const param = responsesParam(err.param);
  const message = responsesMessage(err.message);
  throw param === err.param && message === err.message ? err : sameRecord(err, err.with({ param, message }));
}

/**
 * `POST /v1/responses`: OpenAI's Responses API (what the openai SDK's `responses.create` and the
 * Vercel AI SDK's default OpenAI model call) in front of every provider: the request is
 * translated to chat completions, routed like chat, and the answer translated back. The response
 * cache is not used: it is bypassed, as on `/v1/messages`.
 */
export function responsesRoutes(gateway: Gateway, answering: Answering, maxBodyBytes: number, now: () => number) {
  const items = new ResponseItems(now);
  return new Elysia({ name: "responses" }).post(
    "/v1/responses",
    async ({ body, request, set }) => {
      const call = translatedCall(gateway, toChatRequest(body, (id) => items.find(id)), request, set);
      const client = clientOf(set);
      if (body.stream !== true) {
        const answer = await answering.json(request, () => gateway.complete(call, request.signal, "/v1/responses", client, "bypass").catch(asResponsesError));
        set.headers["content-type"] = "application/json";
        servedHeaders(set.headers, answer.served, answer.dropped);
        // No usage from the upstream: the client is told the estimate its finish record carries, not 0.
        const completion = answer.completion.usage === undefined && answer.usage !== undefined ? { ...answer.completion, usage: await answer.usage() } : answer.completion;
        const response = toResponse(completion, body, now());
        if (body.store !== false) items.keep(response.output);
        return JSON.stringify(response);
      }
      return answering.stream(set, request, () => gateway.stream(call, request.signal, "/v1/responses", client, "bypass").catch(asResponsesError), responsesBody(body, items));
    },
    {
      parse: [jsonObjectParser(maxBodyBytes), "application/json"],
      body: ResponsesRequest,
      detail: {
        summary: "Create a model response (OpenAI Responses API)",
        description:
          "OpenAI's Responses API: the request is answered through chat completions (any provider). Messages, function tools and their calls' outputs, instructions, text.format and reasoning.effort are translated; with `store` on (the default) the answer's message and function_call items are kept in memory for an hour, for a later `item_reference`. previous_response_id, conversation and background are refused (no response is stored), and so are built-in tools. With `stream: true` the answer is the Responses event stream (`response.created` … `response.completed`), with no `[DONE]`; a failure after the first event is an `error` event then `response.failed`.",
        tags: ["OpenAI"],
        responses: {
          200: { description: "A response, or its event stream when `stream` is true", content: { ...jsonContent(ResponseObject), "text/event-stream": { schema: { type: "string" } } } },
          400: errorResponse("Invalid request: `param` names the field at fault"),
          ...routedErrors(),
        },
      },
    },
  );
}
