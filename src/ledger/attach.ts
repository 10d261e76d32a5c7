// The usage ledger attached to a running gateway: one row per finish record, priced at the
// current config's prices, queued in memory and written off the request path.
import type { Config } from "../config.ts";
import { priceLookup } from "../cost/target-prices.ts";
import type { Finishes, FinishRecord } from "../gateway/finish.ts";
import { ledgerPath } from "./data-dir.ts";
import { Ledger } from "./ledger.ts";
import { rowsFor, type PriceLookup } from "./rows.ts";

export interface AttachLedgerOptions {
  /** The gateway's finish records: the ledger subscribes to them. */
  finishes: Finishes;
  /** The running config, read per record: a reload's new `price:` overrides apply to the requests that finish after it. */
  config: () => Config;
  /** The clock of the rows' `ts` and of pruning. */
  now: () => number;
}

/** The ledger of a running gateway. */
export interface AttachedLedger {
  ledger: Ledger;
  /**
   * Where the ledger's warnings go (a write failing, rows dropped, a prune failing). Until it is
   * set they are held (the prune at open warns before the process's logger has loaded); setting
   * it passes the held lines on first, in order. The process points it at its logger.
   */
  warn: (message: string) => void;
  /** Stops listening, writes every pending row and closes the file. Synchronous: safe in a forced exit. */
  close(): void;
}

/** The ledger could not be opened: the gateway refuses to start rather than run without the record it was asked to keep. */
export class LedgerOpenError extends Error {
  override name = "LedgerOpenError";
}

/**
 * Opens `ledger.sqlite` in the config's data directory (created when missing, owner-only) and
 * records every finish record from now on. Per request this is one row built and pushed on a list
 * (`Ledger.record`); the disk is written once a second and on `close`. Call it only when the
 * ledger is on: off, there is nothing to open and no listener, so the request path is untouched.
 */
export function attachLedger(options: AttachLedgerOptions): AttachedLedger {
  const { finishes, config, now } = options;
  const path = ledgerPath(config().dataDir);
  // Settable after opening (the logger loads later); read at each warning, pruning at open included.
  // Held until then, so a start-up warning reaches the log in its format rather than bare on stderr.
  let held: string[] | undefined = [];
  let warn = (message: string) => void held?.push(message);
  let ledger: Ledger;
  try {
    ledger = Ledger.open({ path, now, retentionMs: config().retentionMs, warn: (message) => warn(message) });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new LedgerOpenError(
      `cannot open the usage ledger at ${path}: ${why}. Point CHATGATE_DATA_DIR (or --data-dir) at a directory chatgate can write, or set CHATGATE_LEDGER=0 to run without one`,
    );
  }
  const prices = currentPrices(config);
  const stop = finishes.subscribe((record: FinishRecord) => {
    ledger.record(rowsFor(record, prices(), { now: now(), usageEstimated: record.usageEstimated, cached: record.cached }));
  });
  return {
    ledger,
    get warn() {
      return warn;
    },
    set warn(sink) {
      warn = sink;
      const lines = held ?? [];
      held = undefined;
      for (const line of lines) sink(line);
    },
    close() {
      stop();
      ledger.close();
    },
  };
}

/** The price lookup of the running config, built again only when a reload has swapped the config. */
function currentPrices(config: () => Config): () => PriceLookup {
  let builtFor: Config | undefined;
  let lookup: PriceLookup | undefined;
  return () => {
    const running = config();
    if (running !== builtFor || lookup === undefined) {
      lookup = priceLookup(running);
      builtFor = running;
    }
    return lookup;
  };
}
