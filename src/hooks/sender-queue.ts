import { GatewayError } from "../errors.ts";

/** Messages of one sender waiting behind the one being answered, at most: more is a 429 rather than a growing queue. */
export const MAX_WAITING = 8;

const busy = () =>
  new GatewayError({
    status: 429, type: "requests", code: "session_busy", retryAfterMs: 1000,
    message: `Too many messages from this sender are waiting for an answer (at most ${MAX_WAITING + 1} at once); send the next one when an answer has come.`,
  });

/**
 * Runs each sender's messages one at a time, in arrival order, so every message is asked with the
 * exchanges before it (two messages sent together would otherwise both be asked without the
 * other). Entries exist only while a sender has a message in flight.
 */
export class SenderQueue {
  private readonly tails = new Map<string, { tail: Promise<void>; count: number }>();

  async run<T>(from: string, task: () => Promise<T>): Promise<T> {
    let entry = this.tails.get(from);
    if (entry !== undefined && entry.count > MAX_WAITING) throw busy();
    if (entry === undefined) this.tails.set(from, (entry = { tail: Promise.resolve(), count: 0 }));
    entry.count++;
    const before = entry.tail;
    const { promise, resolve } = Promise.withResolvers<void>();
    entry.tail = promise;
    try {
      await before;
      return await task();
    } finally {
      resolve();
      if (--entry.count === 0) this.tails.delete(from);
    }
  }
}
