// The finish records an in-process gateway emits, collected as they come, for tests that count them.
import type { FinishRecord } from "../../src/gateway/finish.ts";
import type { TestGateway } from "./gateway.ts";
import { within } from "./routed.ts";

export interface Records {
  readonly all: FinishRecord[];
  /** Resolves once `n` records have been emitted (at once if they already have). */
  count(n: number): Promise<void>;
  /** How many records each request id got, in the order they first came. */
  perRequest(): [string | null, number][];
}

/** Subscribes to `gw`'s finish records from now on. */
export function everyRecord(gw: TestGateway): Records {
  const all: FinishRecord[] = [];
  const waiting: { n: number; resolve: () => void }[] = [];
  gw.app.gateway.finishes.subscribe((record) => {
    all.push(record);
    for (const w of waiting.filter((w) => all.length >= w.n)) (waiting.splice(waiting.indexOf(w), 1), w.resolve());
  });
  return {
    all,
    count(n) {
      if (all.length >= n) return Promise.resolve();
      const { promise, resolve } = Promise.withResolvers<void>();
      waiting.push({ n, resolve });
      return promise;
    },
    perRequest() {
      const counts = new Map<string | null, number>();
      for (const r of all) counts.set(r.requestId, (counts.get(r.requestId) ?? 0) + 1);
      return [...counts];
    },
  };
}

/** The next finish record `gw` emits (within 5 s). Subscribed now: call it before the request. */
export function nextRecord(gw: TestGateway): Promise<FinishRecord> {
  const { promise, resolve } = Promise.withResolvers<FinishRecord>();
  const off = gw.app.gateway.finishes.subscribe((record) => {
    off();
    resolve(record);
  });
  return within(promise, 5_000, "the finish record");
}
