import type { Config } from "../config.ts";
import { MockProvider } from "./mock.ts";
import { OpenAIProvider } from "./openai.ts";
import type { Provider } from "./provider.ts";

export interface Providers {
  mock?: MockProvider;
  upstream?: Provider;
}

/** Builds the providers the configuration turns on; the only place that knows provider types. */
export function createProviders(config: Config, fetchImpl?: typeof fetch): Providers {
  const upstream = config.upstreamConfigured
    ? new OpenAIProvider({
        id: "openai",
        baseUrl: config.openaiBaseUrl,
        apiKey: config.openaiApiKey,
        timeoutMs: config.timeoutMs,
        streamIdleTimeoutMs: config.streamIdleTimeoutMs,
        maxUpstreamBytes: config.maxUpstreamBytes,
        fetch: fetchImpl,
      })
    : undefined;
  const mock = config.mock ? new MockProvider(upstream === undefined) : undefined;
  return { mock, upstream };
}
