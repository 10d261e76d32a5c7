// `chatgate --version` names the git commit of every build (`npm run build`, not only a release);
// built outside a git checkout or without git, it names none, and the build still succeeds.
import { expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { buildCommand, commitDefine } from "../deploy/build-command.ts";
import { gitCommit } from "../deploy/git-commit.ts";
import { compiledBinary } from "./support/binary.ts";
import { runGateway } from "./support/process.ts";

const ROOT = join(import.meta.dir, "..");
const head = () => Bun.spawnSync(["git", "rev-parse", "HEAD"], { cwd: ROOT }).stdout.toString().trim();
/** What a build of this checkout records: HEAD's first 12 hex digits, `-dirty` while tracked files have changes (as during a change's own test run). */
const recorded = () => {
  const changed = Bun.spawnSync(["git", "status", "--porcelain", "--untracked-files=no"], { cwd: ROOT }).stdout.toString().trim() !== "";
  return `${head().slice(0, 12)}${changed ? "-dirty" : ""}`;
};

test("the binary `npm run build` makes prints its version and the commit it was built from", async () => {
  const { stdout, code } = await runGateway([await compiledBinary(), "--version"]);
  expect(code).toBe(0);
  const match = /^chatgate (\S+) \(commit ([0-9a-f]{12}(?:-dirty)?)\)$/.exec(stdout.trim());
  expect(match?.[1]).toBe(pkg.version);
  // Printed short, as the release prints it: HEAD's first 12 hex digits (and -dirty when built from changes).
  expect(match?.[2]).toBe(recorded());
}, 120_000);

test("npm run build runs the build command the tests and the release use, which records the commit", () => {
  expect(pkg.scripts.build).toBe("bun deploy/build.ts");
  const command = buildCommand("/tmp/chatgate");
  expect(command.slice(command.indexOf("--define"), command.indexOf("--define") + 2)).toEqual(["--define", `CHATGATE_COMMIT="${recorded()}"`]);
});

test("a build from uncommitted changes to tracked files records the commit as <commit>-dirty (git describe's mark); an untracked file does not count", () => {
  const repo = mkdtempSync(join(tmpdir(), "chatgate-dirty-"));
  const git = (...args: string[]) => {
    const run = Bun.spawnSync(["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false", ...args], { cwd: repo, stdout: "pipe", stderr: "pipe" });
    if (run.exitCode !== 0) throw new Error(run.stderr.toString());
    return run.stdout.toString().trim();
  };
  try {
    git("init", "-q");
    writeFileSync(join(repo, "main.ts"), "one\n");
    git("add", "main.ts");
    git("commit", "-qm", "one");
    const commit = git("rev-parse", "--short=12", "HEAD");
    expect(gitCommit(repo)).toBe(commit);
    writeFileSync(join(repo, "stray.txt"), "untracked\n");
    expect(gitCommit(repo)).toBe(commit);
    writeFileSync(join(repo, "main.ts"), "two\n");
    expect(gitCommit(repo)).toBe(`${commit}-dirty`);
    expect(commitDefine(gitCommit(repo))).toEqual(["--define", `CHATGATE_COMMIT="${commit}-dirty"`]);
    // Staged but not committed is still not the commit.
    git("add", "main.ts");
    expect(gitCommit(repo)).toBe(`${commit}-dirty`);
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
});

test("outside a git checkout, or with no git to run, there is no commit to record and nothing fails", () => {
  const dir = mkdtempSync(join(tmpdir(), "chatgate-no-git-"));
  try {
    copyFileSync(join(ROOT, "deploy", "git-commit.ts"), join(dir, "git-commit.ts"));
    const run = (file: string, env: Record<string, string>) =>
      Bun.spawnSync([process.execPath, "-e", `import { gitCommit } from ${JSON.stringify(file)}; console.log(JSON.stringify(gitCommit()))`], { env, stdout: "pipe", stderr: "pipe" });
    const outside = run(join(dir, "git-commit.ts"), { PATH: process.env.PATH ?? "/usr/bin:/bin", GIT_CEILING_DIRECTORIES: tmpdir() });
    expect([outside.exitCode, outside.stdout.toString().trim()]).toEqual([0, '""']);
    const noGit = run(join(ROOT, "deploy", "git-commit.ts"), { PATH: dir });
    expect([noGit.exitCode, noGit.stdout.toString().trim()]).toEqual([0, '""']);
    // No commit: no --define, and src/version.ts then prints the version alone.
    expect(commitDefine("")).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
