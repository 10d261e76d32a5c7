import { Elysia } from "elysia";
import { createParser } from "eventsource-parser";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { cacheModeOf } from "../cache/cache-control.ts";
import type { Gateway, OpenStream } from "../gateway/gateway.ts";
import { ChatRequest, SimpleChatRequest, SimpleChatResponse } from "../schema.ts";
import { errorResponse, jsonContent, routedErrors } from "./openapi-doc.ts";
import { jsonObjectParser } from "./body.ts";
import { DONE_EVENT, sseData, sseJson } from "../sse-encode.ts";
import { clientOf } from "./guard.ts";
import { requestIdOf } from "./request-id.ts";
import { traceOf } from "./trace-of.ts";
import { streamBody, type OnEnd, type Pacing } from "./sse.ts";
import { servedHeaders, type Answering } from "./tracked.ts";

/**
 * Turns an OpenAI chunk stream into `data: {"content": "<delta>"}` events. Error events (the
 * upstream's or our own) pass through unchanged; `[DONE]` only when the upstream completed.
 */
async function* contentEvents(open: OpenStream, onEnd: OnEnd, pacing: Pacing): AsyncGenerator<Uint8Array, void, undefined> {
  const out: Uint8Array[] = [];
  let done = false;
  const parser = createParser({
    onEvent({ data }) {
      if (data === "[DONE]") {
        done = true;
        return;
      }
      let chunk: Partial<ChatCompletionChunk> & { error?: unknown };
      try {
        chunk = JSON.parse(data);
      } catch {
        return;
      }
      if (chunk.error !== undefined) out.push(sseData(data));
      const content = chunk.choices?.[0]?.delta?.content;
      if (typeof content === "string" && content !== "") out.push(sseJson({ content }));
    },
  });
  const decoder = new TextDecoder();
  for await (const bytes of streamBody(open, onEnd, pacing)) {
    parser.feed(decoder.decode(bytes, { stream: true }));
    while (out.length > 0) yield out.shift()!;
  }
  if (done) yield DONE_EVENT;
}

/** `POST /chat`: one message in, text out — for people who do not want the whole OpenAI API. */
export function simpleChatRoutes(gateway: Gateway, answering: Answering, maxBodyBytes: number, defaultModel: string) {
  return new Elysia({ name: "simple-chat" }).post(
    "/chat",
    async ({ body, request, set }) => {
      const chat: ChatRequest = { model: body.model ?? defaultModel, messages: [{ role: "user", content: body.message }] };
      const requestId = requestIdOf(set);
      const trace = traceOf(gateway, request);
      const client = clientOf(set);
      const cacheMode = cacheModeOf(request.headers.get("cache-control"));
      if (body.stream !== true) {
        const call = { body: chat, raw: JSON.stringify(chat), requestId, trace };
        const { completion, served, usage } = await answering.json(request, () => gateway.complete(call, request.signal, "/chat", client, cacheMode));
        servedHeaders(set.headers, served);
        // No usage from the upstream: the estimate the request's record carries, not 0.
        const tokens = completion.usage?.total_tokens ?? (await usage?.())?.total_tokens ?? 0;
        return { content: completion.choices[0]?.message?.content ?? "", tokensUsed: tokens };
      }
      const streamed: ChatRequest = { ...chat, stream: true };
      const call = { body: streamed, raw: JSON.stringify(streamed), requestId, trace };
      return answering.stream(set, request, () => gateway.stream(call, request.signal, "/chat", client, cacheMode), contentEvents);
    },
    {
      // The content type only labels the OpenAPI document; our parser answers every request.
      parse: [jsonObjectParser(maxBodyBytes), "application/json"],
      body: SimpleChatRequest,
      detail: {
        summary: "Simple chat",
        description:
          "Send one message, get text back. Non-streamed: `{content, tokensUsed}`. With `stream: true`: `data: {\"content\": \"<delta>\"}` events, then `data: [DONE]`. Uses the configured default model unless `model` is given.",
        tags: ["chatgate"],
        responses: {
          200: {
            description: "The answer, or an event stream of content deltas when `stream` is true",
            content: { ...jsonContent(SimpleChatResponse), "text/event-stream": { schema: { type: "string" } } },
          },
          400: errorResponse("Invalid request: `param` names the field at fault"),
          ...routedErrors(),
        },
      },
    },
  );
}
