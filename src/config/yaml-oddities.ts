// What Bun.YAML.parse does quietly to a config file that a person would not expect, found in the
// text (the parser keeps no positions) and refused with the line, before the schema sees a value.
import { FieldError } from "./field-error.ts";

/** The first oddity of `text`, whose parse is `parsed`: a second document, or a key YAML rewrites. */
export function yamlOddity(text: string, parsed: unknown): FieldError | undefined {
  return secondDocument(text, parsed) ?? rewrittenKey(text, parsed);
}

const DOCUMENT_START = /^---(\s|$)/;

/**
 * Several documents (`---` between them) parse to a list of them, which the loader took for a
 * list at the top level. chatgate reads one document: name the line where the next one starts.
 */
function secondDocument(text: string, parsed: unknown): FieldError | undefined {
  if (!Array.isArray(parsed)) return undefined;
  const lines = text.split("\n");
  // A document starts at its `---` or at its first content line; only comments and directives come before.
  let started = false;
  for (const [i, line] of lines.entries()) {
    if (DOCUMENT_START.test(line) && started) {
      return new FieldError(`line ${i + 1}`, "a second YAML document starts here (---): chatgate reads one document, so put every setting in the first and remove this ---");
    }
    if (/^\s*(#.*)?$/.test(line) || line.startsWith("%")) continue;
    started = true;
  }
  return undefined;
}

/** A plain (unquoted) key at the start of a block line, after any `- ` list markers. */
const BLOCK_KEY = /^(\s*)(?:-\s+)*([^\s#'"{[\]}?|>-][^#]*?|-[^\s#]*?)\s*:(?:\s|$)/;
/** A plain key inside a flow mapping (`{1.50: x, …}`). */
const FLOW_KEY = /[{,]\s*([^\s,{}[\]'"#][^,:{}[\]]*?)\s*:(?:\s|$)/g;

/**
 * A mapping key is a string to JavaScript: YAML's number, boolean or null is turned into one. Where
 * that string is the key as written (`4:`, `1.5:`, `true:`) it is accepted as that name (a model
 * called `4`); where it is not (`1.50:` → "1.5", `007:` → "7", `~:` → "null") the file would mean
 * another name than it shows, so it is refused with the line and the fix (quotes). A key that is
 * a list or a mapping (`[a, b]:`, `? {…}`) has no name at all.
 */
function rewrittenKey(text: string, parsed: unknown): FieldError | undefined {
  const keys = keysOf(parsed);
  let scalarIndent = -1; // inside a block scalar (`key: |`): its lines are text, not keys
  for (const [i, raw] of text.split("\n").entries()) {
    const indent = raw.length - raw.trimStart().length;
    if (scalarIndent >= 0 && (raw.trim() === "" || indent > scalarIndent)) continue;
    scalarIndent = -1;
    const line = raw.replace(/"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'/g, '""');
    if (/^\s*(?:-\s+)*\?(\s|$)/.test(line) || /^\s*(?:-\s+)*[[{][^:]*[\]}]\s*:(\s|$)/.test(line)) {
      return new FieldError(`line ${i + 1}`, "a key that is a list or a mapping: a key must be a name");
    }
    const block = BLOCK_KEY.exec(line);
    const tokens = [...(block ? [block[2]!] : []), ...[...line.matchAll(FLOW_KEY)].map((m) => m[1]!)];
    for (const token of tokens) {
      const problem = rewritten(token, keys);
      if (problem) return new FieldError(`line ${i + 1}`, problem);
    }
    if (/:\s*[|>][-+0-9]*\s*(#.*)?$/.test(line)) scalarIndent = indent;
  }
  return undefined;
}

function rewritten(token: string, keys: Set<string>): string | undefined {
  let value: unknown;
  try {
    value = Bun.YAML.parse(token);
  } catch {
    return undefined;
  }
  if (typeof value === "string" || (value !== null && typeof value === "object")) return undefined;
  const as = String(value);
  if (as === token || !keys.has(as)) return undefined;
  const what = value === null ? "null" : `the ${typeof value} ${as}`;
  return `the key ${token} is ${what} to YAML and would be read as "${as}": put it in quotes ("${token}") to keep it as written`;
}

function keysOf(node: unknown, into = new Set<string>()): Set<string> {
  if (node === null || typeof node !== "object") return into;
  if (!Array.isArray(node)) for (const key of Object.keys(node)) into.add(key);
  for (const child of Object.values(node)) keysOf(child, into);
  return into;
}
