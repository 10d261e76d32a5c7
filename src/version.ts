import pkg from "../package.json" with { type: "json" };
import { gitCommit } from "./git-commit.ts" with { type: "macro" };

/** From package.json, bundled into the binary at build time. */
export const VERSION: string = pkg.version;

/**
 * The git commit the binary (or the source run) was built from, read by a macro when it is bundled
 * or transpiled: every build records it, `npm run build` and the release alike. Undefined outside a
 * git checkout or without git.
 */
export const COMMIT: string | undefined = gitCommit() || undefined;

/** What `chatgate --version` prints: the version, and the commit when the build recorded one. */
export const VERSION_LINE = `chatgate ${VERSION}${COMMIT ? ` (commit ${COMMIT})` : ""}`;
