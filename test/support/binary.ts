// The compiled binary, built once per source state and shared by every test file that runs it:
// regression tests for what only the shipped executable shows run against it, as a user runs it.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildCommand } from "../../deploy/build-command.ts";
import { gitCommit } from "../../deploy/git-commit.ts";
import { spawnGateway, type GatewayProcess } from "./process.ts";

const ROOT = join(import.meta.dir, "..", "..");

/** A digest of everything the build reads that changes between commits: src/, the lock file, and the commit it records. */
function sourceDigest(): string {
  const hash = createHash("sha256");
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else hash.update(path).update(readFileSync(path));
    }
  };
  walk(join(ROOT, "src"));
  hash.update(readFileSync(join(ROOT, "deploy", "build-command.ts")));
  for (const file of ["package.json", "package-lock.json"]) hash.update(readFileSync(join(ROOT, file)));
  hash.update(process.execPath);
  // The binary names the commit it was built from (`--version`): a new commit is a new binary.
  hash.update(gitCommit());
  return hash.digest("hex").slice(0, 16);
}

let building: Promise<string> | undefined;

/** Path of `dist/chatgate` as `npm run build` makes it, built at most once per source digest. */
export function compiledBinary(): Promise<string> {
  building ??= (async () => {
    const dir = join(tmpdir(), "chatgate-test-binary", sourceDigest());
    const binary = join(dir, "chatgate");
    if (existsSync(binary)) return binary;
    mkdirSync(dir, { recursive: true });
    // Built under a temporary name and renamed, so a test run in parallel never sees half a file.
    const partial = join(dir, `chatgate.${process.pid}.partial`);
    const build = Bun.spawn(buildCommand(partial), { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const [code, stderr] = await Promise.all([build.exited, new Response(build.stderr).text()]);
    if (code !== 0) throw new Error(`build failed: ${stderr}`);
    renameSync(partial, binary);
    return binary;
  })();
  return building;
}

/** An empty working directory: the binary must need nothing beside itself. */
export const emptyDir = (): string => mkdtempSync(join(tmpdir(), "chatgate-run-"));

/** Starts the compiled binary with `env` (PORT=0 unless given) and waits until it listens. */
export async function spawnBinary(env: Record<string, string> = {}, args: string[] = []): Promise<GatewayProcess> {
  const binary = await compiledBinary();
  const cwd = emptyDir();
  const gw = await spawnGateway([binary, ...args], env, cwd);
  const stop = gw.stop;
  const cleanup = async () => {
    await stop();
    rmSync(cwd, { recursive: true, force: true });
  };
  return { ...gw, stop: cleanup, [Symbol.asyncDispose]: cleanup };
}
