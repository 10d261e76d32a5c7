import { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { parseArgs } from "node:util";
import { ledgerPath, resolveDataDir } from "./data-dir.ts";
import { LATEST_VERSION, schemaVersion } from "./schema.ts";
import { FORMATS, formatUsage, type Format } from "./usage-format.ts";
import { isUsageParamError, parseUsageQuery } from "./usage-query.ts";
import { usageReport } from "./usage-report.ts";

type Env = Record<string, string | undefined>;

/** What `chatgate usage` prints and exits with: 0 done, 1 the ledger could not be read, 2 bad options. */
export interface UsageCommandResult {
  stdout: string;
  stderr: string;
  code: 0 | 1 | 2;
}

export const USAGE_HELP = `Usage: chatgate usage [options]

Requests, errors, tokens and cost from the usage ledger in the data directory.

Options:
  --from <time>        first day or time included: 2026-12-01 or 2026-12-01T09:30:00Z (default:
                       the oldest row kept)
  --to <time>          last day included (2026-12-07), or the time the period ends before
                       (default: now)
  --group-by <what>    key, model, provider or day (default: model)
  --format <format>    table, csv or json (default: table)
  --data-dir <path>    the data directory (overrides CHATGATE_DATA_DIR; default $STATE_DIRECTORY
                       under systemd, else $XDG_DATA_HOME/chatgate or ~/.local/share/chatgate)
  -h, --help           show this help
`;

/**
 * `chatgate usage [--from --to --group-by --format --data-dir]`: the same report as
 * `GET /v1/usage`, read from the data directory's ledger opened read-only, so it runs beside a
 * gateway that is writing (WAL) and never changes the file — not even to migrate an old one.
 * `argv` is what follows `usage`; `home` is where `~/.local/share` is.
 */
export function usageCommand(argv: string[], env: Env, home: string = homedir()): UsageCommandResult {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        from: { type: "string" },
        to: { type: "string" },
        "group-by": { type: "string" },
        format: { type: "string" },
        "data-dir": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    return usageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return { code: 0, stdout: USAGE_HELP, stderr: "" };
  const format = values.format ?? "table";
  if (!(FORMATS as readonly string[]).includes(format)) return usageError(`--format must be one of ${FORMATS.join(", ")}, not '${format}'`);
  const query = parseUsageQuery({ from: values.from, to: values.to, group_by: values["group-by"] });
  if (isUsageParamError(query)) return usageError(`--${query.param.replace("_", "-")} ${query.message}`);

  const path = ledgerPath(resolveDataDir(env, home, values["data-dir"]));
  if (!existsSync(path)) return failure(`no usage ledger at ${path} (nothing recorded yet, the ledger is off, or another --data-dir)`);
  let db: Database | undefined;
  try {
    db = new Database(path, { readonly: true, strict: true });
    const version = schemaVersion(db);
    if (version < LATEST_VERSION) return failure(`the ledger at ${path} is at schema version ${version}; start chatgate once to bring it to version ${LATEST_VERSION}`);
    if (version > LATEST_VERSION) return failure(`the ledger at ${path} is at schema version ${version}, newer than this chatgate knows (${LATEST_VERSION}); use a newer chatgate`);
    return { code: 0, stdout: formatUsage(format as Format, query, usageReport(db, query)), stderr: "" };
  } catch (err) {
    return failure(`cannot read the ledger at ${path}: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    db?.close();
  }
}

function usageError(message: string): UsageCommandResult {
  return { code: 2, stdout: "", stderr: `chatgate usage: ${message}\nRun 'chatgate usage --help' for the options.\n` };
}

function failure(message: string): UsageCommandResult {
  return { code: 1, stdout: "", stderr: `chatgate usage: ${message}\n` };
}
