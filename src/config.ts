import { Type, type Static } from "@sinclair/typebox";
import { homedir } from "node:os";
import { durationMs, fileCore } from "./config/file-core.ts";
import { parseCorsOrigins } from "./config/cors-origins.ts";
import { FieldError } from "./config/field-error.ts";
import { HookSpec } from "./config/hook-spec.ts";
import { resolveHooks } from "./config/hooks.ts";
import { ON_REDIS_ERROR } from "./config/file-schema.ts";
import { configPathFrom, readConfigFile } from "./config/load-file.ts";
import { Continuation, ModelRoute, ProviderSpec } from "./config/provider-spec.ts";
import { resolveRouting } from "./config/routing.ts";
import { ClientKeySpec } from "./keys/key-spec.ts";
import { checkKeyModels, resolveKeys } from "./keys/resolve-keys.ts";
import { resolveDataDir } from "./ledger/data-dir.ts";
import { LOG_LEVELS } from "./obs/log-levels.ts";
import { DEFAULT_MAX_BYTES, DEFAULT_MAX_ENTRIES } from "./cache/memory-store.ts";
import { ConfigError } from "./config/config-error.ts";
import { adminKeys, parseKeys } from "./config/env-keys.ts";
import { otlpEndpoint, otlpHeaders, otlpSample } from "./config/env-otlp.ts";
import { baseUrl, continuation, duration, flag, integer, nonEmpty, oneOf, redisUrl } from "./config/env-values.ts";
import { NOT_HEADER_SAFE, headerSafe } from "./config/header-value.ts";

export { ConfigError, parseKeys };

/** Everything chatgate reads at start-up. The schema is the type; `parseConfig` fills it. */
export const Config = Type.Object({
  host: Type.String({ default: "127.0.0.1" }),
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  openaiApiKey: Type.Optional(Type.String()),
  openaiBaseUrl: Type.String({ default: "https://api.openai.com/v1" }),
  /** True when OPENAI_API_KEY or OPENAI_BASE_URL was given: only then is the upstream provider on. */
  upstreamConfigured: Type.Boolean(),
  mock: Type.Boolean({ default: false }),
  /** SHA-256 digests of the client keys (`api_keys` or CHATGATE_API_KEYS, then `keys:`); empty means no client auth. */
  apiKeyDigests: Type.Array(Type.Uint8Array()),
  /** The key of each digest, index for index: its id (`key-1`… for plain keys), limits and models. */
  clientKeys: Type.Array(ClientKeySpec),
  /** The file's reserve_completion_tokens: what a request without max_tokens reserves against its key's tpm and budget. */
  reserveCompletionTokens: Type.Integer({ minimum: 1 }),
  /** SHA-256 digests of CHATGATE_METRICS_KEY (env only): when set, the only keys /metrics takes; empty: the client keys'. */
  metricsKeyDigests: Type.Array(Type.Uint8Array()),
  allowNoAuth: Type.Boolean({ default: false }),
  rateLimitMax: Type.Integer({ minimum: 0, default: 60 }),
  rateLimitWindowMs: Type.Integer({ minimum: 1, default: 60_000 }),
  trustProxy: Type.Boolean({ default: false }),
  defaultModel: Type.String({ default: "gpt-4o-mini" }),
  timeoutMs: Type.Integer({ minimum: 1, default: 600_000 }),
  streamIdleTimeoutMs: Type.Integer({ minimum: 1, default: 60_000 }),
  maxBodyBytes: Type.Integer({ minimum: 1, default: 16 * 1024 * 1024 }),
  shutdownTimeoutMs: Type.Integer({ minimum: 0, default: 30_000 }),
  /** Largest non-streamed upstream body read; a larger one is a 502, never buffered whole. */
  maxUpstreamBytes: Type.Integer({ minimum: 1, default: 64 * 1024 * 1024 }),
  /** Failed key attempts per client address per minute before 429; 0 turns the limit off. */
  authFailureLimit: Type.Integer({ minimum: 0, default: 20 }),
  /** Most stream bytes handed to a client at once: larger upstream reads go out in pieces of whole events. */
  streamBufferBytes: Type.Integer({ minimum: 1, default: 1024 * 1024 }),
  /** Upstream silence after commit before a `: keep-alive` comment goes out; 0 turns it off. */
  streamHeartbeatMs: Type.Integer({ minimum: 0, default: 15_000 }),
  /**
   * Seconds an idle connection (keep-alive, or a slow request upload) stays open. Never applies
   * while a request waits on its provider: the stream and request timeouts bound that.
   */
  idleConnectionTimeoutS: Type.Integer({ minimum: 1, maximum: 255, default: 30 }),
  /** CHATGATE_RESUME: stream resume for requests routed to the env-only set-up's implicit providers. */
  resume: Type.Boolean({ default: false }),
  /** CHATGATE_CONTINUATION: how the implicit `openai` provider continues a partial answer. */
  implicitContinuation: Continuation,
  /**
   * CHATGATE_CACHE_TTL (a duration with its unit, `1h`), else the file's `cache.ttl`: how long the
   * response cache keeps answers for models without their own `cache.ttl`; 0 (the default): off.
   */
  cacheTtlMs: Type.Integer({ minimum: 0, default: 0 }),
  /** The file's `cache.max_entries`: most answers the response cache keeps in memory. */
  cacheMaxEntries: Type.Integer({ minimum: 1, default: DEFAULT_MAX_ENTRIES }),
  /** The file's `cache.max_bytes`: most bytes of answers the response cache keeps in memory. */
  cacheMaxBytes: Type.Integer({ minimum: 1024, default: DEFAULT_MAX_BYTES }),
  /** CHATGATE_REDIS_URL, else the file's `redis.url`: limits, budgets and the cache shared through this Redis; unset: in memory. */
  redisUrl: Type.Optional(Type.String()),
  /** CHATGATE_REDIS_TIMEOUT_MS, else `redis.timeout`: the longest wait for one Redis command (default 100 ms). */
  redisTimeoutMs: Type.Integer({ minimum: 1, default: 100 }),
  /** CHATGATE_REDIS_LIMITS_ON_ERROR, else `redis.on_error.limits`: request and token limits while Redis does not answer. */
  redisLimitsOnError: Type.Union(ON_REDIS_ERROR.map((p) => Type.Literal(p)), { default: "fail_open" }),
  /** CHATGATE_REDIS_BUDGETS_ON_ERROR, else `redis.on_error.budgets`: budgets while Redis does not answer (fail_closed: 503). */
  redisBudgetsOnError: Type.Union(ON_REDIS_ERROR.map((p) => Type.Literal(p)), { default: "fail_closed" }),
  /** CHATGATE_LOG_LEVEL: the least severe level written. */
  logLevel: Type.Union(LOG_LEVELS.map((l) => Type.Literal(l)), { default: "info" }),
  /** CHATGATE_LOG_REQUESTS: one line per request (0 turns it off; truncated streams are still logged). */
  logRequests: Type.Boolean({ default: true }),
  /** CHATGATE_LOG_FORMAT: `json` or `pretty`; unset, JSON unless stdout is a terminal. */
  logFormat: Type.Optional(Type.Union([Type.Literal("json"), Type.Literal("pretty")])),
  /**
   * CHATGATE_CORS_ORIGINS: browser origins allowed to call the gateway (`https://app.example.com`),
   * or `["*"]` for any; empty (the default) turns CORS off. See src/config/cors-origins.ts.
   */
  corsOrigins: Type.Array(Type.String()),
  /**
   * Where chatgate keeps its state (the usage ledger): --data-dir, CHATGATE_DATA_DIR, else
   * $STATE_DIRECTORY (systemd), else $XDG_DATA_HOME/chatgate or ~/.local/share/chatgate.
   */
  dataDir: Type.String(),
  /** CHATGATE_LEDGER: the usage ledger is on unless 0; off, nothing is opened and nothing listens for requests. */
  ledger: Type.Boolean(),
  /** SHA-256 digests of CHATGATE_ADMIN_KEY (env only): the keys GET /v1/usage takes; empty: the report is off. */
  adminKeyDigests: Type.Array(Type.Uint8Array()),
  /** CHATGATE_OTLP_ENDPOINT, as the URL spans are POSTed to (ending in `/v1/traces`); unset: tracing off, nothing loaded. */
  otlpEndpoint: Type.Optional(Type.String()),
  /** CHATGATE_OTLP_HEADERS: headers sent with every export (a collector's credentials: never logged or shown). */
  otlpHeaders: Type.Record(Type.String(), Type.String()),
  /** CHATGATE_OTLP_SAMPLE: the share of new traces exported, 0 to 1; a caller's sampled flag always wins. */
  otlpSample: Type.Number({ minimum: 0, maximum: 1, default: 1 }),
  /** How long the ledger keeps a request's row: the file's `retention`, or CHATGATE_RETENTION_DAYS. */
  retentionMs: Type.Integer({ minimum: 1 }),
  // From here on: the config file (src/config/), whose schema holds these defaults.
  /** Every provider: the file's, then the implicit `openai` (OPENAI_*) and `mock` ones. */
  providers: Type.Array(ProviderSpec),
  /** Public model name → targets, from the file's `models:`. */
  models: Type.Record(Type.String(), ModelRoute),
  /** Attempts per target after the first. */
  retries: Type.Integer({ minimum: 0 }),
  /** Longest upstream Retry-After waited for; longer moves on to the next target. */
  maxRetryWaitMs: Type.Integer({ minimum: 0 }),
  /** Failures in a row that put a target into cooldown; 0: never. */
  cooldownAfter: Type.Integer({ minimum: 0 }),
  cooldownMs: Type.Integer({ minimum: 1 }),
  /** The config file read, as given by --config or CHATGATE_CONFIG. */
  configPath: Type.Optional(Type.String()),
  /** What the file is warned of (it still loads): logged at start, printed by check-config. */
  fileWarnings: Type.Array(Type.String()),
  /** Webhook channels by name, from the file's `hooks:` (`POST /hooks/<name>`); empty: none, and nothing of them runs. */
  hooks: Type.Record(Type.String(), HookSpec),
});
export type Config = Static<typeof Config>;


export type Env = Record<string, string | undefined>;

/** Command-line flags, which win over the environment. */
export interface Flags {
  host?: string;
  port?: string;
  mock?: boolean;
  /** --config: the YAML config file (else CHATGATE_CONFIG). */
  config?: string;
  /** --data-dir: where the usage ledger lives (else CHATGATE_DATA_DIR, …). */
  dataDir?: string;
}

const DAY_MS = 86_400_000;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

/**
 * Flags win over the environment, which wins over the config file (--config / CHATGATE_CONFIG),
 * which wins over the built-in defaults. A bad file refuses with a ConfigError naming the file.
 */
export function parseConfig(env: Env, flags: Flags = {}): Config {
  const configPath = configPathFrom(env, flags);
  const { doc, warnings } = readConfigFile(configPath, env);
  const file = inFile(configPath, () => fileCore(doc));
  // Set but empty is a refusal (parseKeys), not "unset": it must not fall back to the file's keys.
  const plainFromFile = env.CHATGATE_API_KEYS === undefined && file.apiKeyDigests !== undefined;
  const plain = plainFromFile ? file.apiKeyDigests! : parseKeys(env.CHATGATE_API_KEYS);
  // The file's `keys:` come on top of the plain keys, whichever source those came from.
  const clients = inFile(configPath, () => resolveKeys(plain, plainFromFile ? "file" : "env", doc.keys));
  const keys = clients.digests;
  const host = nonEmpty(flags.host ?? env.HOST, file.host ?? "127.0.0.1");
  const core = {
    host,
    port: integer(flags.port !== undefined ? "--port" : "PORT", flags.port ?? env.PORT, file.port ?? 3000, 0, 65535),
    openaiApiKey: openaiKey(env.OPENAI_API_KEY),
    openaiBaseUrl: baseUrl(env.OPENAI_BASE_URL),
    upstreamConfigured: Boolean(env.OPENAI_API_KEY || env.OPENAI_BASE_URL),
    mock: flags.mock === true || flag("CHATGATE_MOCK", env.CHATGATE_MOCK, file.mock),
    apiKeyDigests: keys,
    clientKeys: clients.keys,
    reserveCompletionTokens: doc.reserve_completion_tokens,
    metricsKeyDigests: parseKeys(env.CHATGATE_METRICS_KEY, "CHATGATE_METRICS_KEY", "let the client keys read /metrics"),
    allowNoAuth: flag("CHATGATE_ALLOW_NO_AUTH", env.CHATGATE_ALLOW_NO_AUTH, file.allowNoAuth),
    rateLimitMax: integer("CHATGATE_RATE_LIMIT_MAX", env.CHATGATE_RATE_LIMIT_MAX, file.rateLimitMax ?? 60, 0),
    rateLimitWindowMs: integer("CHATGATE_RATE_LIMIT_WINDOW_MS", env.CHATGATE_RATE_LIMIT_WINDOW_MS, file.rateLimitWindowMs ?? 60_000, 1),
    trustProxy: flag("CHATGATE_TRUST_PROXY", env.CHATGATE_TRUST_PROXY, file.trustProxy),
    defaultModel: nonEmpty(env.CHATGATE_DEFAULT_MODEL, file.defaultModel ?? "gpt-4o-mini"),
    timeoutMs: integer("CHATGATE_TIMEOUT_MS", env.CHATGATE_TIMEOUT_MS, file.timeoutMs ?? 600_000, 1),
    streamIdleTimeoutMs: integer("CHATGATE_STREAM_IDLE_TIMEOUT_MS", env.CHATGATE_STREAM_IDLE_TIMEOUT_MS, file.streamIdleTimeoutMs ?? 60_000, 1),
    maxBodyBytes: integer("CHATGATE_MAX_BODY_BYTES", env.CHATGATE_MAX_BODY_BYTES, file.maxBodyBytes ?? 16 * 1024 * 1024, 1),
    shutdownTimeoutMs: integer("CHATGATE_SHUTDOWN_TIMEOUT_MS", env.CHATGATE_SHUTDOWN_TIMEOUT_MS, file.shutdownTimeoutMs ?? 30_000, 0),
    maxUpstreamBytes: integer("CHATGATE_MAX_UPSTREAM_BYTES", env.CHATGATE_MAX_UPSTREAM_BYTES, file.maxUpstreamBytes ?? 64 * 1024 * 1024, 1),
    authFailureLimit: integer("CHATGATE_AUTH_FAILURE_LIMIT", env.CHATGATE_AUTH_FAILURE_LIMIT, file.authFailureLimit ?? 20, 0),
    streamBufferBytes: integer("CHATGATE_STREAM_BUFFER_BYTES", env.CHATGATE_STREAM_BUFFER_BYTES, file.streamBufferBytes ?? 1024 * 1024, 1),
    streamHeartbeatMs: integer("CHATGATE_STREAM_HEARTBEAT_MS", env.CHATGATE_STREAM_HEARTBEAT_MS, file.streamHeartbeatMs ?? 15_000, 0),
    idleConnectionTimeoutS: integer("CHATGATE_IDLE_CONNECTION_TIMEOUT_S", env.CHATGATE_IDLE_CONNECTION_TIMEOUT_S, file.idleConnectionTimeoutS ?? 30, 1, 255),
    resume: flag("CHATGATE_RESUME", env.CHATGATE_RESUME, undefined),
    implicitContinuation: continuation(env.CHATGATE_CONTINUATION),
    cacheTtlMs: duration("CHATGATE_CACHE_TTL", env.CHATGATE_CACHE_TTL, file.cacheTtlMs ?? 0),
    cacheMaxEntries: file.cacheMaxEntries ?? DEFAULT_MAX_ENTRIES,
    cacheMaxBytes: file.cacheMaxBytes ?? DEFAULT_MAX_BYTES,
    redisUrl: redisUrl(env.CHATGATE_REDIS_URL?.trim() || doc.redis?.url),
    redisTimeoutMs: integer("CHATGATE_REDIS_TIMEOUT_MS", env.CHATGATE_REDIS_TIMEOUT_MS, inFile(configPath, () => durationMs(doc.redis?.timeout ?? "100ms", "redis.timeout", 1)), 1),
    redisLimitsOnError: oneOf("CHATGATE_REDIS_LIMITS_ON_ERROR", env.CHATGATE_REDIS_LIMITS_ON_ERROR, ON_REDIS_ERROR, doc.redis?.on_error?.limits ?? "fail_open"),
    redisBudgetsOnError: oneOf("CHATGATE_REDIS_BUDGETS_ON_ERROR", env.CHATGATE_REDIS_BUDGETS_ON_ERROR, ON_REDIS_ERROR, doc.redis?.on_error?.budgets ?? "fail_closed"),
    logLevel: oneOf("CHATGATE_LOG_LEVEL", env.CHATGATE_LOG_LEVEL, LOG_LEVELS, "info"),
    logRequests: flag("CHATGATE_LOG_REQUESTS", env.CHATGATE_LOG_REQUESTS, true),
    logFormat: env.CHATGATE_LOG_FORMAT?.trim() ? oneOf("CHATGATE_LOG_FORMAT", env.CHATGATE_LOG_FORMAT, ["json", "pretty"] as const, "json") : undefined,
    corsOrigins: parseCorsOrigins(env.CHATGATE_CORS_ORIGINS),
    dataDir: resolveDataDir(env, env.HOME?.trim() || homedir(), flags.dataDir),
    // On unless `CHATGATE_LEDGER=0`; any value but a boolean refuses to start, as every flag does.
    ledger: flag("CHATGATE_LEDGER", env.CHATGATE_LEDGER, true),
    adminKeyDigests: adminKeys(env.CHATGATE_ADMIN_KEY, keys),
    otlpEndpoint: otlpEndpoint(env.CHATGATE_OTLP_ENDPOINT),
    otlpHeaders: otlpHeaders(env.CHATGATE_OTLP_HEADERS),
    otlpSample: otlpSample(env.CHATGATE_OTLP_SAMPLE, Config.properties.otlpSample.default),
  };
  const routing = inFile(configPath, () => resolveRouting(doc, core, configPath));
  inFile(configPath, () => checkKeyModels(doc.keys, routing));
  const hooks = inFile(configPath, () => resolveHooks(doc.hooks, routing));
  const config: Config = {
    ...core,
    ...routing,
    hooks,
    fileWarnings: warnings,
    retries: integer("CHATGATE_RETRIES", env.CHATGATE_RETRIES, routing.retries, 0, 10),
    maxRetryWaitMs: integer("CHATGATE_MAX_RETRY_WAIT_MS", env.CHATGATE_MAX_RETRY_WAIT_MS, routing.maxRetryWaitMs, 0),
    cooldownAfter: integer("CHATGATE_COOLDOWN_AFTER", env.CHATGATE_COOLDOWN_AFTER, routing.cooldownAfter, 0),
    cooldownMs: integer("CHATGATE_COOLDOWN_MS", env.CHATGATE_COOLDOWN_MS, routing.cooldownMs, 1),
    retentionMs: env.CHATGATE_RETENTION_DAYS?.trim()
      ? integer("CHATGATE_RETENTION_DAYS", env.CHATGATE_RETENTION_DAYS, 0, 1, 100_000) * DAY_MS
      : inFile(configPath, () => durationMs(doc.retention, "retention", 1)),
  };
  refuseOpenExposure(config);
  return config;
}

/**
 * A non-loopback address without client keys is refused unless CHATGATE_ALLOW_NO_AUTH says so: at
 * start, and on a reload, whose file may drop the keys while the listener keeps its address.
 */
/** OPENAI_API_KEY, refused at start when it cannot go in a header (a pasted invisible character). */
function openaiKey(value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (!headerSafe(value)) throw new ConfigError("OPENAI_API_KEY", NOT_HEADER_SAFE);
  return value;
}

export function refuseOpenExposure(config: Pick<Config, "host" | "apiKeyDigests" | "allowNoAuth">): void {
  if (isLoopback(config.host) || config.apiKeyDigests.length > 0 || config.allowNoAuth) return;
  throw new ConfigError(
    "HOST",
    `binding ${config.host} (not loopback) without client keys would expose the gateway to anyone who can reach it. ` +
      "Set CHATGATE_API_KEYS, or CHATGATE_ALLOW_NO_AUTH=1 to run open on purpose.",
  );
}

/** A problem found in the file's values becomes a refusal naming the file. */
function inFile<T>(path: string | undefined, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof FieldError) throw new ConfigError(path ?? "config", err.message);
    throw err;
  }
}
