import { parseArgs } from "node:util";
import type { Flags } from "./config.ts";
import { VERSION } from "./version.ts";

export const HELP = `chatgate ${VERSION} — OpenAI-compatible chat-completions gateway

Usage: chatgate [options]
       chatgate check-config [<path>]   validate a config file and print what it resolves to
                                        (secrets as ***); exits 0, 1 with the start-up error,
                                        or 2 when no path is given and CHATGATE_CONFIG is unset
       chatgate usage [options]         requests, tokens and cost from the usage ledger
                                        (chatgate usage --help for its options)
       chatgate key new --id <id>       print a fresh client key once, and the keys: entry
                                        for the config file (which holds only its digest)

Options:
  --config <path>    YAML config file (overrides CHATGATE_CONFIG); see chatgate.example.yaml
  --host <address>   bind address (overrides HOST; default 127.0.0.1)
  --port <number>    listen port (overrides PORT; default 3000; 0 picks a free port)
  --mock             serve the built-in mock model (same as CHATGATE_MOCK=1)
  --data-dir <path>  where the usage ledger is kept (overrides CHATGATE_DATA_DIR)
  -h, --help         show this help
  -v, --version      print the version

Environment (wins over the config file):
  CHATGATE_CONFIG                  YAML config file: providers, model routes, retries, and most
                                   settings below by their file names (e.g. timeout: 10m; the
                                   README's configuration table marks those that are env only)
  HOST                             bind address (default 127.0.0.1)
  PORT                             listen port (default 3000)
  OPENAI_API_KEY                   key sent upstream as Authorization: Bearer …
  OPENAI_BASE_URL                  upstream base URL (default https://api.openai.com/v1)
  CHATGATE_MOCK                    1: serve the built-in deterministic mock model
  CHATGATE_API_KEYS                comma-separated client keys; an entry may be sha256:<hex>
                                   (digest of the key). Unset: no client auth
  CHATGATE_ALLOW_NO_AUTH           1: allow a non-loopback HOST without client keys
  CHATGATE_RATE_LIMIT_MAX          requests per window per client (default 60; 0 turns limiting off)
  CHATGATE_RATE_LIMIT_WINDOW_MS    window length (default 60000)
  CHATGATE_TRUST_PROXY             1: tell clients apart by X-Forwarded-For (only behind your proxy)
  CHATGATE_DEFAULT_MODEL           model for POST /chat (default gpt-4o-mini)
  CHATGATE_TIMEOUT_MS              deadline of a request's attempts and waits: a non-streamed
                                   answer whole, a stream's first content, or 504 (default 600000)
  CHATGATE_STREAM_IDLE_TIMEOUT_MS  longest wait for a stream's first event and between events
                                   (default 60000)
  CHATGATE_MAX_BODY_BYTES          larger request bodies get 413 (default 16777216)
  CHATGATE_SHUTDOWN_TIMEOUT_MS     on SIGTERM/SIGINT, how long in-flight requests and streams may finish
                                   (default 30000)
  CHATGATE_MAX_UPSTREAM_BYTES      largest non-streamed upstream answer read (default 67108864)
  CHATGATE_AUTH_FAILURE_LIMIT      failed key attempts per client address per minute before 429
                                   (default 20; 0 turns it off)
  CHATGATE_STREAM_BUFFER_BYTES     most stream bytes handed to a client at once; larger
                                   upstream reads go out in pieces (default 1048576)
  CHATGATE_STREAM_HEARTBEAT_MS     upstream silence before a ': keep-alive' comment goes out on a
                                   stream (default 15000; 0 turns it off)
  CHATGATE_IDLE_CONNECTION_TIMEOUT_S  seconds an idle connection stays open (default 30, at most
                                   255); never cuts a request waiting on its provider
  CHATGATE_RETRIES                 retries per target after its first attempt (default 2)
  CHATGATE_MAX_RETRY_WAIT_MS       longest upstream Retry-After waited for (default 10000)
  CHATGATE_COOLDOWN_AFTER          failures in a row that put a target into cooldown
                                   (default 3; 0 turns cooldown off)
  CHATGATE_COOLDOWN_MS             how long a target cools down (default 30000)
  CHATGATE_RESUME                  1: a stream to the env-only provider that breaks mid-answer is
                                   continued where it stopped (needs CHATGATE_CONTINUATION)
  CHATGATE_CONTINUATION            how the env-only provider continues a partial answer: prefill,
                                   prefix, vllm or none (default none)
  CHATGATE_CACHE_TTL               how long the response cache keeps answers, with a unit (1h, 90s;
                                   default: off)
  CHATGATE_CORS_ORIGINS            browser origins allowed to call the gateway, comma-separated
                                   (https://app.example.com), or * for any (default: CORS off)
  CHATGATE_LOG_LEVEL               least severe level logged: debug, info, warn or error
                                   (default info)
  CHATGATE_LOG_REQUESTS            0: no log line per request (default on)
  CHATGATE_LOG_FORMAT              json or pretty (default: json unless stdout is a terminal)
  CHATGATE_METRICS_KEY             the key GET /metrics takes instead of the client keys, or
                                   several, comma-separated (each may be sha256:<hex>)
  CHATGATE_OTLP_ENDPOINT           OTLP/HTTP collector (http://collector:4318): exports a trace
                                   per request (default: tracing off)
  CHATGATE_OTLP_HEADERS            name=value,… sent with each export (a collector's credentials)
  CHATGATE_OTLP_SAMPLE             share of new traces exported, 0 to 1 (default 1)
  CHATGATE_DATA_DIR                where the usage ledger is kept (default $STATE_DIRECTORY under
                                   systemd, else $XDG_DATA_HOME/chatgate or ~/.local/share/chatgate)
  CHATGATE_LEDGER                  0: keep no usage ledger (default on)
  CHATGATE_RETENTION_DAYS          days the ledger keeps a request (default 90; file: retention)
  CHATGATE_ADMIN_KEY               the key GET /v1/usage takes (may be sha256:<hex>); unset: the
                                   usage report is off
  CHATGATE_REDIS_URL               redis://[:password@]host:port[/db]: limits, budgets and the
                                   response cache shared by every instance (default: in memory)
  CHATGATE_REDIS_TIMEOUT_MS        longest wait for one Redis command (default 100)
  CHATGATE_REDIS_LIMITS_ON_ERROR   fail_open or fail_closed while Redis does not answer (default
                                   fail_open)
  CHATGATE_REDIS_BUDGETS_ON_ERROR  fail_closed or fail_open while Redis does not answer (default
                                   fail_closed)

A provider is configured when OPENAI_API_KEY or OPENAI_BASE_URL is set, or the config file
lists one.
`;

export type Command =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "serve"; flags: Flags }
  /** `path` is the positional argument, else --config / CHATGATE_CONFIG (undefined: neither given). */
  | { kind: "check-config"; path?: string; flags: Flags }
  /** `argv`: what follows `usage`, parsed by the command itself (src/ledger/usage-command.ts). */
  | { kind: "usage"; argv: string[] }
  /** `chatgate key new --id <id>`; the id is checked by the command (src/keys/new-key.ts). */
  | { kind: "key-new"; id?: string }
  | { kind: "usage-error"; message: string };

export function parseCommand(argv: string[]): Command {
  // `usage` has options of its own (--from, --format, …), which the gateway's parser would refuse.
  if (argv[0] === "usage") return { kind: "usage", argv: argv.slice(1) };
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        mock: { type: "boolean" },
        config: { type: "string" },
        "data-dir": { type: "string" },
        id: { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
      },
    });
  } catch (err) {
    return { kind: "usage-error", message: err instanceof Error ? err.message : String(err) };
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  const flags: Flags = { host: values.host, port: values.port, mock: values.mock, config: values.config, dataDir: values["data-dir"] };
  const [command, path, ...extra] = positionals;
  if (command === "key") {
    if (path !== "new" || extra.length > 0) return { kind: "usage-error", message: "key has one subcommand: chatgate key new --id <id>" };
    return { kind: "key-new", id: values.id };
  }
  if (values.id !== undefined) return { kind: "usage-error", message: "--id belongs to chatgate key new" };
  if (command === undefined) return { kind: "serve", flags };
  if (command === "usage") return { kind: "usage-error", message: "usage takes its options after it: chatgate usage [options]" };
  if (command !== "check-config") return { kind: "usage-error", message: `unknown command '${command}' (the commands are check-config, key new and usage)` };
  if (extra.length > 0) return { kind: "usage-error", message: "check-config takes one config file" };
  return { kind: "check-config", path, flags };
}
