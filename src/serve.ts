// The gateway process proper: configure, listen, drain on SIGTERM/SIGINT. Entered via main.ts.
import { createApp } from "./app.ts";
import { bannerLines, probeProviders, startNotes, startupFields } from "./banner.ts";
import { HELP, parseCommand } from "./cli.ts";
import { ConfigError, parseConfig, type Config, type Flags } from "./config.ts";
import { releaseHeldReloads } from "./early-reload.ts";
import { LedgerOpenError } from "./ledger/attach.ts";
import { collectWhenIdle } from "./obs/idle-gc.ts";
import type { FinishRecord } from "./gateway/finish.ts";
import { cooldownLog, createLogger, requestLog, routeConsole } from "./obs/log.ts";
import { VERSION_LINE } from "./version.ts";

/** How long after listening the providers' model lists are checked. */
const PROBE_DELAY_MS = 250;

/** The app, or exit 1 when its usage ledger cannot be opened (the message says how to fix or turn it off). */
function createOrExit(): ReturnType<typeof createApp> {
  try {
    return createApp(config);
  } catch (err) {
    if (!(err instanceof LedgerOpenError)) throw err;
    process.stderr.write(`chatgate: refusing to start: ${err.message}\n`);
    process.exit(1);
  }
}

async function configure(): Promise<{ config: Config; flags: Flags }> {
  const command = parseCommand(process.argv.slice(2));
  switch (command.kind) {
    case "help":
      process.stdout.write(HELP);
      process.exit(0);
    case "version":
      process.stdout.write(`${VERSION_LINE}\n`);
      process.exit(0);
    case "usage-error":
      process.stderr.write(`chatgate: ${command.message}\nRun 'chatgate --help' for the options.\n`);
      process.exit(2);
    case "check-config": {
      // Loaded only for this command: a gateway's start-up skips the module.
      const { checkConfig } = await import("./config/check-config.ts");
      const result = checkConfig(command.path, process.env, command.flags);
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
      process.exit(result.code);
    }
    case "key-new": {
      // Like check-config: loaded only for this command. The key goes to stdout once, nowhere else.
      const { newKey } = await import("./keys/new-key.ts");
      const result = newKey(command.id);
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
      process.exit(result.code);
    }
    case "usage": {
      // Like check-config: loaded only for this command.
      const { usageCommand } = await import("./ledger/usage-command.ts");
      const result = usageCommand(command.argv, process.env);
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
      process.exit(result.code);
    }
  }
  try {
    return { config: parseConfig(process.env, command.flags), flags: command.flags };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`chatgate: refusing to start: ${err.message}\n`);
    process.exit(2);
  }
}

const { config, flags } = await configure();
// Before listening: a signal that came between the port opening and these lines would get the
// default action (a SIGTERM would kill without draining). The handlers run only once this module
// has finished.
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
// One reload at a time, in the order the signals came; never during a drain.
let stopping = false;
let reloads = Promise.resolve();
const onReload = () => void (reloads = reloads.then(() => (stopping ? undefined : reloadConfig())));
process.on("SIGHUP", onReload);
// SIGHUPs that came while this module loaded (main.ts held them until now): one reload, below, answers them all.
const heldReloads = releaseHeldReloads();
const { app, stats, gateway, reload, rejected, current, cooldowns, ledger, redis, settleShared, tracing } = createOrExit();
// The logger loads once the port is open (pino and its modules cost start-up time); what ends
// before then is held and logged as soon as it is ready.
const early: FinishRecord[] = [];
const holdEarly = gateway.finishes.subscribe((record) => void early.push(record));
try {
  app.listen({ hostname: config.host, port: config.port });
} catch (err) {
  // No logger will load: what the ledger held (a failed prune) goes out as plain text with this line.
  if (ledger) ledger.warn = (line) => process.stderr.write(`chatgate: ${line}\n`);
  process.stderr.write(`chatgate: cannot listen on ${config.host}:${config.port}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
const server = app.server!;
const logFormat = config.logFormat ?? (process.stdout.isTTY ? "pretty" : "json");
// The signal handlers wait for it too: no handler can run before this line (no await since they were installed).
const logReady = createLogger({ level: config.logLevel, format: logFormat });
const log = await logReady;
routeConsole(log);
const logRequest = requestLog(log, config.logRequests);
gateway.finishes.subscribe(logRequest);
holdEarly();
for (const record of early.splice(0)) logRequest(record);
cooldowns.add(cooldownLog(log));
if (ledger) ledger.warn = (line) => log.warn(line);
if (tracing) tracing.warn = (line) => log.warn(line);
if (redis) {
  redis.warn = (line) => log.warn(line);
  redis.open();
}
collectWhenIdle(stats);
// An IPv6 address in brackets, once: HOST may be given as `::1` or as `[::1]`.
const url = `http://${server.hostname?.includes(":") && !server.hostname.startsWith("[") ? `[${server.hostname}]` : server.hostname}:${server.port}`;
if (logFormat === "pretty") {
  // A person at a terminal gets the banner as written, curl example included.
  process.stdout.write(`${bannerLines(config, url).join("\n")}\n`);
} else {
  const { message, fields } = startupFields(config, url);
  // Written whatever the level: that it started, where and how is what every operator needs.
  (log.isLevelEnabled("info") ? log : log.child({}, { level: "info" })).info(fields, message);
  for (const note of startNotes(config)) log.warn(note);
}
// Under systemd (Type=notify): readiness, status, watchdog. Imported only when the service manager
// asks, so any other start-up neither loads nor runs it; not awaited, so the signal handlers below
// are in place before anything else runs.
const systemd = process.env.NOTIFY_SOCKET
  ? import("./systemd/service-notifier.ts").then(({ startServiceNotifier }) =>
      startServiceNotifier(
        process.env,
        () => ({ total: stats.total, inFlightJson: stats.inFlightJson, inFlightStreams: stats.inFlightStreams, targets: gateway.router.health.snapshot() }),
        (line) => log.warn(line),
      ),
    )
  : undefined;
if (heldReloads > 0) onReload();
// The model-list check is advice, not readiness: it waits until the first requests can be answered
// instead of competing with them for the CPU while the process starts.
setTimeout(() => void probeProviders(gateway.router.all, config, (line) => (line.includes("warning:") ? log.warn(line) : log.info(line))), PROBE_DELAY_MS);

/** After the drain time runs out and requests in flight are told why, how long their answers have to go out. */
const FLUSH_MS = 1_000;
/** How long the spans still pending may take to reach the collector at shutdown: an unreachable one must not hold the exit long. */
const TRACE_FLUSH_MS = 3_000;

async function shutdown(signal: NodeJS.Signals): Promise<void> {
  const log = await logReady;
  if (stopping) {
    // A second Ctrl-C (or SIGTERM) means now: what is in flight is cut.
    log.warn(`chatgate: ${signal} again: exiting now`);
    // What the ledger holds is written even so; requests cut now have no row.
    ledger?.close();
    process.exit(128 + (signal === "SIGINT" ? 2 : 15));
  }
  stopping = true;
  void systemd?.then((notifier) => notifier.stopping());
  const inFlight = stats.inFlightJson + stats.inFlightStreams;
  log.info(
    { signal, in_flight: inFlight },
    `chatgate: ${signal}: no longer accepting; waiting for ${inFlight} request(s) in flight (up to ${current().shutdownTimeoutMs} ms); press Ctrl-C again to force`,
  );
  const closing = server.stop(false);
  const drained = await Promise.race([
    Promise.all([closing, stats.idle()]).then(() => true),
    Bun.sleep(current().shutdownTimeoutMs).then(() => false),
  ]);
  if (!drained) {
    log.warn("chatgate: shutdown timeout reached; ending the requests still in flight (server_shutting_down)");
    gateway.stopAll();
    // `closing` settles once the server has written the answers still in flight.
    await Promise.race([Promise.all([closing, stats.idle()]), Bun.sleep(FLUSH_MS)]);
    await server.stop(true);
  }
  // Every request has ended, and with it its finish record: the ledger's last rows go to disk,
  // and the keys' last settlements to Redis (each command bounded by the connection's timeout).
  ledger?.close();
  await settleShared?.();
  // And so have their spans: what the batch still holds goes to the collector, within a bound.
  await tracing?.shutdown(TRACE_FLUSH_MS);
  process.exit(0);
}

/**
 * SIGHUP: the config file (same --config/CHATGATE_CONFIG path) and the environment the process
 * started with, parsed as at start. New requests get the new config; requests in flight finish on
 * the one they started with. A config that fails validation changes nothing.
 */
async function reloadConfig(): Promise<void> {
  const log = await logReady;
  const notifier = await systemd;
  notifier?.reloading();
  let ok = true;
  try {
    log.info(reload(parseConfig(process.env, flags)));
  } catch (err) {
    // Whatever failed (a ConfigError, or the file gone), the running config stays.
    ok = false;
    const message = err instanceof Error ? err.message : String(err);
    rejected(message);
    log.error(`chatgate: reload rejected: ${message}; keeping the running config`);
  }
  notifier?.reloaded(ok);
}

