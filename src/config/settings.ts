// The core settings that both the environment and the file can set: their names in each place,
// for check-config's "where does this come from" and for hints when an environment variable's
// name is written into the file.
import type { Config, Env, Flags } from "../config.ts";
import { formatDuration } from "./duration.ts";
import type { FileConfig } from "./file-schema.ts";

export interface CoreSetting {
  /** Where it sits in the file (`rate_limit.window`). */
  key: string;
  env: string;
  flag?: "host" | "port" | "mock";
  /** The resolved value as check-config prints it: never a key. */
  show(config: Config): string;
  /** How the file's own value is shown, when it may hold a secret (a password in a URL). */
  hide?: (text: string) => string;
  /** Another key of the file that adds to this setting (client keys: `keys:` on top of `api_keys`). */
  addedBy?: string;
}

/** A URL with its password (and user) replaced: `redis://***@host:6379/0`. */
export function withoutCredentials(text: string): string {
  try {
    const url = new URL(text);
    if (url.username === "" && url.password === "") return text;
    url.username = "***";
    url.password = "";
    return url.href;
  } catch {
    return "(not a URL)";
  }
}

const keyCount = (n: number) => `${n} key${n === 1 ? "" : "s"}`;
const ms = (pick: (c: Config) => number) => (c: Config) => formatDuration(pick(c));

export const CORE_SETTINGS: readonly CoreSetting[] = [
  { key: "host", env: "HOST", flag: "host", show: (c) => c.host },
  { key: "port", env: "PORT", flag: "port", show: (c) => String(c.port) },
  // Every client key, `keys:` entries included, by id (never the key).
  { key: "api_keys", env: "CHATGATE_API_KEYS", addedBy: "keys", show: (c) => (c.apiKeyDigests.length ? `${keyCount(c.apiKeyDigests.length)}: ${c.clientKeys.map((k) => k.id).join(", ")}` : "none, no client auth") },
  { key: "allow_no_auth", env: "CHATGATE_ALLOW_NO_AUTH", show: (c) => String(c.allowNoAuth) },
  { key: "rate_limit.max", env: "CHATGATE_RATE_LIMIT_MAX", show: (c) => String(c.rateLimitMax) },
  { key: "rate_limit.window", env: "CHATGATE_RATE_LIMIT_WINDOW_MS", show: ms((c) => c.rateLimitWindowMs) },
  { key: "trust_proxy", env: "CHATGATE_TRUST_PROXY", show: (c) => String(c.trustProxy) },
  { key: "default_model", env: "CHATGATE_DEFAULT_MODEL", show: (c) => c.defaultModel },
  { key: "timeout", env: "CHATGATE_TIMEOUT_MS", show: ms((c) => c.timeoutMs) },
  { key: "stream_idle_timeout", env: "CHATGATE_STREAM_IDLE_TIMEOUT_MS", show: ms((c) => c.streamIdleTimeoutMs) },
  { key: "max_body_bytes", env: "CHATGATE_MAX_BODY_BYTES", show: (c) => String(c.maxBodyBytes) },
  { key: "shutdown_timeout", env: "CHATGATE_SHUTDOWN_TIMEOUT_MS", show: ms((c) => c.shutdownTimeoutMs) },
  { key: "max_upstream_bytes", env: "CHATGATE_MAX_UPSTREAM_BYTES", show: (c) => String(c.maxUpstreamBytes) },
  { key: "auth_failure_limit", env: "CHATGATE_AUTH_FAILURE_LIMIT", show: (c) => String(c.authFailureLimit) },
  { key: "stream_buffer_bytes", env: "CHATGATE_STREAM_BUFFER_BYTES", show: (c) => String(c.streamBufferBytes) },
  { key: "stream_heartbeat", env: "CHATGATE_STREAM_HEARTBEAT_MS", show: ms((c) => c.streamHeartbeatMs) },
  { key: "mock", env: "CHATGATE_MOCK", flag: "mock", show: (c) => String(c.mock) },
  { key: "idle_connection_timeout", env: "CHATGATE_IDLE_CONNECTION_TIMEOUT_S", show: (c) => `${c.idleConnectionTimeoutS}s` },
  { key: "retries", env: "CHATGATE_RETRIES", show: (c) => String(c.retries) },
  { key: "max_retry_wait", env: "CHATGATE_MAX_RETRY_WAIT_MS", show: ms((c) => c.maxRetryWaitMs) },
  { key: "cooldown_after", env: "CHATGATE_COOLDOWN_AFTER", show: (c) => String(c.cooldownAfter) },
  { key: "cooldown", env: "CHATGATE_COOLDOWN_MS", show: ms((c) => c.cooldownMs) },
  { key: "retention", env: "CHATGATE_RETENTION_DAYS", show: ms((c) => c.retentionMs) },
  { key: "redis.url", env: "CHATGATE_REDIS_URL", show: (c) => (c.redisUrl === undefined ? "none, state in memory" : withoutCredentials(c.redisUrl)), hide: withoutCredentials },
  { key: "redis.timeout", env: "CHATGATE_REDIS_TIMEOUT_MS", show: ms((c) => c.redisTimeoutMs) },
  { key: "redis.on_error.limits", env: "CHATGATE_REDIS_LIMITS_ON_ERROR", show: (c) => c.redisLimitsOnError },
  { key: "redis.on_error.budgets", env: "CHATGATE_REDIS_BUDGETS_ON_ERROR", show: (c) => c.redisBudgetsOnError },
];

/** The value the file gave a setting, as written there (keys counted, never shown). */
export function fileValue(doc: FileConfig | Record<string, unknown>, key: string): string | undefined {
  let node: unknown = doc;
  for (const part of key.split(".")) node = node !== null && typeof node === "object" ? (node as Record<string, unknown>)[part] : undefined;
  if (node === undefined) return undefined;
  return Array.isArray(node) ? keyCount(node.length) : String(node);
}

/** "port: 8080 (from PORT, overrides the file's 3000)" — what wins, and what it overrides. */
export function describeSetting(setting: CoreSetting, config: Config, doc: FileConfig | Record<string, unknown>, env: Env, flags: Flags): string {
  const written = fileValue(doc, setting.key);
  const given = written !== undefined && setting.hide !== undefined ? setting.hide(written) : written;
  const flagGiven = setting.flag !== undefined && flags[setting.flag] !== undefined && flags[setting.flag] !== false;
  const envGiven = (env[setting.env] ?? "").trim() !== "";
  const winner = flagGiven ? `--${setting.flag}` : envGiven ? setting.env : undefined;
  const from = winner
    ? `from ${winner}${given !== undefined ? `, overrides the file's ${given}` : ""}`
    : given !== undefined ? "from the file" : "default";
  const added = setting.addedBy !== undefined && fileValue(doc, setting.addedBy) !== undefined ? setting.addedBy : undefined;
  if (added === undefined) return `${setting.key}: ${setting.show(config)} (${from})`;
  return `${setting.key}: ${setting.show(config)} (${from === "default" ? `from the file's ${added}:` : `${from}, and the file's ${added}:`})`;
}

/** The file key for an environment variable's name, when someone writes `PORT:` in the file. */
export function fileKeyForEnv(name: string): string | undefined {
  return CORE_SETTINGS.find((s) => s.env === name)?.key;
}
