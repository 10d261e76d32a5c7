/**
 * The longest delay a timer takes: 2^31 − 1 ms (~24.8 days). A longer one fires at once (the
 * runtime's TimeoutOverflowWarning), so a timeout configured as "practically never" cut every call.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** `ms` as a timer's delay: anything longer waits the longest a timer can. */
export const timerDelay = (ms: number): number => Math.min(ms, MAX_TIMER_MS);
