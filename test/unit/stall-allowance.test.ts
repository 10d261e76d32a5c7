// The stall allowance of a committed stream (src/http/sse.ts): a client that takes nothing for the
// stall time is ended (client_stalled), unless it is still taking a large piece: a second per 512
// bytes of it, at most 5 minutes (shortened here through Pacing.longestTakeMs, so nothing waits
// minutes). The HTTP-level behaviour is in test/slow-reader.test.ts; here the arithmetic and the cap.
import { describe, expect, test } from "bun:test";
import type { GatewayError } from "../../src/errors.ts";
import type { Outcome } from "../../src/gateway/finish.ts";
import type { OpenStream } from "../../src/gateway/gateway.ts";
import { StreamBody, takeAllowanceMs, type Pacing } from "../../src/http/sse.ts";
import { StreamSeen } from "../../src/providers/provider.ts";

describe("takeAllowanceMs", () => {
  test("the stall time for a small piece, a second per 512 B for a large one, at most 5 minutes", () => {
    const pacing = { heartbeatMs: 0, stallMs: 300, onStall() {} };
    expect(takeAllowanceMs(pacing, 100)).toBe(300);
    expect(takeAllowanceMs(pacing, 512)).toBe(1000);
    expect(takeAllowanceMs(pacing, 256 * 1024)).toBe(300_000);
    expect(takeAllowanceMs(pacing, 1024 * 1024)).toBe(300_000);
    expect(takeAllowanceMs({ ...pacing, longestTakeMs: 2_000 }, 1024 * 1024)).toBe(2_000);
  });
});

/** A committed stream whose first piece is `bytes` long and whose upstream then says nothing more. */
function stream(bytes: number) {
  const ended: { outcome: Outcome; error?: GatewayError }[] = [];
  let stalls = 0;
  const open: OpenStream = {
    first: new Uint8Array(bytes),
    rest: { next: () => new Promise<IteratorResult<Uint8Array, void>>(() => {}), return: async () => ({ done: true, value: undefined }) },
    seen: new StreamSeen(),
    complete: false,
    served: { provider: "p", model: "m", attempts: 1 },
    dropped: undefined,
    end() {},
  };
  const pacing = (extra: Partial<Pacing> = {}): Pacing => ({ heartbeatMs: 0, stallMs: 20, onStall: () => void stalls++, ...extra });
  return { open, ended, pacing, stalls: () => stalls, onEnd: (outcome: Outcome, error?: GatewayError) => void ended.push({ outcome, error }) };
}

describe("a client that took its piece and then nothing more", () => {
  test("with a 64 B piece (an allowance of 125 ms over a stall time of 20 ms) is ended between the two, as client_stalled", async () => {
    const s = stream(64);
    const body = new StreamBody(s.open, s.onEnd, s.pacing());
    await body.next();
    await Bun.sleep(80);
    expect(s.ended).toEqual([]);
    for (let i = 0; i < 40 && s.ended.length === 0; i++) await Bun.sleep(10);
    expect(s.ended).toEqual([{ outcome: "client_abort", error: expect.objectContaining({ code: "client_stalled" }) }]);
    expect(s.stalls()).toBe(1);
  });

  test("with a 1 MiB piece is given up to the longest take (here 150 ms), then ended; without that cap it is still being waited for", async () => {
    const capped = stream(1024 * 1024);
    const uncapped = stream(1024 * 1024);
    const bodies = [new StreamBody(capped.open, capped.onEnd, capped.pacing({ longestTakeMs: 150 })), new StreamBody(uncapped.open, uncapped.onEnd, uncapped.pacing())];
    for (const body of bodies) await body.next();
    await Bun.sleep(100);
    expect(capped.ended).toEqual([]);
    for (let i = 0; i < 40 && capped.ended.length === 0; i++) await Bun.sleep(10);
    expect(capped.ended.map((e) => e.error?.code)).toEqual(["client_stalled"]);
    // 2,048 s by the rate, 5 minutes by the cap: far from over.
    expect(uncapped.ended).toEqual([]);
    await bodies[1]!.return();
  });
});
