// What a request that ends between two attempts records as its usage: a client that leaves during
// the wait before a retry gets the prompt it sent upstream counted (estimated, nothing delivered),
// as a client that leaves while a call is in flight does; an error answer (a 502 once the retries
// are spent, a shutdown's 503 during the wait) keeps its usage unknown, so its cost stays null.
// The waits go through the injected clock (support/clock.ts); the rows are read from the real
// SQLite file. Regression: an abort during the retry wait was recorded with no token counts.
import { describe, expect, test } from "bun:test";
import { requestFields } from "../src/obs/log.ts";
import { chat, errorOf, pair, type Pair } from "./support/routed.ts";
import { nextRecord } from "./support/records.ts";

/** The cookbook's count of `[{role: "user", content: "hi"}]`: 3 priming + 3 per message + "user" + "hi". */
const HI_PROMPT = 8;

/** The newest ledger row, once the pending rows are written to the file. */
function lastRow(p: Pair) {
  const ledger = p.gw.app.ledger!.ledger;
  ledger.flush();
  return ledger.db.query("SELECT status, outcome, prompt_tokens, completion_tokens, usage_estimated, cost_usd FROM requests ORDER BY id DESC LIMIT 1").get();
}

describe("a client that leaves during the wait before a retry", () => {
  test.each([false, true])("is recorded with the prompt it sent upstream, estimated, and nothing delivered (stream: %p)", async (stream) => {
    await using p = pair({ config: { retries: 2 } });
    p.clock.hold = true;
    p.a.reply({ kind: "error", status: 500 });
    const record = nextRecord(p.gw);
    const client = new AbortController();
    const answer = chat(p.gw, { stream }, { signal: client.signal }).catch(() => undefined);
    await p.clock.sleeping();
    client.abort();
    await answer;
    const finish = await record;
    expect([finish.status, finish.outcome, finish.errorCode]).toEqual([499, "client_abort", "client_closed_request"]);
    expect(finish.usageEstimated).toBe(true);
    expect(finish.usage).toEqual({ prompt_tokens: HI_PROMPT, completion_tokens: 0, total_tokens: HI_PROMPT });
    expect(requestFields(finish)).toMatchObject({ tokens_in: HI_PROMPT, tokens_out: 0, usage_estimated: true });
    expect(lastRow(p)).toMatchObject({ status: 499, outcome: "client_abort", prompt_tokens: HI_PROMPT, completion_tokens: 0, usage_estimated: 1 });
    expect([p.a.calls.length, p.b.calls.length]).toEqual([1, 0]);
  });
});

describe("an error answer after attempts that reported nothing keeps its usage unknown, whichever way it ends", () => {
  test("a 502 once every attempt failed: no token counts, not estimated, cost null", async () => {
    await using p = pair({ config: { retries: 1 } });
    p.a.reply({ kind: "error", status: 500 }, { kind: "error", status: 500 });
    p.b.reply({ kind: "error", status: 500 }, { kind: "error", status: 500 });
    const record = nextRecord(p.gw);
    expect((await errorOf(await chat(p.gw))).status).toBe(502);
    const finish = await record;
    expect([finish.usage, finish.usageEstimated ?? false]).toEqual([undefined, false]);
    expect(lastRow(p)).toEqual({ status: 502, outcome: "error", prompt_tokens: null, completion_tokens: null, usage_estimated: 0, cost_usd: null });
  });

  test("a shutdown out of drain time during the wait (503): recorded as the 502 is", async () => {
    await using p = pair({ config: { retries: 2 } });
    p.clock.hold = true;
    p.a.reply({ kind: "error", status: 500 });
    const record = nextRecord(p.gw);
    const answer = chat(p.gw);
    await p.clock.sleeping();
    p.gw.app.gateway.stopAll();
    expect((await errorOf(await answer)).status).toBe(503);
    const finish = await record;
    expect([finish.errorCode, finish.usage, finish.usageEstimated ?? false]).toEqual(["server_shutting_down", undefined, false]);
    expect(lastRow(p)).toEqual({ status: 503, outcome: "error", prompt_tokens: null, completion_tokens: null, usage_estimated: 0, cost_usd: null });
  });
});
