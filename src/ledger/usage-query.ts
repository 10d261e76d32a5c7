import { GROUP_BYS, type GroupBy, type UsageQuery } from "./usage-report.ts";

/** The report's parameters as text: the route's query string or the command's options. */
export interface UsageParams {
  from?: string | null;
  to?: string | null;
  group_by?: string | null;
}

/**
 * A parameter that cannot be read. `message` follows the parameter's name, which each caller spells
 * its own way: `group_by ${message}` in the route's 400, `--group-by ${message}` in the command.
 */
export interface UsageParamError {
  param: "from" | "to" | "group_by";
  message: string;
}

/** Group by model unless asked otherwise: what did each model cost. */
export const DEFAULT_GROUP_BY: GroupBy = "model";

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Reads `from`, `to` and `group_by`. A time is a UTC date (`2026-12-01`) or an ISO 8601 time with
 * its offset (`2026-12-01T09:30:00Z`). A date as `to` includes that whole day, so
 * `from=2026-12-01&to=2026-12-01` is one day. A bare number is refused: seconds or milliseconds,
 * a guess either way is off by a factor of a thousand.
 */
export function parseUsageQuery(params: UsageParams): UsageQuery | UsageParamError {
  const groupBy = params.group_by || DEFAULT_GROUP_BY;
  if (!(GROUP_BYS as readonly string[]).includes(groupBy)) {
    return { param: "group_by", message: `must be one of ${GROUP_BYS.join(", ")}, not '${groupBy}'` };
  }
  const from = params.from ? parseTime(params.from, false) : undefined;
  if (Number.isNaN(from)) return { param: "from", message: timeMessage(params.from!) };
  const to = params.to ? parseTime(params.to, true) : undefined;
  if (Number.isNaN(to)) return { param: "to", message: timeMessage(params.to!) };
  if (from !== undefined && to !== undefined && from >= to) return { param: "to", message: "must be later than from" };
  return { from, to, groupBy: groupBy as GroupBy };
}

export function isUsageParamError(value: UsageQuery | UsageParamError): value is UsageParamError {
  return "message" in value;
}

/** Ms since the epoch, or NaN when `text` is neither form. */
function parseTime(text: string, endOfDay: boolean): number {
  if (DATE.test(text)) {
    const start = Date.parse(`${text}T00:00:00Z`);
    // Date.parse accepts 2026-02-31 as March 3rd; a date that does not round-trip is not a date.
    if (Number.isNaN(start) || new Date(start).toISOString().slice(0, 10) !== text) return Number.NaN;
    return endOfDay ? start + DAY_MS : start;
  }
  return DATE_TIME.test(text) ? Date.parse(text) : Number.NaN;
}

function timeMessage(text: string): string {
  return `must be a date (2026-12-01) or an ISO 8601 time with its offset (2026-12-01T09:30:00Z), not '${text}'`;
}
