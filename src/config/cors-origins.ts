import { ConfigError } from "../config.ts";

const VARIABLE = "CHATGATE_CORS_ORIGINS";

/** `scheme://host[:port]` and nothing after it: what a browser sends as `Origin`. */
const ORIGIN_SHAPE = /^[a-z][a-z0-9+.-]*:\/\/[^/?#@\s]+$/i;

/**
 * CHATGATE_CORS_ORIGINS: the browser origins allowed to call the gateway, comma-separated, or `*`
 * for any. Unset or empty: CORS off (`[]`). A `*` anywhere means any origin (`["*"]`). Each other
 * entry must be an http(s) origin, written as the browser writes it in `Origin`, and is kept in
 * that serialised form (`HTTPS://App.example.com:443` → `https://app.example.com`), so matching a
 * request is one exact lookup. A path, even a lone `/`, is refused rather than cut off: the operator
 * may have meant a different thing, and an entry that can never match would fail silently. An empty
 * entry (`a,,b`, a trailing comma) is refused too, like an empty key.
 */
export function parseCorsOrigins(value: string | undefined): string[] {
  if (value === undefined || value.trim() === "") return [];
  const origins: string[] = [];
  for (const [i, raw] of value.split(",").entries()) {
    const entry = raw.trim();
    if (entry === "") throw new ConfigError(VARIABLE, `entry ${i + 1} is empty (two commas in a row, or one at either end?); remove it`);
    if (entry === "*") return ["*"];
    // A browser's Origin never holds a wildcard: `https://*.example.com` would match nothing.
    if (entry.includes("*")) throw new ConfigError(VARIABLE, `"${entry}": a wildcard inside an origin matches no browser's Origin; list each origin, or use * alone for any`);
    const origin = originOf(entry);
    if (origin === undefined) {
      throw new ConfigError(VARIABLE, `"${entry}" is not an origin: expected * or scheme://host[:port] with no path, like https://app.example.com or http://localhost:5173`);
    }
    if (!origins.includes(origin)) origins.push(origin);
  }
  return origins;
}

function originOf(entry: string): string | undefined {
  if (!ORIGIN_SHAPE.test(entry)) return undefined;
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  return url.origin;
}
