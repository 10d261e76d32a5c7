// The file's `hooks:` resolved: names checked (they are path segments), models checked against
// what the providers and routes can serve, durations in ms.
import { checkModel, type KnownModels } from "../keys/resolve-keys.ts";
import { durationMs } from "./file-core.ts";
import { FieldError, fieldPath } from "./field-error.ts";
import { HOOK_NAME, type HookEntry } from "./file-schema.ts";
import type { HookSpec } from "./hook-spec.ts";

const NAME = new RegExp(HOOK_NAME);

export function resolveHooks(entries: Readonly<Record<string, HookEntry>>, known: KnownModels): Record<string, HookSpec> {
  const hooks: Record<string, HookSpec> = {};
  for (const [name, entry] of Object.entries(entries)) {
    const field = fieldPath("hooks", name);
    if (!NAME.test(name)) throw new FieldError(field, "a hook name must be 1-64 lower-case letters, digits, '-' or '_' (it is the path segment of POST /hooks/<name>)");
    checkModel(entry.model, known, fieldPath(field, "model"));
    hooks[name] = {
      name,
      model: entry.model,
      ...(entry.system !== undefined ? { system: entry.system } : {}),
      ...(entry.secret !== undefined ? { secret: entry.secret } : {}),
      turns: entry.memory.turns,
      ttlMs: durationMs(entry.memory.ttl, fieldPath(fieldPath(field, "memory"), "ttl"), 1000),
      maxSenders: entry.memory.max_senders,
      maxBytes: entry.memory.max_bytes,
      ...(entry.rpm !== undefined ? { rpm: entry.rpm } : {}),
    };
  }
  return hooks;
}
