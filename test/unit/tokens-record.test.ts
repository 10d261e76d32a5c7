// A finish record whose usage must wait for its count: emitted once, when the count is made,
// with usageEstimated; the request is no longer in flight, but a graceful shutdown waits for its record.
import { describe, expect, test } from "bun:test";
import type { CompletionUsage } from "openai/resources/completions";
import { Finishes, type FinishRecord } from "../../src/gateway/finish.ts";
import { Run } from "../../src/gateway/run.ts";
import { Stats } from "../../src/obs/stats.ts";
import { Estimate } from "../../src/usage/estimate.ts";

const USAGE: CompletionUsage = { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 };

/** An estimate counted when the test says so. */
class SlowEstimate extends Estimate {
  readonly counted = Promise.withResolvers<void>();

  constructor() {
    super("o200k_base", () => USAGE);
  }

  override count(): Promise<CompletionUsage | undefined> {
    return this.counted.promise.then(() => USAGE);
  }
}

function setup() {
  const finishes = new Finishes();
  const stats = new Stats();
  const records: FinishRecord[] = [];
  finishes.subscribe((r) => records.push(r));
  const run = new Run(finishes, stats, () => 1000, "/v1/chat/completions", true, "gpt-4o");
  return { stats, records, run };
}

describe("a record waiting on its count", () => {
  test("is emitted once, after the count, with the estimate and usageEstimated; until then the record is pending and idle() waits", async () => {
    const { stats, records, run } = setup();
    const estimate = new SlowEstimate();
    // A shutdown that began while the request was in flight waits on past its end, for the record.
    let idle = false;
    const waiting = stats.idle().then(() => (idle = true));
    run.finish(200, "client_abort", () => estimate);
    run.finish(200, "ok", () => USAGE);
    expect(records).toHaveLength(0);
    // The answer is over (/status no longer counts it) but its record is pending.
    expect(stats.inFlightStreams).toBe(0);
    expect(stats.recordsPending).toBe(1);
    let idleLater = false;
    void stats.idle().then(() => (idleLater = true));
    await Bun.sleep(5);
    expect(idle).toBe(false);
    expect(idleLater).toBe(false);

    estimate.counted.resolve();
    await waiting;
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ outcome: "client_abort", usage: USAGE, usageEstimated: true });
    expect(stats.recordsPending).toBe(0);
  });

  test("with the count made already the record is emitted at once; a reported usage is not marked estimated", () => {
    const counted = setup();
    counted.run.finish(200, "ok", () => Estimate.of(USAGE));
    expect(counted.records).toEqual([expect.objectContaining({ usage: USAGE, usageEstimated: true })]);
    expect(counted.stats.inFlightStreams).toBe(0);
    const reported = setup();
    reported.run.finish(200, "ok", () => USAGE);
    expect(reported.records[0]!.usage).toBe(USAGE);
    expect(reported.records[0]!.usageEstimated).toBeUndefined();
  });

  test("with no one listening nothing is counted and the request leaves at once", () => {
    const finishes = new Finishes();
    const stats = new Stats();
    const run = new Run(finishes, stats, () => 0, "/v1/chat/completions", false, "gpt-4o");
    let asked = false;
    run.finish(200, "ok", () => ((asked = true), new SlowEstimate()));
    expect(asked).toBe(false);
    expect(stats.inFlightJson).toBe(0);
  });
});
