import { usageJson, usageTotal, type UsageQuery, type UsageRow } from "./usage-report.ts";

export const FORMATS = ["table", "csv", "json"] as const;
export type Format = (typeof FORMATS)[number];

/** The numeric columns, in the order every format prints them. */
const COLUMNS = [
  "requests", "errors", "aborted", "cache_hits", "usage_estimated",
  "prompt_tokens", "completion_tokens", "cached_prompt_tokens", "cost_usd", "cost_unknown",
] as const satisfies readonly (keyof UsageRow)[];

/** A report in `format`, ending with a newline. */
export function formatUsage(format: Format, query: UsageQuery, rows: readonly UsageRow[]): string {
  if (format === "json") return `${JSON.stringify(usageJson(query, rows), null, 2)}\n`;
  if (format === "csv") return usageCsv(query, rows);
  return usageTable(query, rows);
}

/**
 * RFC 4180: a header naming the group column by what it is (`model`, `day`, …), one line per group,
 * no total (a spreadsheet sums); an empty group cell for requests without one. Costs in full.
 */
function usageCsv(query: UsageQuery, rows: readonly UsageRow[]): string {
  const lines = [[query.groupBy, ...COLUMNS].join(",")];
  for (const row of rows) lines.push([csvCell(printable(row.group ?? "")), ...COLUMNS.map((c) => String(row[c]))].join(","));
  return `${lines.join("\r\n")}\r\n`;
}

/**
 * A group as a terminal may show it. A model name is whatever a client sent (a refused request is
 * recorded under the name it asked for), so its control characters — escape sequences that
 * recolour or rewrite the operator's terminal, line breaks that fake rows — are written as `\u001b`.
 */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** A table cell's group: printable, and cut at TABLE_GROUP characters so one long name cannot stretch every line. */
const TABLE_GROUP = 64;
function tableGroup(text: string): string {
  const shown = printable(text);
  return shown.length > TABLE_GROUP ? `${shown.slice(0, TABLE_GROUP - 1)}…` : shown;
}

function csvCell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * Aligned columns with a total line, costs to six decimals (a millionth of a dollar), and a note
 * when some costs are unknown, so a total is never read as complete when it is not.
 */
function usageTable(query: UsageQuery, rows: readonly UsageRow[]): string {
  if (rows.length === 0) return "No requests recorded in this period.\n";
  const total = usageTotal(rows);
  const body = [...rows, total].map((row, i) => [i === rows.length ? "total" : (row.group === null ? "(none)" : tableGroup(row.group)), ...COLUMNS.map((c) => tableCell(c, row[c]))]);
  const header = [query.groupBy, ...COLUMNS];
  const widths = header.map((title, col) => Math.max(title.length, ...body.map((cells) => cells[col]!.length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join("  ").trimEnd();
  const out = [line(header), ...body.slice(0, -1).map(line), line(widths.map((w) => "-".repeat(w))), line(body.at(-1)!)];
  if (total.cost_unknown > 0) {
    out.push("", `${total.cost_unknown} request${total.cost_unknown === 1 ? " has" : "s have"} no known cost (a model without a price, or no usage from a call that ran); cost_usd leaves them out.`);
  }
  return `${out.join("\n")}\n`;
}

function tableCell(column: (typeof COLUMNS)[number], value: number): string {
  return column === "cost_usd" ? value.toFixed(6) : String(value);
}
