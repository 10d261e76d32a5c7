// `npm run build`'s own command, for everything else that builds the executable (the release, the
// tests): package.json holds the only copy of the build flags.
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };

const ROOT = join(import.meta.dir, "..");

/** The build command writing `outfile`, with `extra` flags (a `--target`, a `--define`) added; no source map. */
export function buildCommand(outfile: string, extra: readonly string[] = []): string[] {
  const [, ...args] = pkg.scripts.build.split(/\s+/);
  const at = args.indexOf("--outfile");
  const flags = args.slice(0, at).filter((a) => a !== "--sourcemap").map((a) => (a.endsWith(".ts") ? join(ROOT, a) : a));
  return [process.execPath, ...flags, ...extra, "--outfile", outfile];
}
