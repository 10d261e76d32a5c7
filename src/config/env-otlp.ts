// The readers of the tracing variables: where spans go (OTLP over HTTP) and the headers sent with them.
import { ConfigError } from "./config-error.ts";

const TRACES_PATH = "/v1/traces";

/**
 * CHATGATE_OTLP_ENDPOINT: the collector's base URL (`http://collector:4318`), to which
 * `/v1/traces` is added, or the full URL already ending in `/v1/traces` (as
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is written), taken as it is. Unset or empty: tracing off.
 * Credentials in the URL are refused (they would show wherever the URL does); use
 * CHATGATE_OTLP_HEADERS. The message never echoes the value.
 */
export function otlpEndpoint(value: string | undefined): string | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new ConfigError("CHATGATE_OTLP_ENDPOINT", "not a URL (expected http://collector:4318)");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ConfigError("CHATGATE_OTLP_ENDPOINT", `expected an http(s) URL (OTLP over HTTP), got ${url.protocol}//…`);
  if (url.username !== "" || url.password !== "") throw new ConfigError("CHATGATE_OTLP_ENDPOINT", "holds credentials; put them in CHATGATE_OTLP_HEADERS (authorization=…) instead");
  const path = url.pathname.replace(/\/+$/, "");
  if (!path.endsWith(TRACES_PATH)) url.pathname = `${path}${TRACES_PATH}`;
  return url.href;
}

/** The header names HTTP allows (RFC 9110 token). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * CHATGATE_OTLP_HEADERS: `name=value,name=value` sent with every export (a collector's auth), as
 * OTEL_EXPORTER_OTLP_HEADERS writes them; values may be percent-encoded. Values are secrets:
 * messages name the entry by position, never by value. Unset: none.
 */
export function otlpHeaders(value: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (value === undefined || value.trim() === "") return headers;
  for (const [i, entry] of value.split(",").entries()) {
    const fail = (why: string) => new ConfigError("CHATGATE_OTLP_HEADERS", `entry ${i + 1} ${why}; expected name=value,name=value`);
    if (entry.trim() === "") throw fail("is empty");
    const at = entry.indexOf("=");
    if (at < 0) throw fail("has no '='");
    const name = entry.slice(0, at).trim();
    if (!TOKEN.test(name)) throw fail("has no valid header name");
    let text: string;
    try {
      text = decodeURIComponent(entry.slice(at + 1).trim());
    } catch {
      throw fail("has a bad percent-encoding in its value");
    }
    if (/[\r\n\0]/.test(text)) throw fail("has a line break in its value");
    headers[name.toLowerCase()] = text;
  }
  return headers;
}

/** CHATGATE_OTLP_SAMPLE: a number from 0 to 1 (`0.1`: one new trace in ten); unset or empty: `fallback`. */
export function otlpSample(value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === "") return fallback;
  const text = value.trim();
  const ratio = /^(0|1|0?\.\d+|1\.0*)$/.test(text) ? Number(text) : Number.NaN;
  if (!(ratio >= 0 && ratio <= 1)) throw new ConfigError("CHATGATE_OTLP_SAMPLE", `expected a number from 0 to 1 (0.1: one new trace in ten), got "${text}"`);
  return ratio;
}
