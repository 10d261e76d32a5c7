import type { Config } from "./config.ts";
import { GatewayError } from "./errors.ts";
import type { Provider } from "./providers/provider.ts";
import { VERSION } from "./version.ts";

/** A base URL fit to print: no user, password, query or fragment, whatever the operator put in it. */
export function printableUrl(href: string): string {
  const url = new URL(href);
  url.username = "";
  url.password = "";
  url.search = "";
  url.hash = "";
  return url.href.replace(/\/+$/, "");
}

/**
 * What the operator needs to know at start: where it listens, where requests go, whether client
 * auth is on and what the rate limit is — the commonest surprises (an open gateway, a wrong base
 * URL) are visible before the first request. Never prints a key.
 */
export function bannerLines(config: Config, url: string): string[] {
  const f = bannerFacts(config, url);
  return [
    f.headline,
    `  requests go to: ${f.requestsGoTo}`,
    ...(f.models !== undefined ? [`  models:         ${f.models}`] : []),
    `  client auth:    ${f.clientAuth}`,
    `  rate limit:     ${f.rateLimit}`,
    `Swagger UI: ${f.docs}`,
    `Try: ${f.tryCurl}`,
    ...startNotes(config),
  ];
}

/**
 * The start-up line as a log shipper gets it: the headline as its message and the banner's facts
 * as fields (no curl example: that is for a person at a terminal). The notes follow as warnings.
 */
export function startupFields(config: Config, url: string) {
  const f = bannerFacts(config, url);
  return { message: f.headline, fields: { url, version: VERSION, requests_go_to: f.requestsGoTo, models: f.models ?? null, client_auth: f.clientAuth, rate_limit: f.rateLimit, docs: f.docs } };
}

function bannerFacts(config: Config, url: string) {
  const keys = config.apiKeyDigests.length;
  const providers = config.providers.map((p) => {
    if (p.type === "mock") return `${p.id} (built-in mock, ${config.providers.length === 1 ? "answers every model name" : `model "${p.id}"`})`;
    const key = p.apiKey ? (p.implicit ? "key from OPENAI_API_KEY" : "key set") : "no key";
    return `${p.id} → ${printableUrl(p.baseUrl)} (${p.type}, ${key})`;
  });
  const where = config.providers.map((p) => (p.type === "mock" ? "built-in mock model" : `provider ${new URL(p.baseUrl).host}`)).join(" + ");
  const perInstance = config.rateLimitMax > 0 ? `${config.rateLimitMax} requests per ${config.rateLimitWindowMs / 1000} s per ${keys > 0 ? "key" : "client address"}` : "off";
  // With Redis the limits, budgets and cache are every instance's together: say where they live.
  const limit = config.redisUrl !== undefined ? `${perInstance}; limits, budgets and cache shared through redis at ${new URL(config.redisUrl).host || config.redisUrl.split(":")[0]}` : perInstance;
  const model = Object.keys(config.models)[0] ?? (config.mock ? "mock" : config.defaultModel);
  const auth = keys > 0 ? ` -H "Authorization: Bearer $CHATGATE_KEY"` : "";
  return {
    headline: `chatgate ${VERSION} listening on ${url} (${where || "no provider configured: completions answer 503"})`,
    requestsGoTo: providers.join("; ") || "nowhere (set OPENAI_API_KEY / OPENAI_BASE_URL, or CHATGATE_MOCK=1)",
    models: Object.keys(config.models).length > 0 ? Object.keys(config.models).join(", ") : undefined,
    clientAuth: keys > 0 ? `on, ${keys} key${keys === 1 ? "" : "s"}` : "off (no CHATGATE_API_KEYS): anyone who can reach this address may call it",
    rateLimit: limit,
    docs: `${url}/docs`,
    tryCurl: `curl ${url}/v1/chat/completions -H "Content-Type: application/json"${auth} -d '{"model":"${model}","messages":[{"role":"user","content":"Hello, chatgate!"}]}'`,
  };
}

/** Stream resume asked for where no target can continue an answer: it would never happen, so say so. */
/** What a start warns of: how the config file is written, then what its settings cannot do. */
export function startNotes(config: Config): string[] {
  return [...config.fileWarnings, ...resumeNotes(config)];
}

export function resumeNotes(config: Config): string[] {
  const styleOf = (provider: string) => {
    const spec = config.providers.find((p) => p.id === provider);
    return spec === undefined || spec.type === "mock" ? "none" : spec.continuation;
  };
  const notes: string[] = [];
  for (const [name, route] of Object.entries(config.models)) {
    if (route.resume && route.targets.every((t) => (t.continuation ?? styleOf(t.provider)) === "none")) {
      notes.push(`chatgate: note: model '${name}' has resume: true, but none of its targets can continue an answer (set continuation: prefill, prefix or vllm on a provider or target)`);
    }
  }
  if (config.resume && config.implicitContinuation === "none" && config.providers.some((p) => p.implicit && p.type !== "mock")) {
    notes.push("chatgate: note: CHATGATE_RESUME=1 has no effect until CHATGATE_CONTINUATION says how the provider continues an answer (prefill, prefix or vllm)");
  }
  return notes;
}

/**
 * One bounded look at each network provider's model list after start-up, never fatal: an
 * `OPENAI_BASE_URL` without `/v1` (the commonest mistake) answers 404 there, a refused key 401 —
 * better said once now than as a 404 on every completion.
 */
export async function probeProviders(providers: readonly Provider[], config: Config, print: (line: string) => void, timeoutMs = 5_000): Promise<void> {
  const say = (line: string) => print(`chatgate: warning: ${line}`);
  await Promise.all(
    providers
      .filter((p) => p.host !== null)
      .map(async (provider) => {
        // Models listed in the config are answered from it: nothing was asked, so nothing is said.
        const configured = provider.listedModels() !== undefined;
        const signal = AbortSignal.timeout(timeoutMs);
        try {
          const models = await provider.models({ signal });
          if (!configured) print(`chatgate: provider '${provider.id}' answered its model list (${models.length} model${models.length === 1 ? "" : "s"})`);
        } catch (err) {
          if (signal.aborted) return say(`provider '${provider.id}' at ${provider.host} did not answer its model list within ${timeoutMs / 1000} s of start-up.`);
          // The env-only provider is fixed with OPENAI_*; a file's provider with its own fields.
          const fromEnv = provider.implicit && provider.type === "openai";
          const base = fromEnv ? printableUrl(config.openaiBaseUrl) : provider.host;
          if (!(err instanceof GatewayError)) return say(`provider '${provider.id}' could not be checked at start-up.`);
          if (err.status === 404) {
            if (!fromEnv) return say(`provider '${provider.id}' at ${base} answered 404 for its model list — completions will likely 404 too; check its base_url${provider.type === "openai" ? " (OpenAI-compatible base URLs usually end in /v1)" : ""}.`);
            const fix = /\/v1$/.test(base ?? "") ? "check the base URL" : `OpenAI-compatible base URLs usually end in /v1: try OPENAI_BASE_URL=${base}/v1`;
            return say(`${base}/models answered 404 — completions will likely 404 too; ${fix}.`);
          }
          if (err.code === "upstream_auth_failed") return say(`provider '${provider.id}' refused ${fromEnv ? "the key in OPENAI_API_KEY" : "its api_key"} (${err.message.match(/HTTP \d+/)?.[0] ?? "401"}).`);
          say(`provider '${provider.id}' at ${base} did not answer its model list at start-up: ${err.message}`);
        }
      }),
  );
}
