// The token counts of this process's counting worker, held until a test lets them through: what a
// request waits on when its usage must be estimated (the first count starts the counting process).
import { countWorker } from "../../src/usage/count-texts.ts";

/** Holds every count until `release()`; disposing of it releases them and puts the worker back. */
export function holdCounts(): { release(): void; [Symbol.dispose](): void } {
  const count = countWorker.count;
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  countWorker.count = async (...args) => {
    await held;
    return count.apply(countWorker, args);
  };
  return {
    release,
    [Symbol.dispose]() {
      release();
      countWorker.count = count;
    },
  };
}
