/**
 * An API path joined to a provider's base URL, before the base's query when it has one (Azure
 * OpenAI's `?api-version=…`): `https://x/openai/deployments/d?api-version=1` + `/chat/completions`.
 */
export function endpoint(base: string, path: string): string {
  const at = base.indexOf("?");
  return at === -1 ? base + path : base.slice(0, at) + path + base.slice(at);
}

/** `url` with `query` (`limit=1000`) added to any query it has. */
export const withQuery = (url: string, query: string): string => `${url}${url.includes("?") ? "&" : "?"}${query}`;
