import { writeSync } from "node:fs";
import type { Logger } from "pino";
import type { FinishRecord } from "../gateway/finish.ts";
import type { CooldownEvent } from "../gateway/health.ts";

export type { Logger };
import type { LogLevel } from "./log-levels.ts";
import { clipClientText } from "../client-text.ts";
/** `json`: one JSON object per line (journald, log shippers); `pretty`: a readable line (a terminal). */
export type LogFormat = "json" | "pretty";

export interface LogOptions {
  level: LogLevel;
  format: LogFormat;
  /** Where lines go: stdout unless a test says otherwise. */
  fd?: number;
}

/**
 * The process's logger: pino writing synchronously to stdout (no worker thread, no buffer a crash
 * could lose). Lines carry `time` (ISO) and `level` (its name), which a shipper reads without a
 * table of pino's numbers. The readable format is pino-pretty, loaded only when asked for.
 */
export async function createLogger({ level, format, fd = 1 }: LogOptions): Promise<Logger> {
  // Loaded here, not at the top: tests and tools that build an app without a logger never load it.
  const { pino } = await import("./pino-lib.ts");
  const options = { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label: string) => ({ level: label }) } };
  if (format === "json") {
    const writer = heldWriter(fd);
    const log = pino(options, writer);
    // The line per request, the one written at request rate, skips pino's serializer for one
    // JSON.stringify of the same fields in the same shape (measured ~8 µs a line less).
    return Object.assign(log, {
      [REQUEST_LINE]: (level: "info" | "warn", fields: object, msg: string) =>
        writer.write(`${JSON.stringify({ level, time: new Date().toISOString(), ...fields, msg })}\n`),
    });
  }
  const { pretty } = await import("./pino-pretty-lib.ts");
  return pino(
    { level, base: undefined },
    pretty({ sync: true, destination: fd, colorize: Boolean(process.stdout.isTTY) && fd === 1, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname", hideObject: true, messageFormat: readable }),
  );
}

/**
 * Lines are held and written together, at most `FLUSH_MS` after the first of them or once
 * `FLUSH_BYTES` are held, not one write each: under load a write a line was most of the log's cost
 * (measured ~25 µs a request writing to a file, one line each; ~2.3 µs a line for the syscall
 * alone, ~0.3 µs in writes of 16). Still synchronous writes from the main thread, no worker: the
 * process's exit writes what is held, and a SIGKILL loses at most the last `FLUSH_MS` of lines.
 */
const FLUSH_MS = 50;
const FLUSH_BYTES = 64 * 1024;

function heldWriter(fd: number) {
  let pending: string[] = [];
  let bytes = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const out = pending.length === 1 ? pending[0]! : pending.join("");
    pending = [];
    bytes = 0;
    writeAll(fd, out);
  };
  process.on("exit", flush);
  return {
    write(line: string): boolean {
      pending.push(line);
      bytes += line.length;
      if (bytes >= FLUSH_BYTES) flush();
      else if (timer === undefined) {
        timer = setTimeout(flush, FLUSH_MS);
        // The exit handler writes what is held: the timer never keeps the process alive.
        timer.unref();
      }
      return true;
    },
  };
}

/** Writes all of `text` to `fd`, however many writes the kernel takes it in. */
function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; ) {
    try {
      at += writeSync(fd, bytes, at);
    } catch (err) {
      // A full pipe (stdout read slowly): wait for it rather than drop lines; anything else is lost output, not a reason to fail a request.
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") return;
    }
  }
}

/** A line as a person reads it: the message, then the fields as `key=value`; a request as one summary. */
function readable(log: Record<string, unknown>, messageKey: string): string {
  const skip = new Set([messageKey, "level", "time", "pid", "hostname"]);
  if (log[messageKey] === "request") return requestSummary(log);
  const fields = Object.entries(log)
    .filter(([key, value]) => !skip.has(key) && value !== null && value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === "string" ? oneLine(value) : JSON.stringify(value)}`);
  return [String(log[messageKey] ?? ""), ...fields].join(" ");
}

const CONTROL = /[\0-\x1f\x7f]/;

/**
 * A client's text (a model name, a path) as one line: with a control character in it, quoted as
 * JSON. Written raw, a newline in a model name began a line of the client's choosing in the
 * readable log (and an escape sequence coloured the terminal).
 */
const oneLine = (text: unknown): unknown => (typeof text === "string" && CONTROL.test(text) ? JSON.stringify(text) : text);

/** `req 1b2c… /v1/chat/completions gpt-4o → openai/gpt-4o-2024-08-06 200 ok stream 1 attempt 12+340 tokens ttfb 210 ms 1840 ms` */
function requestSummary(r: Record<string, unknown>): string {
  const who = r.provider ? `${r.provider}/${oneLine(r.upstream_model)}` : "-";
  const tokens = r.tokens_in !== null || r.tokens_out !== null ? ` ${r.usage_estimated ? "~" : ""}${r.tokens_in ?? "?"}+${r.tokens_out ?? "?"} tokens` : "";
  const attempts = `${r.attempts} attempt${r.attempts === 1 ? "" : "s"}`;
  const ttfb = r.ttfb_ms !== null && r.ttfb_ms !== undefined ? ` ttfb ${r.ttfb_ms} ms` : "";
  const key = r.key_id ? ` key ${r.key_id}` : "";
  const error = r.error ? ` (${r.error})` : "";
  const cached = r.cache === "hit" ? " cache hit" : "";
  return `req ${r.req_id}${key} ${oneLine(r.route)} ${oneLine(r.model ?? "-")} → ${who} ${r.status} ${r.outcome}${error}${r.stream ? " stream" : ""}${cached} ${attempts}${tokens}${ttfb} ${r.duration_ms} ms`;
}

/** Writes one line at `level` (enabled: the caller checks). */
type RequestLine = (level: "info" | "warn", fields: object, msg: string) => void;
const REQUEST_LINE = Symbol("chatgate.request-line");

/** What one request's line holds: who, what, how it ended, how long. Never a prompt, an answer or a key. */
export function requestFields(r: FinishRecord) {
  const fields = {
    req_id: r.requestId,
    key_id: r.keyId,
    route: clipClientText(r.route),
    model: clipClientText(r.model),
    provider: r.provider,
    upstream_model: clipClientText(r.upstreamModel),
    status: r.status,
    outcome: r.outcome,
    error: r.errorCode,
    attempts: r.attempts.length,
    stream: r.stream,
    resumed: r.resumed,
    /** What the response cache did: hit (no upstream call, cost 0), miss, or skip. */
    cache: r.cache ?? (r.cached ? "hit" : "skip"),
    tokens_in: r.usage?.prompt_tokens ?? null,
    tokens_out: r.usage?.completion_tokens ?? null,
    /** The tokens are a tokenizer's estimate: the upstream reported none (an abort, a cut, a provider without usage). */
    usage_estimated: r.usageEstimated === true,
    ttfb_ms: r.ttfbMs === undefined ? null : Math.round(r.ttfbMs * 10) / 10,
    duration_ms: Math.round(r.durationMs * 10) / 10,
  };
  // With tracing on (CHATGATE_OTLP_ENDPOINT): the ids that find the request's spans.
  return r.trace === undefined ? fields : { ...fields, trace_id: r.trace.traceId, span_id: r.trace.spanId };
}

/**
 * The finish-record subscribers of the log: with request lines on, one line per request, written
 * as it ends (a failure or a truncated stream at `warn`); off, only the truncated streams.
 */
export function requestLog(log: Logger, everyRequest: boolean): (r: FinishRecord) => void {
  const fast = (log as Logger & { [REQUEST_LINE]?: RequestLine })[REQUEST_LINE];
  const line: RequestLine = fast ?? ((level, fields, msg) => log[level](fields, msg));
  return (r) => {
    const bad = r.status >= 500 || r.outcome === "truncated";
    const level = bad ? "warn" : "info";
    if (!log.isLevelEnabled(level)) return;
    if (everyRequest) line(level, requestFields(r), "request");
    else if (r.outcome === "truncated") line("warn", requestFields(r), "stream truncated");
  };
}

/**
 * Warnings the gateway's parts write with `console.warn` / `console.error` (a client stalled,
 * events dropped, a subscriber failed) become log lines at `warn` / `error`: under journald JSON
 * like every other line, not bare text on stderr between them.
 */
export function routeConsole(log: Logger): void {
  const text = (args: unknown[]) => args.map((a) => (typeof a === "string" ? a : a instanceof Error ? (a.stack ?? a.message) : Bun.inspect(a))).join(" ");
  console.warn = (...args: unknown[]) => log.warn(text(args));
  console.error = (...args: unknown[]) => log.error(text(args));
}

/** A target entering or leaving its cooldown: one line each. */
export function cooldownLog(log: Logger): (e: CooldownEvent) => void {
  return (e) => {
    if (e.kind === "entered") log.warn({ provider: e.provider, model: e.model, reason: e.reason, until: new Date(e.until ?? 0).toISOString() }, "cooldown entered");
    else log.info({ provider: e.provider, model: e.model }, "cooldown left");
  };
}
