import { Elysia } from "elysia";
import type { Gateway } from "../gateway/gateway.ts";
import { anthropicStream } from "../messages/anthropic-stream.ts";
import { checkContent } from "../messages/content-blocks.ts";
import { countInputTokens } from "../messages/count-tokens.ts";
import { checkOutputFormat } from "../messages/output-format.ts";
import { PING_EVENT, anthropicErrorEvent } from "../messages/errors.ts";
import { AnthropicErrorBody, AnthropicMessage, CountTokensRequest, CountTokensResponse, MessagesRequest } from "../messages/schema.ts";
import { toChatRequest } from "../messages/to-chat.ts";
import { toMessage } from "../messages/to-message.ts";
import type { ChatCall } from "../providers/provider.ts";
import { jsonObjectParser, rawBody } from "./body.ts";
import { clientOf } from "./guard.ts";
import { jsonContent } from "./openapi-doc.ts";
import { anthropicRequestId } from "./request-id.ts";
import { answeredBy } from "./recorded.ts";
import { translatedCall } from "./translated-call.ts";
import { StreamBody, type OnEnd, type Pacing, type SseWire } from "./sse.ts";
import { servedHeaders, type Answering } from "./tracked.ts";

const ANTHROPIC_WIRE: SseWire = { heartbeat: PING_EVENT, error: anthropicErrorEvent };

/**
 * The gateway's call for a Messages request: the OpenAI translation as its body (what the gateway
 * reads, and what an OpenAI-compatible or mock target gets, serialised only if one does) and the
 * client's own bytes as the native request an Anthropic target sends as they are.
 */
function messagesCall(gateway: Gateway, body: CountTokensRequest, request: Request, set: { headers: Record<string, unknown> }): ChatCall {
  const headers = request.headers;
  const native = { format: "anthropic" as const, raw: rawBody(body), body, beta: headers.get("anthropic-beta") ?? undefined, version: headers.get("anthropic-version") ?? undefined };
  return translatedCall(gateway, toChatRequest(body), request, set, native);
}

/**
 * What the schema cannot say of a request: its content blocks, and, when its first target is not
 * Anthropic (`native`), whether its output format survives the translation. An Anthropic target
 * judges the format itself; a fallback from it to another target gets the format as translated.
 */
function checkRequest(body: CountTokensRequest, native: boolean): void {
  checkContent(body, native);
  if (!native) checkOutputFormat(body.output_config?.format);
}

const anthropicBody = (open: Parameters<typeof anthropicStream>[0], onEnd: OnEnd, pacing: Pacing) => new StreamBody(anthropicStream(open), onEnd, pacing, ANTHROPIC_WIRE);

const errors = (codes: number[]) => Object.fromEntries(codes.map((code) => [code, { description: `Anthropic error (${code})`, content: jsonContent(AnthropicErrorBody) }]));

/**
 * `POST /v1/messages`: Anthropic's Messages API in front of every
 * provider. An Anthropic target gets the client's bytes and answers with its own (JSON or SSE); any
 * other gets the request translated to chat completions, and its answer is translated back. The
 * response cache is not used: its stored answers are OpenAI's.
 */
export function messagesRoutes(gateway: Gateway, answering: Answering, maxBodyBytes: number) {
  return new Elysia({ name: "messages" })
    .post(
      "/v1/messages",
      async ({ body, request, set }) => {
        anthropicRequestId(set);
        const client = clientOf(set);
        checkRequest(body, gateway.answersNatively(body.model, client));
        const call = messagesCall(gateway, body, request, set);
        if (body.stream !== true) {
          const answer = await answering.json(request, () => gateway.complete(call, request.signal, "/v1/messages", client, "bypass"));
          set.headers["content-type"] = "application/json";
          servedHeaders(set.headers, answer.served, answer.dropped);
          if (answer.format === "anthropic") return answer.json;
          // No usage from the upstream: the client is told the estimate its finish record carries, not 0.
          const completion = answer.completion.usage === undefined && answer.usage !== undefined ? { ...answer.completion, usage: await answer.usage() } : answer.completion;
          return JSON.stringify(toMessage(completion));
        }
        return answering.stream(set, request, () => gateway.stream(call, request.signal, "/v1/messages", client, "bypass"), anthropicBody);
      },
      {
        parse: [jsonObjectParser(maxBodyBytes), "application/json"],
        body: MessagesRequest,
        detail: {
          summary: "Create a message (Anthropic Messages API)",
          description:
            "Anthropic's Messages API, for Anthropic's SDKs and Claude Code (`ANTHROPIC_BASE_URL`). The key goes in `x-api-key` or `Authorization: Bearer`. With `stream: true` the answer is Anthropic's event stream (`message_start`, `content_block_*`, `message_delta`, `message_stop`, `ping`); a failure after the first event is one `error` event. Errors are `{\"type\":\"error\",\"error\":{type, message}}`.",
          tags: ["Anthropic"],
          security: [{ apiKey: [] }, { bearer: [] }],
          responses: {
            200: { description: "A message, or its event stream when `stream` is true", content: { ...jsonContent(AnthropicMessage), "text/event-stream": { schema: { type: "string" } } } },
            ...errors([400, 401, 403, 404, 413, 429, 500, 504, 529]),
          },
        },
      },
    );
}

/**
 * `POST /v1/messages/count_tokens`, apart from `/v1/messages`: it calls no model (or only
 * Anthropic's counter) and writes no finish record of its own, so the app mounts it under the
 * wrapper that gives each answer one, which `/v1/messages` must not pay for.
 */
export function countTokensRoute(gateway: Gateway, answering: Answering, maxBodyBytes: number) {
  return new Elysia({ name: "count-tokens" })
    .post(
      "/v1/messages/count_tokens",
      async ({ body, request, set }) => {
        anthropicRequestId(set);
        checkRequest(body, gateway.answersNatively(body.model, clientOf(set)));
        const call = messagesCall(gateway, body, request, set);
        const counted = await answering.json(request, () => gateway.countTokens(call, request.signal, clientOf(set)));
        set.headers["content-type"] = "application/json";
        if (counted === undefined) return JSON.stringify({ input_tokens: await countInputTokens(call.body) });
        servedHeaders(set.headers, counted.served);
        answeredBy(set, { model: body.model, provider: counted.served.provider, upstreamModel: counted.served.model, status: 200, reason: "ok" });
        return counted.json;
      },
      {
        parse: [jsonObjectParser(maxBodyBytes), "application/json"],
        body: CountTokensRequest,
        detail: {
          summary: "Count the input tokens of a message (Anthropic Messages API)",
          description: "Anthropic's own count when the model's first target is an Anthropic provider; otherwise the tokenizer's estimate over the request as it would be sent.",
          tags: ["Anthropic"],
          security: [{ apiKey: [] }, { bearer: [] }],
          responses: { 200: { description: "The input tokens", content: jsonContent(CountTokensResponse) }, ...errors([400, 401, 404, 413, 429, 500, 504, 529]) },
        },
      },
    );
}
