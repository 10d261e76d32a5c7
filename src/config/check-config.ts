// `chatgate check-config <path>`: validate the file as start-up would (same messages), then print
// what it resolves to — providers, routes, and where each core setting comes from — without a
// secret: keys and header values print as ***.
import { ConfigError, parseConfig, type Config, type Env, type Flags } from "../config.ts";
import { formatDuration } from "./duration.ts";
import { configPathFrom, writtenSettings } from "./load-file.ts";
import type { ModelRoute, ProviderSpec } from "./provider-spec.ts";
import { CORE_SETTINGS, describeSetting } from "./settings.ts";

export const MASK = "***";

/**
 * Header values print as *** unless the header is known to carry no secret: a custom header
 * (`x-portkey-api-key`, `cf-aig-authorization`, Azure's `api-key`) may well hold one, and a
 * masked harmless value costs less than a printed key.
 */
export const SAFE_HEADERS = new Set([
  "accept", "anthropic-beta", "anthropic-version", "content-type", "http-referer", "openai-organization",
  "openai-project", "user-agent", "x-title",
]);

export interface CheckResult {
  /** 0: the file is good; 1: it would refuse to start (the message is on stderr); 2: no file named. */
  code: 0 | 1 | 2;
  stdout: string;
  stderr: string;
}

/** `path` (the command's argument) else --config / CHATGATE_CONFIG; the environment applies as at start-up. */
export function checkConfig(given: string | undefined, env: Env, flags: Flags): CheckResult {
  const path = given ?? configPathFrom(env, flags);
  if (path === undefined) return { code: 2, stdout: "", stderr: "chatgate: check-config needs a config file: chatgate check-config <path>\n" };
  let config: Config;
  let written: Record<string, unknown>;
  try {
    config = parseConfig(env, { ...flags, config: path });
    written = writtenSettings(path, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { code: 1, stdout: "", stderr: `chatgate: ${err.message}\n` };
  }
  const lines = [
    `${path}: OK`,
    "providers:",
    ...(config.providers.length ? config.providers.flatMap((p) => providerLines(p, env, flags)) : ["  none"]),
    "models:",
    ...(Object.keys(config.models).length ? Object.entries(config.models).map(([name, route]) => `  ${routeLine(name, route)}`) : ["  none"]),
    `retries: ${config.retries}, max_retry_wait: ${formatDuration(config.maxRetryWaitMs)}, ` +
      `cooldown_after: ${config.cooldownAfter}, cooldown: ${formatDuration(config.cooldownMs)}`,
    cacheLine(config, env),
    ...keyLines(config),
    ...hookLines(config),
    "settings:",
    ...CORE_SETTINGS.map((s) => `  ${describeSetting(s, config, written, env, flags)}`),
    ...notes(config, env),
  ];
  return { code: 0, stdout: `${lines.join("\n")}\n`, stderr: "" };
}

function providerLines(p: ProviderSpec, env: Env, flags: Flags): string[] {
  if (p.type === "mock") return [`  ${p.id} (mock${p.implicit ? `, from ${mockSource(env, flags)}` : ""})`];
  const origin = p.implicit ? ", from OPENAI_API_KEY / OPENAI_BASE_URL" : "";
  const t = p.timeouts;
  const details = [
    p.apiKey === undefined ? "no api_key" : `api_key ${MASK}`,
    ...(p.type === "anthropic" ? [`anthropic_version ${p.anthropicVersion}`, `max_tokens ${p.maxTokens}`] : []),
    `timeouts first_byte ${formatDuration(t.firstByteMs)}, idle ${formatDuration(t.idleMs)}, total ${formatDuration(t.totalMs)}`,
    ...(Object.keys(p.headers).length ? [`headers ${Object.entries(p.headers).map(([k, v]) => `${k}: ${maskHeader(k, v)}`).join(", ")}`] : []),
    p.models ? `models ${p.models.join(", ")}` : "models from its /models list",
    ...(p.dropParams ? ["drop_params"] : []),
    ...(p.continuation !== "none" ? [`continuation ${p.continuation}`] : []),
  ];
  return [`  ${p.id} (${p.type}${origin}): ${maskUrl(p.baseUrl)}`, `    ${details.join("; ")}`];
}

function routeLine(name: string, route: ModelRoute): string {
  const targets = route.targets.map((t) => {
    const notes = [
      ...(route.strategy === "weighted" ? [`weight ${t.weight}`] : []),
      ...(t.continuation !== undefined ? [`continuation ${t.continuation}`] : []),
      ...(t.price !== undefined ? [`price $${t.price.input} in, $${t.price.output} out${t.price.cached_input !== undefined ? `, $${t.price.cached_input} cached` : ""} per 1M`] : []),
    ];
    return `${t.provider}/${t.model}${notes.length ? ` (${notes.join(", ")})` : ""}`;
  });
  const resume = route.resume ? `, resume up to ${route.maxResumes} time${route.maxResumes === 1 ? "" : "s"}` : "";
  const cache = route.cacheTtlMs !== undefined ? `, cache ${route.cacheTtlMs === 0 ? "off" : `ttl ${formatDuration(route.cacheTtlMs)}`}` : "";
  return `${name} (${route.strategy}${resume}${cache}): ${targets.join(route.strategy === "priority" ? ", then " : ", ")}`;
}

/** The response cache for models without a `cache:` of their own, and where its ttl comes from. */
function cacheLine(config: Config, env: Env): string {
  const from = (env.CHATGATE_CACHE_TTL ?? "").trim() !== "" ? "CHATGATE_CACHE_TTL" : config.cacheTtlMs > 0 ? "cache.ttl" : "default";
  const ttl = config.cacheTtlMs > 0 ? `ttl ${formatDuration(config.cacheTtlMs)} (from ${from})` : `off for models without their own cache: (from ${from})`;
  return `cache: ${ttl}, max_entries ${config.cacheMaxEntries}, max_bytes ${config.cacheMaxBytes}`;
}

/**
 * Each client key by id (never the key) with its limits, budget and models, once any key has one
 * (a key without them is listed too: it is under the global limit, with every model); what a
 * request without max_tokens reserves.
 */
function keyLines(config: Config): string[] {
  const limited = config.clientKeys.some((k) => k.rpm !== undefined || k.tpm !== undefined || k.budget !== undefined || k.models !== undefined);
  if (!limited) return [];
  return [
    "keys:",
    ...config.clientKeys.map((k) => {
      const parts = [
        k.rpm !== undefined ? `rpm ${k.rpm}` : "rpm: the global rate limit",
        ...(k.tpm !== undefined ? [`tpm ${k.tpm}`] : []),
        ...(k.budget !== undefined ? [`budget $${k.budget.usd} a ${k.budget.period}`] : []),
        k.models !== undefined ? `models ${k.models.join(", ")}` : "every model",
      ];
      return `  ${k.id}: ${parts.join("; ")}`;
    }),
    `  reserve_completion_tokens: ${config.reserveCompletionTokens} (what a request without max_tokens reserves against tpm and budget)`,
  ];
}

/** The webhook channels, when there are: the secret only as *** (or the client key a hook takes instead). */
function hookLines(config: Config): string[] {
  const hooks = Object.values(config.hooks);
  if (hooks.length === 0) return [];
  return [
    "hooks:",
    ...hooks.map((h) => {
      const auth = h.secret !== undefined ? `secret ${MASK}` : "client key";
      const limit = h.rpm !== undefined ? `, rpm ${h.rpm}` : "";
      return `  /hooks/${h.name} → ${h.model} (${auth}; memory ${h.turns} turns, ttl ${formatDuration(h.ttlMs)}, ${h.maxSenders} senders, ${h.maxBytes} bytes${limit})`;
    }),
  ];
}

function mockSource(env: Env, flags: Flags): string {
  if (flags.mock) return "--mock";
  return (env.CHATGATE_MOCK ?? "").trim() !== "" ? "CHATGATE_MOCK" : "mock: true";
}

/** The environment's OPENAI_* never patch a file provider `openai`; say so when they differ. */
function notes(config: Config, env: Env): string[] {
  const out: string[] = config.fileWarnings.map((w) => w.replace(/^chatgate: warning: [^:]*: /, "warning: "));
  const fileOpenAI = config.providers.find((p) => p.id === "openai" && !p.implicit);
  if (fileOpenAI !== undefined && fileOpenAI.type !== "mock" && env.OPENAI_BASE_URL && config.openaiBaseUrl !== fileOpenAI.baseUrl) out.push("OPENAI_BASE_URL is not used: the file defines provider openai with its own base_url");
  if (fileOpenAI !== undefined && fileOpenAI.type !== "mock" && env.OPENAI_API_KEY && env.OPENAI_API_KEY !== fileOpenAI.apiKey) out.push("OPENAI_API_KEY is not used: the file's provider openai takes its api_key from elsewhere");
  return out.length ? ["notes:", ...out.map((n) => `  ${n}`)] : [];
}

export function maskHeader(name: string, value: string): string {
  return SAFE_HEADERS.has(name.toLowerCase()) ? value : MASK;
}

/** A URL with any user, password or query value replaced: some hosts take the key there. */
export function maskUrl(href: string): string {
  const url = new URL(href);
  if (url.username) url.username = MASK;
  if (url.password) url.password = MASK;
  for (const key of new Set(url.searchParams.keys())) url.searchParams.set(key, MASK);
  return url.href.replace(/\/+$/, "");
}
