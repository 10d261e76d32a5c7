export function sha256(text: string): Uint8Array {
  return Bun.SHA256.hash(text) as Uint8Array;
}

/**
 * Checks a presented key against the configured digests. The presented key is digested first, so
 * every comparison is over 32 bytes whatever its length, and each comparison is constant-time; all
 * digests are compared (no early exit) so timing does not tell which entry matched.
 * Returns the index of the matching key (a stable, non-secret principal id) or -1.
 */
export function matchKey(digests: readonly Uint8Array[], presented: string): number {
  const digest = sha256(presented);
  let found = -1;
  for (let i = 0; i < digests.length; i++) {
    if (crypto.timingSafeEqual(digests[i]!, digest) && found === -1) found = i;
  }
  return found;
}

/** `Authorization: Bearer <key>` → key, or undefined when absent or not Bearer. */
export function bearerToken(header: string | null): string | undefined {
  if (header === null) return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}
