import { join } from "node:path";

type Env = Record<string, string | undefined>;

/** The ledger's file name inside the data directory. */
export const LEDGER_FILE = "ledger.sqlite";

/**
 * Where chatgate keeps its state, first of:
 * 1. `--data-dir <path>` (`flag`);
 * 2. `CHATGATE_DATA_DIR`;
 * 3. `$STATE_DIRECTORY`, which systemd sets from the unit's `StateDirectory=` (to a
 *    colon-separated list when there are several; the first is ours);
 * 4. `$XDG_DATA_HOME/chatgate`;
 * 5. `~/.local/share/chatgate` (the XDG default), `home` being the user's home directory.
 * An empty value counts as unset, so `CHATGATE_DATA_DIR=` in an env file does not mean the current
 * directory.
 */
export function resolveDataDir(env: Env, home: string, flag?: string): string {
  const explicit = nonEmpty(flag) ?? nonEmpty(env.CHATGATE_DATA_DIR);
  if (explicit) return explicit;
  const systemd = nonEmpty(env.STATE_DIRECTORY?.split(":")[0]);
  if (systemd) return systemd;
  const xdg = nonEmpty(env.XDG_DATA_HOME);
  return join(xdg ?? join(home, ".local", "share"), "chatgate");
}

/** The ledger file in `dataDir`. */
export function ledgerPath(dataDir: string): string {
  return join(dataDir, LEDGER_FILE);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}
