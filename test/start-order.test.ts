// The build's start-up recording (deploy/start-order.ts): the compiled binary starts with a
// config as a deployment writes one, answers, stops on SIGTERM and leaves the order file the
// second build reads.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordStartOrder } from "../deploy/start-order.ts";
import { compiledBinary } from "./support/binary.ts";

const dir = mkdtempSync(join(tmpdir(), "chatgate-order-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a start of the binary records the order its code ran in", async () => {
  const order = join(dir, "order");
  expect(await recordStartOrder(await compiledBinary(), order)).toBe(true);
  const lines = readFileSync(order, "utf8").split("\n");
  expect(lines[0]).toBe("v2");
  // Every function and module that ran from start to the first stream, each named once.
  const entries = lines.filter((line) => /^[FM] [0-9a-f]{16}$/.test(line));
  expect(entries.length).toBeGreaterThan(1000);
  expect(new Set(entries).size).toBe(entries.length);
}, 60_000);

test("a binary that cannot start records nothing, and says so by returning false", async () => {
  expect(await recordStartOrder("/bin/false", join(dir, "none"))).toBe(false);
}, 30_000);
