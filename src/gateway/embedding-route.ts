import { GatewayError } from "../errors.ts";
import type { Provider } from "../providers/provider.ts";
import type { Providers, Route } from "./route-table.ts";

/** Each route's embedding form, made once per route object (a reload makes new routes, and new forms). */
const forms = new WeakMap<Route, Route | GatewayError>();

/**
 * `route` as an embeddings request takes it: only the targets whose provider offers embeddings,
 * in their order, so a chat route that falls back from Anthropic to OpenAI embeds on OpenAI. When
 * none does, a 400 naming each provider, as OpenAI names the parameter at fault (`model`).
 */
export function embeddingRoute(route: Route, providers: Providers): Route {
  let form = forms.get(route);
  if (form === undefined) {
    form = formOf(route, providers);
    forms.set(route, form);
  }
  if (form instanceof GatewayError) throw form;
  return form;
}

function formOf(route: Route, providers: Providers): Route | GatewayError {
  const targets = route.targets.filter((t) => providers.get(t.provider)?.embed !== undefined);
  if (targets.length === route.targets.length) return route;
  if (targets.length > 0) return { ...route, targets };
  const without = [...new Set(route.targets.map((t) => providers.get(t.provider)).filter((p): p is Provider => p !== undefined))];
  const named = without.map((p) => `Provider '${p.id}' (${p.type})`).join(", ");
  return new GatewayError({
    status: 400, type: "invalid_request_error", code: "embeddings_not_supported", param: "model",
    message: `${named || "No provider"} ${without.length > 1 ? "do" : "does"} not offer embeddings: model '${route.name}' cannot be used with /v1/embeddings.`,
  });
}
