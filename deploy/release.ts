// `npm run release`: the standalone executable for every platform chatgate ships on, each built
// with `npm run build`'s flags for its target (which record the git commit: `chatgate --version`
// prints it, see build-command.ts), and a SHA256SUMS file to verify a download with (`sha256sum -c`).
//
//   npm run release                      every platform, into dist/release
//   npm run release -- --only linux-x64  some of them (comma list)
//   npm run release -- --out DIR
import { mkdirSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { buildCommand } from "./build-command.ts";
import { gitCommit } from "./git-commit.ts";
import { buildInStartOrder } from "./start-order.ts";

const ROOT = join(import.meta.dir, "..");

/** Release name → Bun's compile target. */
export const PLATFORMS: Record<string, string> = {
  "linux-x64": "bun-linux-x64",
  "linux-arm64": "bun-linux-arm64",
  "darwin-x64": "bun-darwin-x64",
  "darwin-arm64": "bun-darwin-arm64",
  "windows-x64": "bun-windows-x64",
};

/** The platform of this machine, in release names. */
export const HOST_PLATFORM = `${process.platform === "win32" ? "windows" : process.platform}-${process.arch}`;

export const artifactName = (platform: string): string => `chatgate-${pkg.version}-${platform}${platform.startsWith("windows") ? ".exe" : ""}`;

async function sha256(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
  return hasher.digest("hex");
}

function parseArgs(argv: string[]): { out: string; only: string[] } {
  let out = join(ROOT, "dist", "release");
  let only = Object.keys(PLATFORMS);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--out" && argv[i + 1]) out = argv[++i]!;
    else if (argv[i] === "--only" && argv[i + 1]) only = argv[++i]!.split(",").map((s) => s.trim()).filter(Boolean);
    else throw new Error(`unknown argument '${argv[i]}' (use --out DIR, --only ${Object.keys(PLATFORMS).join(",")})`);
  }
  const unknown = only.filter((p) => !(p in PLATFORMS));
  if (unknown.length > 0) throw new Error(`unknown platform ${unknown.join(", ")} (known: ${Object.keys(PLATFORMS).join(", ")})`);
  return { out, only };
}

if (import.meta.main) {
  const { out, only } = parseArgs(process.argv.slice(2));
  // buildCommand records the same commit in each binary; here it is only reported.
  const commit = gitCommit() || undefined;
  if (commit === undefined) console.warn("release: not a git checkout: the binaries will not name a commit");
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const built: string[] = [];
  const failed: string[] = [];
  for (const platform of only) {
    const file = join(out, artifactName(platform));
    let output = "";
    const build = (flags: readonly string[]) => {
      const b = Bun.spawnSync(buildCommand(file, ["--target", PLATFORMS[platform]!, ...flags]), { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
      output = b.stderr.toString() || b.stdout.toString();
      return b.exitCode === 0;
    };
    // The binary this machine can start is laid out in its start-up order, as `npm run build`'s is.
    if (await (platform === HOST_PLATFORM ? buildInStartOrder(file, build) : build([]))) {
      built.push(file);
      console.log(`release: built ${basename(file)}`);
    } else {
      // Cross-compiling downloads that platform's Bun from the npm registry: no network, no binary.
      const why = output.trim().split("\n").slice(-3).join(" ");
      failed.push(`${platform}: ${why}`);
      console.error(`release: could not build ${platform}: ${why}`);
    }
  }
  const sums = await Promise.all(built.map(async (file) => `${await sha256(file)}  ${basename(file)}\n`));
  await Bun.write(join(out, "SHA256SUMS"), sums.join(""));
  console.log(`release: ${built.length} of ${only.length} built in ${out}${commit ? ` (commit ${commit})` : ""}; verify with: sha256sum -c SHA256SUMS --ignore-missing`);
  if (failed.length > 0) process.exit(1);
}
