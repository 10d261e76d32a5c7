// Where the ledger lives, whether it is on, and how a usage report's parameters are read.
import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config.ts";
import { ledgerPath, resolveDataDir } from "../../src/ledger/data-dir.ts";
import { parseUsageQuery } from "../../src/ledger/usage-query.ts";

const HOME = "/home/ada";

describe("resolveDataDir", () => {
  test("--data-dir wins over everything", () => {
    expect(resolveDataDir({ CHATGATE_DATA_DIR: "/env", STATE_DIRECTORY: "/var/lib/chatgate" }, HOME, "/flag")).toBe("/flag");
  });

  test("then CHATGATE_DATA_DIR, then systemd's STATE_DIRECTORY (its first entry)", () => {
    expect(resolveDataDir({ CHATGATE_DATA_DIR: "/env", STATE_DIRECTORY: "/var/lib/chatgate" }, HOME)).toBe("/env");
    expect(resolveDataDir({ STATE_DIRECTORY: "/var/lib/chatgate:/var/lib/other", XDG_DATA_HOME: "/xdg" }, HOME)).toBe("/var/lib/chatgate");
  });

  test("then $XDG_DATA_HOME/chatgate, then ~/.local/share/chatgate", () => {
    expect(resolveDataDir({ XDG_DATA_HOME: "/xdg" }, HOME)).toBe("/xdg/chatgate");
    expect(resolveDataDir({}, HOME)).toBe("/home/ada/.local/share/chatgate");
  });

  test("an empty variable counts as unset, not as the current directory", () => {
    expect(resolveDataDir({ CHATGATE_DATA_DIR: "", STATE_DIRECTORY: "", XDG_DATA_HOME: " " }, HOME, "")).toBe("/home/ada/.local/share/chatgate");
  });

  test("the ledger file sits in the data directory", () => {
    expect(ledgerPath("/var/lib/chatgate")).toBe("/var/lib/chatgate/ledger.sqlite");
  });
});

describe("CHATGATE_LEDGER", () => {
  const ledger = (value?: string) => parseConfig({ CHATGATE_MOCK: "1", CHATGATE_LEDGER: value }).ledger;
  test("on unless it turns it off; any other value refuses to start, naming the variable", () => {
    expect(ledger()).toBe(true);
    expect(ledger("1")).toBe(true);
    for (const off of ["0", "false", "off", "no", " OFF "]) expect(ledger(off), off).toBe(false);
    expect(() => ledger("bogus")).toThrow('CHATGATE_LEDGER: expected 1 (or true, yes, on) or 0 (or false, no, off), got "bogus"');
  });
});

describe("parseUsageQuery", () => {
  test("nothing given: every row kept, grouped by model", () => {
    expect(parseUsageQuery({})).toEqual({ from: undefined, to: undefined, groupBy: "model" });
  });

  test("a date as from starts at its UTC midnight; a date as to includes its whole day", () => {
    expect(parseUsageQuery({ from: "2026-12-01", to: "2026-12-01", group_by: "day" })).toEqual({
      from: Date.UTC(2026, 11, 1),
      to: Date.UTC(2026, 11, 2),
      groupBy: "day",
    });
  });

  test("an ISO 8601 time with its offset is that instant", () => {
    expect(parseUsageQuery({ from: "2026-12-01T09:30:00Z", to: "2026-12-01T12:00:00+02:00", group_by: "key" })).toEqual({
      from: Date.UTC(2026, 11, 1, 9, 30),
      to: Date.UTC(2026, 11, 1, 10, 0),
      groupBy: "key",
    });
  });

  test("each group_by the route accepts", () => {
    for (const groupBy of ["key", "model", "provider", "day"]) expect(parseUsageQuery({ group_by: groupBy })).toMatchObject({ groupBy });
  });

  test("an unknown group_by names the choices", () => {
    expect(parseUsageQuery({ group_by: "user" })).toEqual({ param: "group_by", message: "must be one of key, model, provider, day, not 'user'" });
  });

  test("a bare number, a time without an offset, or an impossible date is refused, naming the parameter", () => {
    expect(parseUsageQuery({ from: "1733500000000" })).toMatchObject({ param: "from" });
    expect(parseUsageQuery({ from: "2026-12-01T09:30:00" })).toMatchObject({ param: "from" });
    expect(parseUsageQuery({ to: "2026-02-31" })).toMatchObject({ param: "to" });
  });

  test("to must come after from", () => {
    expect(parseUsageQuery({ from: "2026-12-02", to: "2026-12-01" })).toEqual({ param: "to", message: "must be later than from" });
  });
});
