// Run as a Bun macro (`with { type: "macro" }`): at bundle time in `bun build --compile`, and by
// Bun's transpiler when running from source, so every build names its commit, not only releases.

/**
 * The git commit (12 hex digits) of the checkout this file is in; "" outside a git checkout or
 * without git. A macro's value is inlined as a literal: "", not undefined, is the "none" it can carry.
 */
export function gitCommit(): string {
  try {
    const git = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: import.meta.dir, stdout: "pipe", stderr: "ignore" });
    const commit = git.stdout.toString().trim();
    return git.exitCode === 0 && /^[0-9a-f]{7,40}$/.test(commit) ? commit : "";
  } catch {
    // No git on the PATH: spawning it throws.
    return "";
  }
}
