// `chatgate --version` names the git commit of every build (`npm run build`, not only a release)
// and of a run from source; outside a git checkout or without git it names none, and nothing fails.
import { expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { compiledBinary } from "./support/binary.ts";
import { runGateway } from "./support/process.ts";

const ROOT = join(import.meta.dir, "..");
const head = () => Bun.spawnSync(["git", "rev-parse", "HEAD"], { cwd: ROOT }).stdout.toString().trim();

/** `chatgate <version> (commit <hex>)`, the commit as long as it is printed: a prefix of HEAD's. */
function expectNamesHead(line: string): void {
  const match = /^chatgate (\S+) \(commit ([0-9a-f]{7,40})\)$/.exec(line.trim());
  expect(match?.[1]).toBe(pkg.version);
  expect(head().startsWith(match![2]!)).toBe(true);
}

test("the binary `npm run build` makes prints its version and the commit it was built from", async () => {
  const { stdout, code } = await runGateway([await compiledBinary(), "--version"]);
  expect(code).toBe(0);
  expectNamesHead(stdout);
}, 120_000);

test("run from source, --version names the checkout's commit too", async () => {
  const { stdout, code } = await runGateway([process.execPath, join(ROOT, "src", "main.ts"), "--version"]);
  expect(code).toBe(0);
  expectNamesHead(stdout);
});

test("outside a git checkout, or with no git to run, there is no commit and no failure", () => {
  const dir = mkdtempSync(join(tmpdir(), "chatgate-no-git-"));
  try {
    copyFileSync(join(ROOT, "src", "git-commit.ts"), join(dir, "git-commit.ts"));
    const run = (file: string, env: Record<string, string>) =>
      Bun.spawnSync([process.execPath, "-e", `import { gitCommit } from ${JSON.stringify(file)}; console.log(JSON.stringify(gitCommit()))`], { env, stdout: "pipe", stderr: "pipe" });
    const outside = run(join(dir, "git-commit.ts"), { PATH: process.env.PATH ?? "/usr/bin:/bin", GIT_CEILING_DIRECTORIES: tmpdir() });
    expect([outside.exitCode, outside.stdout.toString().trim()]).toEqual([0, '""']);
    const noGit = run(join(ROOT, "src", "git-commit.ts"), { PATH: dir });
    expect([noGit.exitCode, noGit.stdout.toString().trim()]).toEqual([0, '""']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
