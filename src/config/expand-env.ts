import { FieldError, fieldPath } from "./field-error.ts";

type Env = Record<string, string | undefined>;

/**
 * `${VAR}` in any string value of the file (never in keys) becomes the variable's value, so the
 * file itself holds no secret. (A number or boolean setting that is one `${VAR}` was typed before
 * this: typed-references.ts.) An unset variable refuses to start, naming it and the field: a
 * missing key must not turn into an empty `Authorization` header. A variable set to an empty
 * string expands to one (as in a shell); `api_key` then refuses it as empty.
 * `$${` is a literal `${`; any other `$` is itself. No `${VAR:-default}`: a default belongs in the
 * file, and a silent fallback for a secret is the failure this is here to prevent.
 */
export function expandEnv(value: unknown, env: Env, field = ""): unknown {
  if (typeof value === "string") return expandString(value, env, field);
  if (Array.isArray(value)) return value.map((item, i) => expandEnv(item, env, fieldPath(field, i)));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = expandEnv(item, env, fieldPath(field, key));
    return out;
  }
  return value;
}

const REFERENCE = /\$\$\{|\$\{([^}]*)(\}?)/g;
/** A `${VAR}` reference and nothing else: the whole value comes from the environment. */
export const ONLY_REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function expandString(text: string, env: Env, field: string): string {
  return text.replace(REFERENCE, (match, name: string | undefined, close: string | undefined) => {
    if (match === "$${") return "${";
    if (!close) throw new FieldError(field, "unclosed ${ (write $${ for a literal ${)");
    if (!NAME.test(name!)) throw new FieldError(field, `\${${name}} is not an environment variable name (write $\${ for a literal \${)`);
    const found = env[name!];
    if (found === undefined) throw new FieldError(field, `environment variable ${name} is not set`);
    return found;
  });
}
