// The gateway process proper: configure, listen, drain on SIGTERM/SIGINT. Entered via main.ts.
import { createApp } from "./app.ts";
import { bannerLines, probeProviders } from "./banner.ts";
import { HELP, parseCommand } from "./cli.ts";
import { ConfigError, parseConfig, type Config } from "./config.ts";
import { checkConfig } from "./config/check-config.ts";
import { collectWhenIdle } from "./obs/idle-gc.ts";
import { VERSION } from "./version.ts";

function configure(): Config {
  const command = parseCommand(process.argv.slice(2));
  switch (command.kind) {
    case "help":
      process.stdout.write(HELP);
      process.exit(0);
    case "version":
      process.stdout.write(`chatgate ${VERSION}\n`);
      process.exit(0);
    case "usage-error":
      process.stderr.write(`chatgate: ${command.message}\nRun 'chatgate --help' for the options.\n`);
      process.exit(2);
    case "check-config": {
      const result = checkConfig(command.path, process.env, command.flags);
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
      process.exit(result.code);
    }
  }
  try {
    return parseConfig(process.env, command.flags);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`chatgate: refusing to start: ${err.message}\n`);
    process.exit(2);
  }
}

const config = configure();
const { app, stats, router } = createApp(config);
try {
  app.listen({ hostname: config.host, port: config.port });
} catch (err) {
  process.stderr.write(`chatgate: cannot listen on ${config.host}:${config.port}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
const server = app.server!;
collectWhenIdle(stats);
const url = `http://${server.hostname?.includes(":") ? `[${server.hostname}]` : server.hostname}:${server.port}`;
for (const line of bannerLines(config, url)) console.log(line);
void probeProviders(router.all, config, (line) => console.error(line));

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  const inFlight = stats.inFlightJson + stats.inFlightStreams;
  console.log(`chatgate: ${signal}: no longer accepting; waiting for ${inFlight} request(s) in flight (up to ${config.shutdownTimeoutMs} ms)`);
  const closing = server.stop(false);
  const drained = await Promise.race([
    Promise.all([closing, stats.idle()]).then(() => true),
    Bun.sleep(config.shutdownTimeoutMs).then(() => false),
  ]);
  if (!drained) {
    console.log("chatgate: shutdown timeout reached; closing remaining connections");
    await server.stop(true);
  }
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
