// The one build command of the standalone executable: `npm run build` (deploy/build.ts), the
// release and the tests all build with it, so every binary records the same things.
import { join } from "node:path";
import { gitCommit } from "./git-commit.ts";

const ROOT = join(import.meta.dir, "..");

/**
 * How the executable is compiled: one minified ESM bundle with bytecode, split so lazy modules load
 * only when used. It reads no `bunfig.toml` and no `.env` from the directory it is started in: a
 * bunfig's `preload` ran that directory's code inside the gateway, and a stray `.env` changed its
 * settings unseen (the environment and `--config` are how it is configured).
 */
const FLAGS = ["build", "--compile", "--format=esm", "--splitting", "--minify", "--bytecode", "--compile-jit-policy=16", "--no-compile-autoload-bunfig", "--no-compile-autoload-dotenv"];

/**
 * `--define CHATGATE_COMMIT="<commit>"`, which src/version.ts reads and `chatgate --version`
 * prints; nothing when there is no commit (no git checkout, no git), and the build goes on.
 */
export function commitDefine(commit: string = gitCommit()): string[] {
  return commit === "" ? [] : ["--define", `CHATGATE_COMMIT=${JSON.stringify(commit)}`];
}

/** The build command writing `outfile`, with `extra` flags (a `--target`, `--sourcemap`) added. */
export function buildCommand(outfile: string, extra: readonly string[] = []): string[] {
  return [process.execPath, ...FLAGS, ...commitDefine(), ...extra, join(ROOT, "src", "main.ts"), "--outfile", outfile];
}
