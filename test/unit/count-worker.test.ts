// The counting process: started on the first count, shared by the counts that overlap, gone after
// its idle time; one that cannot count leaves every count answered by four bytes a token.
import { describe, expect, test } from "bun:test";
import { countTokens as o200k } from "gpt-tokenizer/encoding/o200k_base";
import { CountWorker } from "../../src/usage/count-texts.ts";
import type { Encoding } from "../../src/usage/encoding.ts";
import { SAMPLE_CHARS, roughCount } from "../../src/usage/tokenizer.ts";

const FAILING = [process.execPath, new URL("../support/failing-count-worker.ts", import.meta.url).pathname];

async function until(done: () => boolean, ms = 2_000): Promise<void> {
  for (const end = Date.now() + ms; !done(); await Bun.sleep(5)) if (Date.now() > end) throw new Error("timed out");
}

describe("the counting process", () => {
  test("counts that overlap share one process, which exits after its idle time; the next count starts another", async () => {
    const worker = new CountWorker({ idleMs: 50 });
    expect(worker.alive).toBe(false);
    const counts = await Promise.all([worker.count("o200k_base", ["hello world"]), worker.count("o200k_base", ["The quick brown fox"]), worker.count("cl100k_base", ["hello"])]);
    expect(counts).toEqual([[o200k("hello world")], [o200k("The quick brown fox")], [1]]);
    expect(worker.started).toBe(1);
    expect(worker.alive).toBe(true);
    await until(() => !worker.alive);
    expect(await worker.count("o200k_base", ["hello world"])).toEqual([2]);
    expect(worker.started).toBe(2);
  });

  test("a count within the idle time reuses the process", async () => {
    const worker = new CountWorker({ idleMs: 500 });
    await worker.count("o200k_base", ["a"]);
    await Bun.sleep(20);
    await worker.count("o200k_base", ["b"]);
    expect(worker.started).toBe(1);
  });

  test("a long text is counted on its sample and scaled to its length", async () => {
    const worker = new CountWorker({ idleMs: 50 });
    const text = "The quick brown fox jumps over the lazy dog. ".repeat(2_000);
    const [tokens] = await worker.count("o200k_base", [text]);
    const sample = o200k(text.slice(0, SAMPLE_CHARS));
    expect(tokens).toBe(Math.round((sample * text.length) / SAMPLE_CHARS));
  });

  const failures: [string, string[] | undefined, Encoding | "exit" | "throw"][] = [
    ["an encoding it does not know", undefined, "nope" as Encoding],
    ["a process that throws", FAILING, "throw"],
    ["a process that exits with counts pending", FAILING, "exit"],
    ["a process that cannot start", ["/nowhere/chatgate", "__count-tokens"], "o200k_base"],
  ];
  for (const [what, command, encoding] of failures) {
    test(`${what}: the counts are four bytes a token, reported once, never a rejection`, async () => {
      const reports: unknown[] = [];
      const worker = new CountWorker({ idleMs: 50, command, onFailure: (err) => reports.push(err) });
      const texts = ["hello world", "é".repeat(10)];
      const both = await Promise.all([worker.count(encoding as Encoding, texts), worker.count(encoding as Encoding, ["x"])]);
      expect(both).toEqual([texts.map(roughCount), [1]]);
      expect(await worker.count(encoding as Encoding, texts)).toEqual(texts.map(roughCount));
      expect(reports).toHaveLength(1);
      await until(() => !worker.alive);
    });
  }
});
