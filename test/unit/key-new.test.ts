// `chatgate key new --id <id>`: the command line, and what it prints — a fresh key once, and the
// config entry holding only its digest, which the config loader takes as printed.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { matchKey } from "../../src/auth/keys.ts";
import { parseCommand } from "../../src/cli.ts";
import { parseConfig } from "../../src/config.ts";
import { KEY_PREFIX, newKey } from "../../src/keys/new-key.ts";

const dir = mkdtempSync(join(tmpdir(), "chatgate-key-new-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The key line and the entry line of the command's output; the rest are comments. */
function printed(stdout: string): { key: string; entry: string } {
  const lines = stdout.split("\n").filter((line) => line !== "" && !line.startsWith("#"));
  expect(lines).toHaveLength(2);
  return { key: lines[0]!, entry: lines[1]! };
}

describe("parseCommand", () => {
  test("key new takes --id; anything else is a usage error", () => {
    expect(parseCommand(["key", "new", "--id", "team-a"])).toEqual({ kind: "key-new", id: "team-a" });
    expect(parseCommand(["key", "new"])).toEqual({ kind: "key-new", id: undefined });
    expect(parseCommand(["key"])).toMatchObject({ kind: "usage-error", message: "key has one subcommand: chatgate key new --id <id>" });
    expect(parseCommand(["key", "old", "--id", "a"])).toMatchObject({ kind: "usage-error" });
    expect(parseCommand(["key", "new", "extra"])).toMatchObject({ kind: "usage-error" });
    expect(parseCommand(["--id", "team-a"])).toMatchObject({ kind: "usage-error", message: "--id belongs to chatgate key new" });
  });
});

describe("newKey", () => {
  test("prints a fresh key and the keys: entry with its digest; the entry, pasted into a config, lets that key in as the id", () => {
    const result = newKey("team-a");
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const { key, entry } = printed(result.stdout);
    expect(key).toMatch(new RegExp(`^${KEY_PREFIX}[A-Za-z0-9_-]{43}$`));
    expect(entry).toMatch(/^ {2}- \{id: "team-a", key: "sha256:[0-9a-f]{64}"\}$/);
    expect(result.stdout.split(key)).toHaveLength(2);
    const path = join(dir, "pasted.yaml");
    writeFileSync(path, `mock: true\nkeys:\n${entry}\n`);
    const config = parseConfig({}, { config: path });
    expect(config.clientKeys).toEqual([{ id: "team-a" }]);
    expect(matchKey(config.apiKeyDigests, key)).toBe(0);
  });

  test("every key is new: 256 random bits each", () => {
    const keys = new Set(Array.from({ length: 50 }, () => printed(newKey("a").stdout).key));
    expect(keys.size).toBe(50);
    const fixed = newKey("a", (bytes) => bytes.fill(0xff));
    expect(printed(fixed.stdout).key).toBe(`${KEY_PREFIX}${"_".repeat(42)}8`);
  });

  test("an id YAML would read as something else is quoted, and still loads as a string", () => {
    const { entry } = printed(newKey("1.5").stdout);
    expect(entry).toContain('id: "1.5"');
    const path = join(dir, "numeric-id.yaml");
    writeFileSync(path, `keys:\n${entry}\n`);
    expect(parseConfig({}, { config: path }).clientKeys[0]!.id).toBe("1.5");
  });

  test("a missing, malformed or reserved id is a usage error, and no key is printed", () => {
    for (const [id, message] of [
      [undefined, "key new needs --id <id>"],
      ["team a", '--id "team a": expected 1-64 letters'],
      ["key-7", '--id "key-7": ids like key-1 are given to api_keys'],
    ] as const) {
      const result = newKey(id);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr).toStartWith(`chatgate: ${message}`);
    }
  });
});
