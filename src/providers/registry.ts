import type { Config } from "../config.ts";
import { MockProvider } from "./mock.ts";
import { OpenAIProvider } from "./openai.ts";
import type { Provider } from "./provider.ts";

/** Every configured provider by id, in configuration order. */
export type Providers = ReadonlyMap<string, Provider>;

/** Builds the providers the configuration turns on; the only place that knows provider types. */
export function createProviders(config: Config, fetchImpl?: typeof fetch): Providers {
  const providers = new Map<string, Provider>();
  if (config.upstreamConfigured) {
    providers.set(
      "openai",
      new OpenAIProvider({
        id: "openai",
        baseUrl: config.openaiBaseUrl,
        apiKey: config.openaiApiKey,
        timeoutMs: config.timeoutMs,
        streamIdleTimeoutMs: config.streamIdleTimeoutMs,
        maxUpstreamBytes: config.maxUpstreamBytes,
        anyModel: true,
        fetch: fetchImpl,
      }),
    );
  }
  if (config.mock) providers.set("mock", new MockProvider("mock", providers.size === 0));
  return providers;
}
