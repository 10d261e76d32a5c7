// `npm run build`: dist/chatgate, with a source map, naming the git commit it was built from.
import { join } from "node:path";
import { buildCommand } from "./build-command.ts";

const build = Bun.spawnSync(buildCommand(join(import.meta.dir, "..", "dist", "chatgate"), ["--sourcemap"]), { stdout: "inherit", stderr: "inherit" });
process.exit(build.exitCode ?? 1);
