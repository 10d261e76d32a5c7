/**
 * Durations in the config file are a number and a unit: `1500ms`, `3s`, `1.5s`, `10m`, `1h`, `90d`
 * (a day is 24 hours).
 * A bare number is refused on purpose: `timeout: 30` could mean seconds or milliseconds, and a
 * guess either way is off by a factor of a thousand. (Environment variables stay in ms: `_MS`.)
 */
export const DURATION_PATTERN = "^\\d+(\\.\\d+)?(ms|s|m|h|d)$";

export const DURATION_HINT = "expected a duration with a unit, like 1500ms, 3s, 10m or 1h";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds (rounded to a whole one), or undefined when `text` is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * UNIT_MS[match[2]!]!);
}

/** The shortest exact spelling of `ms` in the file's units, for check-config's output. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1_000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
