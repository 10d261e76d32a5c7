import type { Config } from "../config.ts";
import { MOCK_MODELS } from "../providers/mock.ts";

/** A label value for a name the config does not know: what keeps every label's values bounded. */
export const OTHER = "other";
/** A label value for no name at all (a request refused before its body was read has no model). */
export const NONE = "none";

/** The routes, by the path a finish record carries; any other path is `other`. */
const ROUTES: ReadonlySet<string> = new Set([
  "/v1/chat/completions", "/chat", "/v1/messages", "/v1/messages/count_tokens", "/v1/responses", "/v1/embeddings", "/v1/models", "/v1/usage", "/status", "/metrics", "/health",
  "/", "/docs", "/docs/json", "/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css",
]);
const MODEL_ROUTE = "/v1/models/:model";
/** Every webhook, whatever its name: a name sent to an unknown hook must not become a label. */
const HOOK_ROUTE = "/hooks/:name";

/** The route label of a request path: a known route, `/v1/models/:model`, `/hooks/:name`, or `other`. */
export function routeLabel(path: string): string {
  if (ROUTES.has(path)) return path;
  if (path.startsWith("/hooks/") && path.length > 7 && path.indexOf("/", 7) === -1) return HOOK_ROUTE;
  return path.startsWith("/v1/models/") && MODEL_ID.test(path.slice(11)) ? MODEL_ROUTE : OTHER;
}

/** An id as `/v1/models/{id}` takes it unencoded: one to four non-empty segments (http/ops.ts). */
const MODEL_ID = /^[^/]+(?:\/[^/]+){0,3}$/;

/**
 * The reasons an attempt can end with that are chatgate's own: `ok`, `resumed`, our error codes and
 * the OpenAI error types used when an error has no code. An upstream's own code (a 4xx passed on
 * with whatever `code` it sent) is `other`.
 */
const REASONS: ReadonlySet<string> = new Set([
  "ok", "resumed",
  "upstream_error", "upstream_timeout", "upstream_overloaded", "upstream_auth_failed", "upstream_billing_error", "upstream_connection_error",
  "upstream_invalid_stream", "upstream_redirect", "upstream_response_too_large", "upstream_stream_truncated", "upstream_too_large",
  "rate_limit_exceeded", "rate_limit_error", "model_not_found", "model_context_window_exceeded", "unsupported_parameter",
  "client_closed_request", "client_stalled", "server_shutting_down", "internal_error", "targets_cooling_down", "no_provider_configured",
  "invalid_request_error", "authentication_error", "server_error", "requests",
]);

export function reasonLabel(reason: string): string {
  return REASONS.has(reason) ? reason : OTHER;
}

/**
 * The model and provider names one config knows, and the label each name gets: itself when the
 * config names it, `other` when not (a client can send any model name), `none` for no name. Built
 * once per config (a reload makes a new one); a lookup is one Set probe.
 */
export class MetricLabels {
  private readonly models = new Set<string>();
  private readonly providers = new Set<string>();

  constructor(config: Pick<Config, "models" | "providers" | "defaultModel">) {
    this.models.add(config.defaultModel);
    for (const [name, route] of Object.entries(config.models)) {
      this.models.add(name);
      for (const target of route.targets) this.models.add(`${target.provider}/${target.model}`);
    }
    for (const spec of config.providers) {
      this.providers.add(spec.id);
      // A provider's own models, by plain name and as `provider/model`: the names /v1/models lists.
      const listed = spec.type === "mock" ? MOCK_MODELS : (spec.models ?? []);
      for (const model of listed) this.models.add(model).add(`${spec.id}/${model}`);
    }
  }

  model(name: string | null): string {
    return name === null ? NONE : this.models.has(name) ? name : OTHER;
  }

  provider(id: string | null): string {
    return id === null ? NONE : this.providers.has(id) ? id : OTHER;
  }
}
