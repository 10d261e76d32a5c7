import { timerDelay } from "../timer-delay.ts";

/** Resolves after `ms`, or rejects at once when `signal` aborts: a wait never outlives its request. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  const onAbort = () => {
    clearTimeout(timer);
    reject(signal.reason);
  };
  const timer = setTimeout(() => {
    signal.removeEventListener("abort", onAbort);
    resolve();
  }, timerDelay(ms));
  signal.addEventListener("abort", onAbort, { once: true });
  return promise;
}
