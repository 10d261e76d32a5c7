import type { EmbeddingUsage } from "./provider.ts";

/**
 * Whether `text` is an embeddings answer and what it used, read without parsing its vectors: a
 * float answer of many inputs runs to megabytes of numbers the gateway never looks at. OpenAI puts
 * `usage`, a flat object, last; its text is found from the end and parsed alone. Anything else (no
 * usage there, an answer that is not a JSON object) is parsed whole. `undefined`: not an
 * embeddings answer at all; `usage: undefined`: one that reported no usage.
 */
export function readEmbeddings(text: string): { usage: EmbeddingUsage | undefined } | undefined {
  const start = text.search(/\S/);
  if (start === -1 || text[start] !== "{") return undefined;
  const fast = usageFromTail(text);
  if (fast !== undefined && /^\{\s*"(object|data)"/.test(text.slice(start, start + 64))) return { usage: fast };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== "object" || !Array.isArray((value as { data?: unknown }).data)) return undefined;
  return { usage: usageOf((value as { usage?: unknown }).usage) };
}

/** The last `"usage": {…}` of the text, when it is a flat object at the very end. */
function usageFromTail(text: string): EmbeddingUsage | undefined {
  const at = text.lastIndexOf('"usage"');
  if (at === -1) return undefined;
  const open = text.indexOf("{", at);
  const close = text.indexOf("}", open);
  // Only white space and the answer's closing brace may follow: else the usage is not the last field.
  if (open === -1 || close === -1 || !/^\s*\}\s*$/.test(text.slice(close + 1)) || !/^"usage"\s*:\s*$/.test(text.slice(at, open))) return undefined;
  try {
    return usageOf(JSON.parse(text.slice(open, close + 1)));
  } catch {
    return undefined;
  }
}

function usageOf(value: unknown): EmbeddingUsage | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const { prompt_tokens: prompt, total_tokens: total } = value as { prompt_tokens?: unknown; total_tokens?: unknown };
  if (typeof prompt !== "number" || !Number.isFinite(prompt) || prompt < 0) return undefined;
  return { prompt_tokens: prompt, total_tokens: typeof total === "number" && Number.isFinite(total) ? total : prompt };
}
