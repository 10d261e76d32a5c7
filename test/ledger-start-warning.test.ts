// A warning from the ledger while the gateway starts (before its logger has loaded) reaches the
// log in the configured format like every other warning: held, then logged. It used to be bare
// text on stderr, which a JSON log collector does not parse.
import { afterAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ledgerPath } from "../src/ledger/data-dir.ts";
import { Ledger } from "../src/ledger/ledger.ts";
import { spawnGateway, SOURCE_CMD } from "./support/process.ts";

const dataDir = mkdtempSync(join(tmpdir(), "chatgate-ledger-start-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

test("a prune that fails at start (another process holds the database's write lock) is a JSON warn line on stdout, not bare text on stderr", async () => {
  // A ledger with its schema, then a writer that keeps the lock past the gateway's busy_timeout (1 s):
  // the prune at open cannot delete and fails with "database is locked".
  Ledger.open({ path: ledgerPath(dataDir), retentionMs: Number.POSITIVE_INFINITY }).close();
  const holder = new Database(ledgerPath(dataDir));
  holder.exec("BEGIN IMMEDIATE");
  try {
    await using gw = await spawnGateway(SOURCE_CMD, { CHATGATE_MOCK: "1", CHATGATE_DATA_DIR: dataDir });
    holder.exec("ROLLBACK");
    const line = await gw.waitForLog((l) => l.level === "warn" && /pruning the usage ledger failed/.test(l.msg), 3_000);
    expect(line.msg).toContain("database is locked");
    expect(gw.output()).not.toMatch(/^chatgate: pruning/m);
  } finally {
    if (holder.inTransaction) holder.exec("ROLLBACK");
    holder.close();
  }
}, 20_000);
