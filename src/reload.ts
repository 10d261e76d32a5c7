// What a config reload may change, and the one line it logs. Pure: app.ts swaps the objects,
// serve.ts reads the file on SIGHUP.
import type { Config } from "./config.ts";

/**
 * Settings built into the listening server or the HTTP routes at start: a reload keeps their running
 * values and says they need a restart. Named as their environment variables.
 */
const RESTART_ONLY = {
  host: "HOST",
  port: "PORT",
  idleConnectionTimeoutS: "CHATGATE_IDLE_CONNECTION_TIMEOUT_S",
  maxBodyBytes: "CHATGATE_MAX_BODY_BYTES",
  streamHeartbeatMs: "CHATGATE_STREAM_HEARTBEAT_MS",
  streamIdleTimeoutMs: "CHATGATE_STREAM_IDLE_TIMEOUT_MS",
  defaultModel: "CHATGATE_DEFAULT_MODEL",
  // The ledger is opened once, with its retention (the data dir and CHATGATE_LEDGER are not in the file).
  retentionMs: "CHATGATE_RETENTION_DAYS",
  // One Redis connection for the process's life, with its bound and policies.
  redisUrl: "CHATGATE_REDIS_URL",
  redisTimeoutMs: "CHATGATE_REDIS_TIMEOUT_MS",
  redisLimitsOnError: "CHATGATE_REDIS_LIMITS_ON_ERROR",
  redisBudgetsOnError: "CHATGATE_REDIS_BUDGETS_ON_ERROR",
} as const satisfies Partial<Record<keyof Config, string>>;

/** `next` with the restart-only settings put back to their running values, and which of them differed. */
export function keepRestartOnly(running: Config, next: Config): { config: Config; needRestart: string[] } {
  const config = { ...next };
  const needRestart: string[] = [];
  for (const [field, name] of Object.entries(RESTART_ONLY) as [keyof typeof RESTART_ONLY, string][]) {
    if (running[field] === next[field]) continue;
    needRestart.push(name);
    (config as Record<string, unknown>)[field] = running[field];
  }
  return { config, needRestart };
}

const count = (n: number, what: string, was: number) => `${n} ${what}${n === 1 ? "" : "s"}${n === was ? "" : ` (was ${was})`}`;

/** What a reload changed, in counts: never a key, a URL or a model's targets. */
export function reloadSummary(old: Config, next: Config, needRestart: readonly string[]): string {
  const parts = [
    count(next.providers.length, "provider", old.providers.length),
    count(Object.keys(next.models).length, "model", Object.keys(old.models).length),
    count(next.apiKeyDigests.length, "client key", old.apiKeyDigests.length),
  ];
  const hooks = [Object.keys(next.hooks).length, Object.keys(old.hooks).length] as const;
  if (hooks[0] + hooks[1] > 0) parts.push(count(hooks[0], "hook", hooks[1]));
  const restart = needRestart.length > 0 ? `; ${needRestart.join(", ")} changed but need a restart (running values kept)` : "";
  return `chatgate: config reloaded: ${parts.join(", ")}${restart}`;
}

/** The last reload, for /status: when, and whether it was rejected (with the refusal, which names no secret). */
export interface ReloadState {
  at: string;
  ok: boolean;
  error: string | null;
}
