import pkg from "../package.json" with { type: "json" };

/** From package.json, bundled into the binary at build time. */
export const VERSION: string = pkg.version;

// Set by the release build (`--define CHATGATE_COMMIT='"…"'`); a plain build or a source run has none.
declare const CHATGATE_COMMIT: string | undefined;

/** The git commit a release binary was built from; undefined otherwise. */
export const COMMIT: string | undefined = typeof CHATGATE_COMMIT === "string" ? CHATGATE_COMMIT : undefined;

/** What `chatgate --version` prints: the version, and the commit when the build recorded one. */
export const VERSION_LINE = `chatgate ${VERSION}${COMMIT ? ` (commit ${COMMIT})` : ""}`;
