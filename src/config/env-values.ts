// Readers of single environment values: each returns the value, or the fallback when unset, and
// refuses a bad one with a ConfigError naming the variable.
import { ConfigError } from "./config-error.ts";
import { DURATION_HINT, parseDuration } from "./duration.ts";
import { CONTINUATIONS } from "./file-schema.ts";
import type { Continuation } from "./provider-spec.ts";

export function nonEmpty(value: string | undefined, fallback: string): string {
  return value === undefined || value.trim() === "" ? fallback : value.trim();
}

export function integer(name: string, value: string | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined || value.trim() === "") return fallback;
  const text = value.trim();
  if (!/^\d+$/.test(text)) throw new ConfigError(name, `expected a whole number, got "${text}"`);
  const n = Number(text);
  if (n < min || n > max) throw new ConfigError(name, `expected a number from ${min} to ${max}, got ${text}`);
  return n;
}

/**
 * A duration with its unit (`90s`, `1h`), as the file writes them: a variable not named `_MS` has
 * no unit to assume, and a bare number is refused rather than guessed.
 */
export function duration(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === "") return fallback;
  const ms = parseDuration(value);
  if (ms === undefined) throw new ConfigError(name, `${DURATION_HINT}, got "${value.trim()}"`);
  return ms;
}

export function flag(name: string, value: string | undefined, fallback = false): boolean {
  if (value === undefined || value === "") return fallback;
  const v = value.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  throw new ConfigError(name, `expected 1 (or true, yes, on) or 0 (or false, no, off), got "${value}"`);
}

export function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  const text = (value ?? "").trim().toLowerCase();
  if (text === "") return fallback;
  if (!(allowed as readonly string[]).includes(text)) throw new ConfigError(name, `expected one of ${allowed.join(", ")}, got "${value}"`);
  return text as T;
}

export function continuation(value: string | undefined): Continuation {
  const text = (value ?? "").trim();
  if (text === "") return "none";
  if (!(CONTINUATIONS as readonly string[]).includes(text)) throw new ConfigError("CHATGATE_CONTINUATION", `expected one of ${CONTINUATIONS.join(", ")}, got "${text}"`);
  return text as Continuation;
}

export function baseUrl(value: string | undefined): string {
  if (value === undefined || value.trim() === "") return "https://api.openai.com/v1";
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    // Not echoed: a URL may carry a password.
    throw new ConfigError("OPENAI_BASE_URL", "not a URL (expected http(s)://host[:port]/path)");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ConfigError("OPENAI_BASE_URL", "must be an http(s) URL");
  if (url.hash !== "") throw new ConfigError("OPENAI_BASE_URL", "must not have a #fragment");
  return withoutTrailingSlash(url);
}

/** A base URL as its API paths are joined to (src/providers/endpoint.ts): no trailing slash before its query. */
export function withoutTrailingSlash(url: URL): string {
  const head = url.href.slice(0, url.href.length - url.search.length - url.hash.length);
  return head.replace(/\/+$/, "") + url.search;
}

/** A redis:// (or rediss://, valkey://) URL; its password is never echoed back in the error. */
export function redisUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError("CHATGATE_REDIS_URL", "not a URL (expected redis://host:port)");
  }
  if (!/^(redis|rediss|valkey|valkeys|redis\+unix|valkey\+unix):$/.test(url.protocol)) throw new ConfigError("CHATGATE_REDIS_URL", `expected a redis:// URL, got ${url.protocol}//…`);
  // The database, as Bun's client reads it (a unix socket's path is the socket's).
  if (!url.protocol.endsWith("+unix:") && !/^\/?(\d+)?$/.test(url.pathname)) throw new ConfigError("CHATGATE_REDIS_URL", "the database must be a whole number (redis://host:port/0)");
  return value;
}
