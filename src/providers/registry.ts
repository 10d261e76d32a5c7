import type { Config } from "../config.ts";
import type { ProviderSpec } from "../config/provider-spec.ts";
import { AnthropicProvider } from "./anthropic/provider.ts";
import { MockProvider } from "./mock.ts";
import { OpenAIProvider } from "./openai.ts";
import type { Provider } from "./provider.ts";

/** Every configured provider by id, in configuration order. */
export type Providers = ReadonlyMap<string, Provider>;

/**
 * Builds the providers the configuration lists; the only place that knows provider types. The
 * env-only provider (`implicit`, from OPENAI_BASE_URL) takes any model name, as before there was a
 * config file; the mock does when it is the only provider.
 */
export function createProviders(config: Config, fetchImpl?: typeof fetch): Providers {
  const providers = new Map<string, Provider>();
  for (const spec of config.providers) providers.set(spec.id, create(spec, config, config.providers.length === 1, fetchImpl));
  return providers;
}

function create(spec: ProviderSpec, config: Config, alone: boolean, fetchImpl?: typeof fetch): Provider {
  switch (spec.type) {
    case "mock":
      return new MockProvider(spec.id, alone, spec.implicit);
    case "openai":
      return new OpenAIProvider({
        id: spec.id, baseUrl: spec.baseUrl, apiKey: spec.apiKey, headers: spec.headers, models: spec.models, timeouts: spec.timeouts,
        maxUpstreamBytes: config.maxUpstreamBytes, streamBufferBytes: config.streamBufferBytes, anyModel: spec.implicit, implicit: spec.implicit, fetch: fetchImpl,
        continuation: spec.continuation,
      });
    case "anthropic":
      return new AnthropicProvider({
        id: spec.id, baseUrl: spec.baseUrl, apiKey: spec.apiKey, version: spec.anthropicVersion, headers: spec.headers,
        maxTokensDefault: spec.maxTokens, dropParams: spec.dropParams, timeouts: spec.timeouts, maxUpstreamBytes: config.maxUpstreamBytes,
        models: spec.models, anyModel: false, fetch: fetchImpl, continuation: spec.continuation,
      });
  }
}
