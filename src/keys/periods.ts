// The windows per-key limits count in, and how their resets are written. Pure: the clock is a parameter.

export const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** A budget's period: the UTC calendar day or month. */
export type BudgetPeriod = "day" | "month";

/**
 * The end of the clock minute `now` falls in. Request and token windows are aligned to the clock,
 * not opened by a key's first request, so every instance sharing a store (Redis) agrees on them
 * and a settlement can name the window its reservation went to.
 */
export const minuteEnd = (now: number): number => now - (now % MINUTE_MS) + MINUTE_MS;

/** When the UTC day or month holding `now` began (what the ledger sums a key's spend from). */
export function periodStart(period: BudgetPeriod, now: number): number {
  if (period === "day") return now - (now % DAY_MS);
  const date = new Date(now);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
}

/** When the UTC day or month holding `now` ends: the next one's start. */
export function periodEnd(period: BudgetPeriod, now: number): number {
  if (period === "day") return now - (now % DAY_MS) + DAY_MS;
  const date = new Date(now);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
}

/**
 * A wait as OpenAI writes `x-ratelimit-reset-*`: Go's duration format (`20ms`, `1s`, `59.5s`,
 * `6m0s`, `1h2m3s`), whole milliseconds.
 */
export function resetDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms));
  if (total < 1000) return total === 0 ? "0s" : `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / MINUTE_MS);
  const seconds = (total % MINUTE_MS) / 1000;
  return `${hours > 0 ? `${hours}h` : ""}${hours > 0 || minutes > 0 ? `${minutes}m` : ""}${seconds}s`;
}
