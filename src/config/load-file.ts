// Reading the config file: YAML → `${VAR}` expansion → schema defaults → validation. Every
// refusal is a ConfigError naming the file, then the field, then the problem in words.
import { readFileSync } from "node:fs";
import { Value } from "@sinclair/typebox/value";
import { ConfigError, type Env } from "../config.ts";
import { DIGEST_PREFIX } from "./env-keys.ts";
import { expandEnv, ONLY_REFERENCE } from "./expand-env.ts";
import { FieldError, fieldPath } from "./field-error.ts";
import { FileConfig } from "./file-schema.ts";
import { firstProblem, kindProblem } from "./schema-errors.ts";
import { typeReferences } from "./typed-references.ts";
import { yamlOddity } from "./yaml-oddities.ts";

/** `--config` wins over CHATGATE_CONFIG; blank means none. */
export function configPathFrom(env: Env, flags: { config?: string }): string | undefined {
  const path = (flags.config ?? env.CHATGATE_CONFIG ?? "").trim();
  return path === "" ? undefined : path;
}

/** The file's settings, defaults filled; without a path, the defaults of an empty file. */
export function loadConfigFile(path: string | undefined, env: Env): FileConfig {
  return readConfigFile(path, env).doc;
}

/** The file's settings, defaults filled, and the warnings about how it is written (a key in plain text). */
export function readConfigFile(path: string | undefined, env: Env): { doc: FileConfig; warnings: string[] } {
  if (path === undefined) return { doc: Value.Default(FileConfig, {}) as FileConfig, warnings: [] };
  try {
    const parsed = parseYaml(read(path));
    return { doc: validate(parsed, env), warnings: plainKeyWarnings(path, parsed) };
  } catch (err) {
    if (err instanceof FieldError) throw new ConfigError(path, err.message);
    throw err;
  }
}

/**
 * `keys[].key` as the file writes it (before `${VAR}` is expanded) should be the key's digest or a
 * variable naming it: a key in plain text is a secret in a file that gets copied, committed and
 * shown around. Accepted (as `api_keys:` entries are), with a warning at start and in check-config.
 */
function plainKeyWarnings(path: string, parsed: unknown): string[] {
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) return [];
  return keys.flatMap((entry, i) => {
    const key = (entry as { key?: unknown } | null)?.key;
    if (typeof key !== "string" || DIGEST_PREFIX.test(key) || ONLY_REFERENCE.test(key)) return [];
    return [`chatgate: warning: ${path}: ${fieldPath("keys", i)}.key is the key itself, in plain text: write its digest instead (sha256:<hex>, as 'chatgate key new' prints it) or \${VAR} naming a variable that holds it`];
  });
}

/** The settings as the file writes them (`${VAR}` expanded, no defaults filled): what the file itself sets. */
export function writtenSettings(path: string, env: Env): Record<string, unknown> {
  const parsed = expandFile(parseYaml(read(path)) ?? {}, env);
  return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
}

/** Validates an already parsed document (exported for tests that skip the disk). */
export function validate(parsed: unknown, env: Env): FileConfig {
  // An empty file (or one of comments) is a file of defaults.
  const raw = parsed ?? {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw new FieldError("", "expected a mapping of settings (key: value) at the top level");
  const expanded = expandFile(raw, env);
  const kind = kindProblem(FileConfig, expanded);
  if (kind) throw kind;
  const doc = Value.Default(FileConfig, expanded);
  const problem = firstProblem(FileConfig, doc);
  if (problem) throw problem;
  return doc as FileConfig;
}

/** `${VAR}` expanded: a number or boolean setting that is one reference typed, every other string as text. */
function expandFile(parsed: unknown, env: Env): unknown {
  return expandEnv(typeReferences(FileConfig, parsed, env), env);
}

function read(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : String(err);
    throw new FieldError("", `cannot read the config file: ${why}`);
  }
}

/**
 * Bun.YAML.parse reports no position (its error's line and column are the caller's), so the
 * line is found here: the first line after which no prefix of the file parses. A construct
 * spanning lines (a flow list) is reported at its first line.
 */
export function parseYaml(text: string): unknown {
  let parsed: unknown;
  try {
    parsed = Bun.YAML.parse(text);
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).replace(/^YAML Parse error:\s*/, "");
    throw new FieldError(`line ${errorLine(text)}`, `not valid YAML (${reason})`);
  }
  const oddity = yamlOddity(text, parsed);
  if (oddity) throw oddity;
  return parsed;
}

function errorLine(text: string): number {
  const lines = text.split("\n");
  for (let n = lines.length - 1; n > 0; n--) {
    try {
      Bun.YAML.parse(lines.slice(0, n).join("\n"));
      return n + 1;
    } catch {
      // this prefix already holds the error; try a shorter one
    }
  }
  return 1;
}
