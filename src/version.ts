import pkg from "../package.json" with { type: "json" };

/** From package.json, bundled into the binary at build time. */
export const VERSION: string = pkg.version;

// Set by every build of the executable (`--define CHATGATE_COMMIT='"…"'`, deploy/build-command.ts:
// `npm run build`, the release); a run from source, or a build outside a git checkout, has none.
declare const CHATGATE_COMMIT: string | undefined;

/** The git commit the binary was built from; undefined otherwise. */
export const COMMIT: string | undefined = typeof CHATGATE_COMMIT === "string" ? CHATGATE_COMMIT : undefined;

/** What `chatgate --version` prints: the version, and the commit when the build recorded one. */
export const VERSION_LINE = `chatgate ${VERSION}${COMMIT ? ` (commit ${COMMIT})` : ""}`;
