import { Elysia, t } from "elysia";
import type { Gateway } from "../gateway/gateway.ts";
import type { ListedModel } from "../providers/provider.ts";
import type { Stats } from "../obs/stats.ts";
import type { ChannelStatus } from "../hooks/channels.ts";
import type { ReloadState } from "../reload.ts";
import { keyModelsOf } from "./guard.ts";
import { anthropicRequestId } from "./request-id.ts";
import { ErrorBody, Health, Model, ModelList, Status } from "../schema.ts";
import { VERSION } from "../version.ts";
import { anthropicModel, anthropicModelList, type ModelListQuery } from "../messages/models.ts";
import { AnthropicModel, AnthropicModelList } from "../messages/schema.ts";

/** No key needed: `security: []` overrides the document's default (a bearer key) for a route. */
const PUBLIC = { security: [] };

/** A route left out of the OpenAPI document: it repeats a documented one. */
const HIDDEN = { detail: { hide: true } };

/** A union of object shapes is an object whichever it is: said so for the OpenAPI document's readers. */
const EITHER_OBJECT = { type: "object", additionalProperties: true } as const;

/** Where to go from the root: what a person or a probe hitting `/` wants to find. */
const Index = t.Object({
  name: t.Literal("chatgate"),
  version: t.String(),
  links: t.Object({ docs: t.String(), openapi: t.String(), health: t.String(), chat_completions: t.String(), models: t.String() }),
});

/** The public routes: liveness and the index at `/`. Mounted before the guard, so they need no key. */
export function publicRoutes() {
  const index = {
    name: "chatgate" as const,
    version: VERSION,
    links: { docs: "/docs", openapi: "/docs/json", health: "/health", chat_completions: "/v1/chat/completions", models: "/v1/models" },
  };
  return new Elysia({ name: "public" })
    .get("/", () => index, {
      response: { 200: Index },
      detail: { summary: "Links to the docs, the OpenAPI document, /health and the API", tags: ["chatgate"], ...PUBLIC },
    })
    .get("/health", () => ({ status: "ok" as const }), {
      response: { 200: Health },
      detail: { summary: "Liveness: no auth, no upstream call", tags: ["chatgate"], ...PUBLIC },
    });
}

/** Status and the model list: mounted after the guard, so they need a key when keys are set. */
export function opsRoutes(gateway: Gateway, stats: Stats, lastReload: () => ReloadState | undefined, channels: () => ChannelStatus[] | undefined = () => undefined) {
  /** `GET /v1/models/{id}`, whichever of its routes took the request. */
  const retrieve = async (id: string, request: Request, set: { headers: Record<string, unknown> }) => {
    const model = await gateway.model(id, request.signal, keyModelsOf(set));
    if (!request.headers.has("anthropic-version")) return openAIModel(model);
    anthropicRequestId(set);
    return anthropicModel(model);
  };
  return new Elysia({ name: "ops" })
    .get(
      "/status",
      () => ({
        uptime_s: stats.uptimeSeconds(),
        version: VERSION,
        // The current config's: a reload replaces the router.
        providers: gateway.router.all.map((p) => ({ id: p.id, type: p.type, host: p.host })),
        in_flight: { json: stats.inFlightJson, streams: stats.inFlightStreams },
        targets: gateway.router.health.snapshot(),
        tracing: gateway.traces !== undefined,
        ...(lastReload() === undefined ? {} : { reload: lastReload() }),
        // The webhook channels, once a config has had hooks: each with its senders' live conversations.
        ...(channels() === undefined ? {} : { channels: channels() }),
        requests: {
          total: stats.total,
          completions: stats.completions,
          streams: stats.streams,
          errors_4xx: stats.errors4xx,
          errors_5xx: stats.errors5xx,
        },
      }),
      { response: { 200: Status, 401: ErrorBody, 429: ErrorBody }, detail: { summary: "Uptime, version, providers, targets' health, requests in flight and counters", tags: ["chatgate"] } },
    )
    // A client key with `models:` sees only those, and any other is a 404 as if it did not exist.
    // Asked with `anthropic-version` (Anthropic's SDKs, Claude Code), the answer is in Anthropic's shape.
    // Anthropic's list is paged (`limit`, `after_id`, `before_id`); OpenAI's is every model at once.
    .get("/v1/models", async ({ request, set, query }) => {
      const data = await gateway.models(request.signal, keyModelsOf(set));
      if (!request.headers.has("anthropic-version")) return { object: "list" as const, data: data.map(openAIModel) };
      anthropicRequestId(set);
      return anthropicModelList(data, query as ModelListQuery);
    }, {
      response: { 200: t.Union([ModelList, AnthropicModelList], EITHER_OBJECT), 400: ErrorBody, 401: ErrorBody, 429: ErrorBody, 502: ErrorBody },
      detail: {
        summary: "List models (Anthropic's shape when `anthropic-version` is sent)",
        tags: ["OpenAI", "Anthropic"],
        parameters: [
          { name: "limit", in: "query", required: false, description: "With `anthropic-version`: models per page, 1 to 1000 (default 20).", schema: { type: "integer", minimum: 1, maximum: 1000, default: 20 } },
          { name: "after_id", in: "query", required: false, description: "With `anthropic-version`: the page right after this model.", schema: { type: "string" } },
          { name: "before_id", in: "query", required: false, description: "With `anthropic-version`: the page right before this model.", schema: { type: "string" } },
        ],
      },
    })
    .get("/v1/models/:model", ({ request, set }) => retrieve(modelIdOf(request), request, set), {
      params: t.Object({ model: t.String() }),
      response: { 200: t.Union([Model, AnthropicModel], EITHER_OBJECT), 401: ErrorBody, 404: ErrorBody, 429: ErrorBody, 502: ErrorBody },
      detail: {
        summary: "Retrieve a model (Anthropic's shape when `anthropic-version` is sent)",
        description: "An id with slashes (`provider/model`) may be sent as it is (`/v1/models/oai/gpt-4o`, as curl sends it) or encoded (`oai%2Fgpt-4o`, as the openai SDK sends it), up to four segments.",
        tags: ["OpenAI", "Anthropic"],
      },
    })
    // The same route for an id sent with its slashes unencoded. Bun's router, which matches every
    // route (see `unrouted`), has no wildcard that captures, so each depth is a route of its own:
    // enough for `provider/org/model/variant`; a deeper id must be sent encoded.
    .get("/v1/models/:model/:s1", ({ request, set }) => retrieve(modelIdOf(request), request, set), HIDDEN)
    .get("/v1/models/:model/:s1/:s2", ({ request, set }) => retrieve(modelIdOf(request), request, set), HIDDEN)
    .get("/v1/models/:model/:s1/:s2/:s3", ({ request, set }) => retrieve(modelIdOf(request), request, set), HIDDEN);
}

/** A listed model as OpenAI's model object: the four fields OpenAI's lists have, never an upstream's Anthropic object. */
const openAIModel = ({ id, object, created, owned_by }: ListedModel): Model => ({ id, object, created, owned_by });

const MODELS_PATH = "/v1/models/";

/**
 * The model id the path gives, slashes and all: decoded, or as sent where its %-escapes are not
 * valid UTF-8 (`%ZZ`), so a 404 names what the client asked for rather than a replacement character.
 */
function modelIdOf(request: Request): string {
  const url = request.url;
  const at = url.indexOf(MODELS_PATH) + MODELS_PATH.length;
  const query = url.indexOf("?", at);
  const raw = url.slice(at, query === -1 ? undefined : query);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
