// The client keys of one config: the plain ones (`api_keys:` or CHATGATE_API_KEYS, ids key-1,
// key-2, …) then the file's `keys:` with their ids and limits, checked for what a schema cannot
// say (unique ids and keys; once routing is resolved, model names that can exist). Messages name
// entries, never a key.
import { ConfigError } from "../config/config-error.ts";
import { parseKeys } from "../config/env-keys.ts";
import { FieldError, fieldPath } from "../config/field-error.ts";
import type { KeyEntry } from "../config/file-schema.ts";
import type { ModelRoute, ProviderSpec } from "../config/provider-spec.ts";
import { PLAIN_KEY_ID, plainKeyId, type ClientKeySpec } from "./key-spec.ts";

export interface ResolvedKeys {
  /** Every key's SHA-256 digest: what the guard compares. */
  digests: Uint8Array[];
  /** The key of each digest, index for index. */
  keys: ClientKeySpec[];
}

/** What the models of a `keys:` entry are checked against. */
export interface KnownModels {
  models: Readonly<Record<string, ModelRoute>>;
  providers: readonly ProviderSpec[];
}

/**
 * `plain`: the digests of `api_keys:` (`from: "file"`) or CHATGATE_API_KEYS (`from: "env"`), which
 * get the ids key-1, key-2, … and the global limits; `entries`: the file's `keys:`.
 */
export function resolveKeys(plain: readonly Uint8Array[], from: "env" | "file", entries: readonly KeyEntry[]): ResolvedKeys {
  const digests = [...plain];
  const keys: ClientKeySpec[] = plain.map((_, i) => ({ id: plainKeyId(i) }));
  const where = (i: number) => (i < plain.length ? (from === "env" ? `CHATGATE_API_KEYS entry ${i + 1}` : fieldPath("api_keys", i)) : fieldPath("keys", i - plain.length));
  const ids = new Map<string, number>();
  entries.forEach((entry, i) => {
    const at = fieldPath("keys", i);
    if (PLAIN_KEY_ID.test(entry.id)) throw new FieldError(fieldPath(at, "id"), `ids like "${entry.id}" are given to api_keys and CHATGATE_API_KEYS entries by position; choose another`);
    const first = ids.get(entry.id);
    if (first !== undefined) throw new FieldError(fieldPath(at, "id"), `"${entry.id}" is already the id of ${fieldPath("keys", first)}`);
    ids.set(entry.id, i);
    const digest = entryDigest(entry.key, fieldPath(at, "key"));
    const same = digests.findIndex((d) => Buffer.compare(d, digest) === 0);
    if (same !== -1) throw new FieldError(fieldPath(at, "key"), `the same key as ${where(same)}: one key, one identity`);
    digests.push(digest);
    keys.push(spec(entry));
  });
  return { digests, keys };
}

function spec(entry: KeyEntry): ClientKeySpec {
  return {
    id: entry.id,
    ...(entry.rpm !== undefined ? { rpm: entry.rpm } : {}),
    ...(entry.tpm !== undefined ? { tpm: entry.tpm } : {}),
    ...(entry.budget !== undefined ? { budget: { usd: entry.budget.usd, period: entry.budget.period } } : {}),
    ...(entry.models !== undefined ? { models: [...new Set(entry.models)] } : {}),
  };
}

/** The same rules as CHATGATE_API_KEYS (`sha256:<hex>`, or the key itself, never empty), for one entry. */
function entryDigest(key: string, field: string): Uint8Array {
  if (key.includes(",")) throw new FieldError(field, "one key per entry: a key must not contain a comma");
  try {
    return parseKeys(key)[0]!;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new FieldError(field, err.message.slice(err.variable.length + 2).replace(/^entry 1:?\s*/, ""));
  }
}

/** Refuses a `keys:` entry's model name that nothing could serve (see checkModel). */
export function checkKeyModels(entries: readonly KeyEntry[], known: KnownModels): void {
  entries.forEach((entry, i) => entry.models?.forEach((model, m) => checkModel(model, known, fieldPath(fieldPath(fieldPath("keys", i), "models"), m))));
}

/**
 * A name the key may use must be one something can serve, or a typo would quietly lock the key out
 * of the model it was meant for: a configured public name; `provider/model` of a configured
 * provider; or a plain name some provider may serve (the mock serves any; one without a `models`
 * list is asked at run time).
 */
export function checkModel(name: string, known: KnownModels, field: string): void {
  if (Object.hasOwn(known.models, name)) return;
  const slash = name.indexOf("/");
  if (slash > 0) {
    const provider = name.slice(0, slash);
    if (known.providers.some((p) => p.id === provider)) return;
    throw new FieldError(field, `no provider "${provider}" for "${name}"`);
  }
  if (known.providers.some((p) => p.type === "mock" || p.models === undefined || p.models.includes(name))) return;
  const publicNames = Object.keys(known.models);
  throw new FieldError(field, `no model "${name}" (${publicNames.length ? `public names: ${publicNames.join(", ")}` : "no public names are configured"}; or provider/model)`);
}
