// chatgate asks OpenAI-compatible upstreams for usage on every stream. A client that did not ask
// must still get exactly what OpenAI sends it then: no usage chunk (dropped by the observer) and no
// `usage` field on any chunk. These take the field out of the upstream's bytes without
// re-serialising anything else, so the rest of each event is byte for byte the upstream's.
import { find } from "../providers/sse-frames.ts";

const COMPACT = Buffer.from(',"usage":null');
const SPACED = Buffer.from(', "usage": null');
const COMPACT_START = Buffer.from('data: {"id":"');
const SPACED_START = Buffer.from('data: {"id": "');
const BOTH = [COMPACT, SPACED];

/**
 * The forms of the `"usage":null` member to search a stream's runs for: a stream whose first chunk
 * is compact (OpenAI) or spaced (Python servers) keeps its style; any other gets both.
 */
export function nullUsageMarks(firstRun: Uint8Array): readonly Uint8Array[] {
  if (find(firstRun, COMPACT_START) === 0) return [COMPACT];
  if (find(firstRun, SPACED_START) === 0) return [SPACED];
  return BOTH;
}

/**
 * `run` without the `,"usage":null` member that include_usage puts on every chunk (OpenAI writes
 * it after `choices`, never first, so it always has a comma before it): a native search a run,
 * and the run itself when the member is not in it. Otherwise one copy: `slice` for the bytes
 * before the member, a loop for the few after it. Never a view (`subarray`): on the small typed
 * arrays a stream's reads are, a view makes the engine move the array to a separate backing store,
 * which measured twice the cost of the copy (~0.1 µs a chunk with the copy). Only a member is
 * matched: its quotes cannot come from inside a JSON string (they would be escaped there), and the
 * byte after it must end the member.
 */
export function withoutNullUsage(run: Uint8Array, marks: readonly Uint8Array[]): Uint8Array {
  let out = run;
  for (const mark of marks) out = cutAll(out, mark);
  return out;
}

function cutAll(run: Uint8Array, mark: Uint8Array): Uint8Array {
  const first = memberAt(run, mark, 0);
  if (first === -1) return run;
  let members = 0;
  for (let at = first; at !== -1; at = memberAt(run, mark, at + mark.length)) members++;
  const out = run.slice(0, run.length - members * mark.length);
  let to = first;
  for (let from = first + mark.length; ; ) {
    const next = memberAt(run, mark, from);
    const end = next === -1 ? run.length : next;
    for (let i = from; i < end; i++) out[to++] = run[i]!;
    if (next === -1) return out;
    from = next + mark.length;
  }
}

/** The next `mark` from `from` that is a whole member (followed by `,`, `}` or white space), or -1. */
function memberAt(run: Uint8Array, mark: Uint8Array, from: number): number {
  for (let at = find(run, mark, from); at !== -1; at = find(run, mark, at + 1)) {
    const next = run[at + mark.length];
    if (next === 44 || next === 125 || next === 32 || next === 10 || next === 13 || next === 9) return at;
  }
  return -1;
}

/**
 * A chunk's JSON text without its top-level `usage` member (one that also carries choices: some
 * providers put the totals on the last content chunk). The member and the comma before it (or
 * after it, when it comes first) are cut; everything else stays as written. The text as it is when
 * it has no top-level `usage` or is not an object.
 */
export function withoutUsageMember(data: string): string {
  const span = topLevelMember(data, "usage");
  if (span === undefined) return data;
  return data.slice(0, span[0]) + data.slice(span[1]);
}

/** Where the top-level member `key` of a JSON object's text lies, with one adjoining comma. */
function topLevelMember(text: string, key: string): [number, number] | undefined {
  const quoted = JSON.stringify(key);
  let depth = 0;
  let lastComma = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      const end = stringEnd(text, i);
      if (depth === 1 && text.slice(i, end) === quoted) {
        const value = skipSpace(text, end);
        if (text.charCodeAt(value) === 58) {
          const after = valueEnd(text, skipSpace(text, value + 1));
          if (after === -1) return undefined;
          if (lastComma !== -1) return [lastComma, after];
          const next = skipSpace(text, after);
          return text.charCodeAt(next) === 44 ? [i, skipSpace(text, next + 1)] : undefined;
        }
      }
      i = end - 1;
    } else if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) depth--;
    else if (c === 44 && depth === 1) lastComma = i;
  }
  return undefined;
}

/** The index past the string literal that starts at `at`. */
function stringEnd(text: string, at: number): number {
  for (let i = at + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 34) return i + 1;
  }
  return text.length;
}

function skipSpace(text: string, at: number): number {
  while (at < text.length && (text.charCodeAt(at) === 32 || text.charCodeAt(at) === 10 || text.charCodeAt(at) === 13 || text.charCodeAt(at) === 9)) at++;
  return at;
}

/** The index past the JSON value that starts at `at` (an object, array, string or bare word/number); -1 if it never ends. */
function valueEnd(text: string, at: number): number {
  const first = text.charCodeAt(at);
  if (first === 34) return stringEnd(text, at);
  if (first !== 123 && first !== 91) {
    let i = at;
    while (i < text.length && !",}] \n\r\t".includes(text[i]!)) i++;
    return i;
  }
  let depth = 0;
  for (let i = at; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) i = stringEnd(text, i) - 1;
    else if (c === 123 || c === 91) depth++;
    else if ((c === 125 || c === 93) && --depth === 0) return i + 1;
  }
  return -1;
}
