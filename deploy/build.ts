// `npm run build`: dist/chatgate, with a source map, naming the git commit it was built from, its
// bytecode laid out in the order a start-up runs it (deploy/start-order.ts).
import { join } from "node:path";
import { buildCommand } from "./build-command.ts";
import { buildInStartOrder } from "./start-order.ts";

const outfile = join(import.meta.dir, "..", "dist", "chatgate");
const built = await buildInStartOrder(outfile, (flags) => Bun.spawnSync(buildCommand(outfile, ["--sourcemap", ...flags]), { stdout: "inherit", stderr: "inherit" }).exitCode === 0);
process.exit(built ? 0 : 1);
