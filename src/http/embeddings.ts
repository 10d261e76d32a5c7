import { Elysia } from "elysia";
import { EmbeddingList, EmbeddingRequest } from "../embeddings-schema.ts";
import type { Gateway } from "../gateway/gateway.ts";
import { jsonObjectParser, rawBody } from "./body.ts";
import { clientOf } from "./guard.ts";
import { errorResponse, jsonContent, routedErrors } from "./openapi-doc.ts";
import { requestIdOf } from "./request-id.ts";
import { traceOf } from "./trace-of.ts";
import { servedHeaders, type Answering } from "./tracked.ts";

/** `POST /v1/embeddings`: OpenAI's embeddings API, routed like chat, the upstream's JSON passed on as is. */
export function embeddingsRoutes(gateway: Gateway, answering: Answering, maxBodyBytes: number) {
  return new Elysia({ name: "embeddings" }).post(
    "/v1/embeddings",
    async ({ body, request, set }) => {
      const call = { kind: "embeddings" as const, body, raw: rawBody(body), requestId: requestIdOf(set), trace: traceOf(gateway, request) };
      const answer = await answering.json(request, () => gateway.embed(call, request.signal, clientOf(set)));
      // A string, not a Response, so the rate-limit headers on `set` go out with it (see chat.ts).
      set.headers["content-type"] = "application/json";
      servedHeaders(set.headers, answer.served);
      return answer.json;
    },
    {
      // The content type only labels the OpenAPI document; our parser answers every request.
      parse: [jsonObjectParser(maxBodyBytes), "application/json"],
      body: EmbeddingRequest,
      detail: {
        summary: "Create embeddings",
        description:
          "OpenAI's embeddings API, routed like chat (public names, `provider/model`, retries, fallback). The upstream's answer is passed on byte for byte, so `encoding_format: base64` vectors arrive as the provider encoded them. Targets whose provider has no embeddings API (Anthropic) are skipped; a model with no other target is a 400.",
        tags: ["OpenAI"],
        responses: {
          200: { description: "The embeddings, one per input, in input order", content: jsonContent(EmbeddingList) },
          400: errorResponse("Invalid request (`param` names the field at fault), or a model whose providers offer no embeddings (`embeddings_not_supported`)"),
          ...routedErrors(),
        },
      },
    },
  );
}
