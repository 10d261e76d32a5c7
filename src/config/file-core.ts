// The core settings as the file gives them, in Config's units (ms, key digests). Absent keys stay
// absent: the environment, then src/config.ts's built-in value, fills those.
import type { Config } from "../config.ts";
import { ConfigError } from "./config-error.ts";
import { parseKeys } from "./env-keys.ts";
import { parseDuration } from "./duration.ts";
import { FieldError, fieldPath } from "./field-error.ts";
import type { FileConfig } from "./file-schema.ts";

export type FileCore = Partial<
  Pick<
    Config,
    | "host" | "port" | "apiKeyDigests" | "allowNoAuth" | "rateLimitMax" | "rateLimitWindowMs" | "trustProxy" | "defaultModel"
    | "timeoutMs" | "streamIdleTimeoutMs" | "maxBodyBytes" | "shutdownTimeoutMs" | "maxUpstreamBytes" | "authFailureLimit"
    | "streamBufferBytes" | "streamHeartbeatMs" | "mock" | "cacheTtlMs" | "cacheMaxEntries" | "cacheMaxBytes" | "idleConnectionTimeoutS"
  >
>;

/** Milliseconds of a duration the schema has accepted, refusing one below `min`. */
export function durationMs(text: string, field: string, min: number): number {
  const ms = parseDuration(text)!;
  if (ms < min) throw new FieldError(field, min === 1 ? "must be at least 1ms" : `must be at least ${min}ms`);
  return ms;
}

const optionalMs = (text: string | undefined, field: string, min: number) => (text === undefined ? undefined : durationMs(text, field, min));

/** Whole seconds of a duration, from 1 s to `max` (Bun's idle timeout is a byte of seconds). */
function optionalSeconds(text: string | undefined, field: string, max: number): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text)!;
  if (ms % 1000 !== 0 || ms < 1000 || ms > max * 1000) throw new FieldError(field, `must be whole seconds from 1s to ${max}s`);
  return ms / 1000;
}

export function fileCore(doc: FileConfig): FileCore {
  const core: FileCore = {
    host: doc.host,
    port: doc.port,
    apiKeyDigests: doc.api_keys && fileKeys(doc.api_keys),
    allowNoAuth: doc.allow_no_auth,
    rateLimitMax: doc.rate_limit?.max,
    rateLimitWindowMs: optionalMs(doc.rate_limit?.window, "rate_limit.window", 1),
    trustProxy: doc.trust_proxy,
    defaultModel: doc.default_model,
    timeoutMs: optionalMs(doc.timeout, "timeout", 1),
    streamIdleTimeoutMs: optionalMs(doc.stream_idle_timeout, "stream_idle_timeout", 1),
    maxBodyBytes: doc.max_body_bytes,
    shutdownTimeoutMs: optionalMs(doc.shutdown_timeout, "shutdown_timeout", 0),
    maxUpstreamBytes: doc.max_upstream_bytes,
    authFailureLimit: doc.auth_failure_limit,
    streamBufferBytes: doc.stream_buffer_bytes,
    streamHeartbeatMs: optionalMs(doc.stream_heartbeat, "stream_heartbeat", 0),
    idleConnectionTimeoutS: optionalSeconds(doc.idle_connection_timeout, "idle_connection_timeout", 255),
    mock: doc.mock,
    cacheTtlMs: optionalMs(doc.cache?.ttl, "cache.ttl", 0),
    cacheMaxEntries: doc.cache?.max_entries,
    cacheMaxBytes: doc.cache?.max_bytes,
  };
  return core;
}

/**
 * The same rules as CHATGATE_API_KEYS (parseKeys: `sha256:<hex>` digests, empty keys refused),
 * one entry at a time so a refusal names `api_keys[i]`; the message never holds the key.
 */
function fileKeys(keys: string[]): Uint8Array[] {
  return keys.flatMap((key, i) => {
    try {
      if (key.includes(",")) throw new FieldError(fieldPath("api_keys", i), "one key per entry: a key must not contain a comma");
      return parseKeys(key);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      const problem = err.message.slice(err.variable.length + 2).replace(/^entry 1:?\s*/, "");
      throw new FieldError(fieldPath("api_keys", i), problem);
    }
  });
}
