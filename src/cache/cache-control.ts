/**
 * What a client's `Cache-Control` lets the response cache do with its request:
 * - `use`: read a stored answer, or store the fresh one (no header, or no directive below);
 * - `refresh` (`no-cache`): never answer from the cache, but store the fresh answer, replacing the
 *   stored one — what `no-cache` means in HTTP (a stored response must not be used without going
 *   to the origin; the origin's answer may be stored), and how a client replaces a bad answer;
 * - `bypass` (`no-store`): neither read nor write; it wins over `no-cache`.
 */
export type CacheMode = "use" | "refresh" | "bypass";

/** The cache mode of a `Cache-Control` request header (case-insensitive directives, any order). */
export function cacheModeOf(header: string | null): CacheMode {
  if (header === null || header === "") return "use";
  let mode: CacheMode = "use";
  for (const part of header.split(",")) {
    const directive = part.trim().toLowerCase();
    if (directive === "no-store") return "bypass";
    if (directive === "no-cache") mode = "refresh";
  }
  return mode;
}
