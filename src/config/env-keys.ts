// Keys given in the environment (client keys, the admin and metrics keys), kept as SHA-256 digests.
import { sha256 } from "../auth/keys.ts";
import { ConfigError } from "./config-error.ts";

/**
 * CHATGATE_ADMIN_KEY, read as client keys are. An admin key that is also a client key is refused:
 * every holder of that client key could read everyone's usage.
 */
export function adminKeys(value: string | undefined, clientKeys: readonly Uint8Array[]): Uint8Array[] {
  const digests = parseKeys(value, "CHATGATE_ADMIN_KEY", "leave GET /v1/usage off");
  digests.forEach((digest, i) => {
    if (clientKeys.some((client) => Buffer.compare(client, digest) === 0)) {
      throw new ConfigError("CHATGATE_ADMIN_KEY", `entry ${i + 1} is also a client key; give the admin key a value of its own`);
    }
  });
  return digests;
}

/** SHA-256 of the empty string: what `sha256:$(printf %s "$MY_KEY" | sha256sum …)` gives with MY_KEY unset. */
const EMPTY_DIGEST = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** A digest entry: `sha256:` in any case, so `SHA256:<hex>` is never taken for a key in plain text. */
export const DIGEST_PREFIX = /^sha256:/i;

/**
 * Client keys (and the metrics key: `variable` names where they came from, `unsetMeans` what leaving
 * it unset does): plain secrets are digested at once; `sha256:<hex>` entries are taken as digests.
 * Unset means no client auth. An empty key is refused, never skipped: a variable that is set but
 * empty, an empty entry (`a,,b`) or the digest of the empty string is a script whose key variable
 * was unset, and starting on it would either open the gateway or accept an empty key. Messages
 * name the entry by position, never by value (values are secrets).
 */
export function parseKeys(value: string | undefined, variable = "CHATGATE_API_KEYS", unsetMeans = "run without client auth"): Uint8Array[] {
  if (value === undefined) return [];
  const fail = (message: string) => new ConfigError(variable, message);
  if (value.replace(/[\s,]/g, "") === "") {
    throw fail(`is set but holds no key; unset it to ${unsetMeans}, or give comma-separated keys`);
  }
  const digests: Uint8Array[] = [];
  for (const [i, entry] of value.split(",").entries()) {
    const key = entry.trim();
    const which = `entry ${i + 1}`;
    if (key === "") throw fail(`${which} is empty (two commas in a row, or one at either end?); remove it`);
    if (DIGEST_PREFIX.test(key)) {
      const hex = key.slice(7).toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(hex)) throw fail(`${which}: a sha256: entry needs 64 hex digits`);
      if (hex === EMPTY_DIGEST) throw fail(`${which} is the SHA-256 of the empty string: the key it was made from was empty (an unset variable?)`);
      digests.push(Uint8Array.from(Buffer.from(hex, "hex")));
    } else {
      digests.push(sha256(key));
    }
  }
  return digests;
}
