// The git commit a build records (deploy/build-command.ts) and the release reports.

/**
 * The git commit (12 hex digits) of the checkout this file is in; "" outside a git checkout or
 * without git, so a build from a source tarball still succeeds, naming no commit.
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
