// Providers and routes from the file plus the implicit providers of the env-only set-up, checked
// for what a schema cannot say (unique ids, targets that exist, URLs that parse) and resolved to
// the shapes the registry and router read.
import { Value } from "@sinclair/typebox/value";
import type { Config } from "../config.ts";
import { targetPrices } from "../cost/target-prices.ts";
import { durationMs } from "./file-core.ts";
import { FieldError, fieldPath } from "./field-error.ts";
import { withoutTrailingSlash } from "./env-values.ts";
import { NOT_HEADER_SAFE, headerSafe } from "./header-value.ts";
import { OpenAIEntry, type FileConfig, type ModelEntry, type ProviderEntry } from "./file-schema.ts";
import type { ModelRoute, ProviderSpec } from "./provider-spec.ts";

/** The fields this adds to Config. */
export type Routing = Pick<Config, "providers" | "models" | "retries" | "maxRetryWaitMs" | "cooldownAfter" | "cooldownMs" | "configPath">;

/** What the environment (already resolved) contributes: global timeouts and the implicit providers. */
export type Globals = Pick<Config, "timeoutMs" | "streamIdleTimeoutMs" | "openaiApiKey" | "openaiBaseUrl" | "upstreamConfigured" | "mock" | "implicitContinuation">;

export function resolveRouting(doc: FileConfig, globals: Globals, configPath?: string): Routing {
  const providers = doc.providers.map((entry, i) => toSpec(entry, fieldPath("providers", i), globals, false));
  checkUniqueIds(doc.providers);
  providers.push(...implicitProviders(doc, globals));
  const models: Record<string, ModelRoute> = {};
  for (const [name, entry] of Object.entries(doc.models)) models[name] = toRoute(name, entry, providers);
  targetPrices(models);
  return {
    providers,
    models,
    retries: doc.retries,
    maxRetryWaitMs: durationMs(doc.max_retry_wait, "max_retry_wait", 0),
    cooldownAfter: doc.cooldown_after,
    cooldownMs: durationMs(doc.cooldown, "cooldown", 1),
    configPath,
  };
}

/**
 * OPENAI_API_KEY / OPENAI_BASE_URL make a provider `openai`, and CHATGATE_MOCK=1 / --mock /
 * `mock: true` one called `mock`, as without a file. A provider the file lists under that id
 * wins, whole: the environment never patches a file provider's key or URL behind its back (the
 * file takes the key as `api_key: ${OPENAI_API_KEY}`); check-config says the variables went unused.
 */
function implicitProviders(doc: FileConfig, globals: Globals): ProviderSpec[] {
  const listed = new Set(doc.providers.map((p) => p.id));
  const out: ProviderSpec[] = [];
  if (globals.upstreamConfigured && !listed.has("openai")) {
    const entry = {
      id: "openai", type: "openai", base_url: globals.openaiBaseUrl, continuation: globals.implicitContinuation,
      ...(globals.openaiApiKey ? { api_key: globals.openaiApiKey } : {}),
    };
    out.push(toSpec(Value.Default(OpenAIEntry, entry) as ProviderEntry, "OPENAI_BASE_URL", globals, true));
  }
  if (globals.mock && !listed.has("mock")) out.push({ id: "mock", type: "mock", implicit: true });
  return out;
}

function checkUniqueIds(entries: ProviderEntry[]): void {
  const seen = new Map<string, number>();
  entries.forEach((entry, i) => {
    const first = seen.get(entry.id);
    if (first !== undefined) throw new FieldError(`providers[${i}].id`, `"${entry.id}" is already the id of providers[${first}]`);
    seen.set(entry.id, i);
  });
}

function toSpec(entry: ProviderEntry, field: string, globals: Globals, implicit: boolean): ProviderSpec {
  if (entry.type === "mock") return { id: entry.id, type: "mock", implicit };
  const at = (key: string) => fieldPath(field, key);
  const baseUrl = httpUrl(entry.base_url, at("base_url"));
  if (entry.type === "anthropic" && /\/v1(\?|$)/.test(baseUrl)) {
    throw new FieldError(at("base_url"), "ends in /v1, but chatgate calls {base_url}/v1/messages itself: leave /v1 out");
  }
  checkHeaders(entry.headers, entry.api_key !== undefined ? (entry.type === "anthropic" ? "x-api-key" : "authorization") : undefined, at("headers"));
  if (entry.api_key !== undefined && !headerSafe(entry.api_key)) throw new FieldError(at("api_key"), NOT_HEADER_SAFE);
  const t = entry.timeouts;
  const timeouts = {
    firstByteMs: t.first_byte === undefined ? globals.streamIdleTimeoutMs : durationMs(t.first_byte, fieldPath(at("timeouts"), "first_byte"), 1),
    idleMs: t.idle === undefined ? globals.streamIdleTimeoutMs : durationMs(t.idle, fieldPath(at("timeouts"), "idle"), 1),
    totalMs: t.total === undefined ? globals.timeoutMs : durationMs(t.total, fieldPath(at("timeouts"), "total"), 1),
  };
  const network = {
    id: entry.id,
    implicit,
    baseUrl,
    apiKey: entry.api_key,
    headers: entry.headers,
    models: entry.models,
    timeouts,
    dropParams: entry.drop_params,
    continuation: entry.continuation,
  };
  if (entry.type === "openai") return { ...network, type: "openai" };
  return { ...network, type: "anthropic", anthropicVersion: entry.anthropic_version, maxTokens: entry.max_tokens };
}

function httpUrl(text: string, field: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new FieldError(field, "expected an http(s) URL");
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") throw new FieldError(field, "expected an http(s) URL");
  if (url.hash !== "") throw new FieldError(field, "must not have a #fragment");
  return withoutTrailingSlash(url);
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Header names and values that fetch would reject at the first request are refused at start. */
function checkHeaders(headers: Record<string, string>, keyHeader: string | undefined, field: string): void {
  for (const [name, value] of Object.entries(headers)) {
    const at = fieldPath(field, name);
    if (!TOKEN.test(name)) throw new FieldError(at, "not a valid header name");
    if (!headerSafe(value)) throw new FieldError(at, NOT_HEADER_SAFE);
    if (name.toLowerCase() === keyHeader) throw new FieldError(at, `conflicts with api_key, which is sent as ${keyHeader}: set one of them`);
  }
}

function toRoute(name: string, entry: ModelEntry, providers: ProviderSpec[]): ModelRoute {
  const field = fieldPath("models", name);
  if (name.trim() === "") throw new FieldError(field, "a public model name must not be empty");
  // `provider/model` already addresses a provider's model directly; a public name with a slash
  // would shadow or be shadowed by one, so it is refused rather than ranked.
  if (name.includes("/")) throw new FieldError(field, "a public model name must not contain '/' (provider/model already addresses a provider's model)");
  const targetsField = fieldPath(field, "targets");
  entry.targets.forEach((target, i) => {
    const at = (key: string) => fieldPath(fieldPath(targetsField, i), key);
    const provider = providers.find((p) => p.id === target.provider);
    if (provider === undefined) {
      const known = providers.map((p) => p.id);
      throw new FieldError(at("provider"), `no provider "${target.provider}" (${known.length ? `configured: ${known.join(", ")}` : "none is configured"})`);
    }
    if (provider.type !== "mock" && provider.models !== undefined && !provider.models.includes(target.model)) {
      throw new FieldError(at("model"), `provider "${provider.id}" lists only ${provider.models.join(", ")}`);
    }
    if (entry.strategy === "priority" && target.weight !== 1) throw new FieldError(at("weight"), "weights apply only to strategy: weighted");
  });
  if (entry.strategy === "weighted" && !entry.targets.some((t) => t.weight > 0)) {
    throw new FieldError(targetsField, "strategy weighted needs at least one target with a weight above 0");
  }
  if (entry.resume) {
    entry.targets.forEach((target, i) => {
      if (target.continuation !== undefined && target.continuation !== "none" && providers.find((p) => p.id === target.provider)?.type === "mock") {
        throw new FieldError(fieldPath(fieldPath(targetsField, i), "continuation"), "the mock provider cannot continue a partial answer");
      }
    });
  }
  return {
    strategy: entry.strategy,
    targets: entry.targets.map((t) => ({
      provider: t.provider, model: t.model, weight: t.weight,
      ...(t.continuation !== undefined ? { continuation: t.continuation } : {}),
      ...(t.price !== undefined ? { price: t.price } : {}),
    })),
    resume: entry.resume,
    maxResumes: entry.max_resumes,
    ...(entry.cache !== undefined ? { cacheTtlMs: durationMs(entry.cache.ttl, fieldPath(fieldPath(field, "cache"), "ttl"), 0) } : {}),
  };
}
