// The git commit a build records (deploy/build-command.ts) and the release reports.

/**
 * The git commit (12 hex digits) of the checkout `dir` is in (by default this file's); "" outside
 * a git checkout or without git, so a build from a source tarball still succeeds, naming no
 * commit. With uncommitted changes to tracked files it ends in `-dirty`, as `git describe --dirty`
 * marks it: a binary built from them is not that commit, and `--version` must not say it is.
 * Untracked files do not count (git's convention too: a stray file is no edit of the source).
 */
export function gitCommit(dir: string = import.meta.dir): string {
  try {
    // --exclude='*': the commit alone, never a tag-relative name (v0.1.0-3-g…) the callers do not parse.
    const git = Bun.spawnSync(["git", "describe", "--always", "--abbrev=12", "--exclude=*", "--dirty"], { cwd: dir, stdout: "pipe", stderr: "ignore" });
    const commit = git.stdout.toString().trim();
    return git.exitCode === 0 && /^[0-9a-f]{7,40}(-dirty)?$/.test(commit) ? commit : "";
  } catch {
    // No git on the PATH: spawning it throws.
    return "";
  }
}
