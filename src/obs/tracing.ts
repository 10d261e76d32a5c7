// OpenTelemetry spans from finish records, exported in batches over OTLP/HTTP (JSON). Imported
// only when CHATGATE_OTLP_ENDPOINT is set (src/obs/attach-tracing.ts): with tracing off, none of
// the OpenTelemetry modules is loaded.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, createTraceState, trace, type Attributes, type Context } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, type IdGenerator, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
} from "@opentelemetry/semantic-conventions";
import type { Attempt, FinishRecord } from "../gateway/finish.ts";
import { VERSION } from "../version.ts";
import { routeLabel } from "./metrics-labels.ts";
import { randomId, type RequestTrace } from "./trace-context.ts";

// The GenAI attributes are still "incubating" in the semantic conventions; the package asks that
// incubating names be copied rather than imported from its (large) incubating entry point.
const GEN_AI_SYSTEM = "gen_ai.system";
const GEN_AI_OPERATION_NAME = "gen_ai.operation.name";
const GEN_AI_REQUEST_MODEL = "gen_ai.request.model";
const GEN_AI_RESPONSE_MODEL = "gen_ai.response.model";
const GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens";
const GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens";

/** What a span says of a provider, by its id: its adapter type (`gen_ai.system`) and its upstream's host. */
export type ProviderInfo = (id: string) => { type: string; host: string | null } | undefined;

export interface TracingOptions {
  /** Where spans are POSTed: a URL ending in `/v1/traces` (CHATGATE_OTLP_ENDPOINT). */
  url: string;
  /** Sent with every export (CHATGATE_OTLP_HEADERS); never logged. */
  headers: Record<string, string>;
  provider: ProviderInfo;
  /** The share of new traces exported (CHATGATE_OTLP_SAMPLE): the one of a request refused before it had a trace too. */
  sample: number;
  /** Told when an export fails: at most one line a minute. */
  warn: (message: string) => void;
  /** The clock of the warnings' throttle. Default: Date.now. */
  now?: () => number;
}

/** Spans going out: `record` each finish record; `shutdown` exports what is pending and stops. */
export interface Tracing {
  record(record: FinishRecord): void;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** The longest attribute value exported. */
const MAX_ATTRIBUTE_LENGTH = 256;

/** How often at most an export failure is told. */
const WARN_EVERY_MS = 60_000;

/**
 * The SDK makes its own ids; a span must carry the ones the request already sent upstream. Each
 * span is started synchronously right after its ids are set here, so the next ids asked for are
 * always that span's.
 */
class PresetIds implements IdGenerator {
  traceId: string | undefined;
  spanId: string | undefined;

  generateTraceId(): string {
    return this.traceId ?? randomId(16);
  }

  generateSpanId(): string {
    return this.spanId ?? randomId(8);
  }

  /** After each span: a child span takes its trace id from its parent and never asks for one. */
  clear(): void {
    this.traceId = this.spanId = undefined;
  }
}

/** Starts the exporter and tracer; every record given to `record` becomes a request span with a child per attempt. */
export function startTracing(options: TracingOptions): Tracing {
  const ids = new PresetIds();
  const exporter = warnOnFailure(new OTLPTraceExporter({ url: options.url, headers: options.headers }), options.warn, options.now ?? Date.now);
  const provider = new BasicTracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: "chatgate", [ATTR_SERVICE_VERSION]: VERSION })),
    idGenerator: ids,
    // Every span that gets here is sampled: `record` leaves out the rest, as their trace decided.
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new BatchSpanProcessor(exporter)],
    // A model name is whatever a client sent: no attribute carries more than this many characters.
    spanLimits: { attributeValueLengthLimit: MAX_ATTRIBUTE_LENGTH },
  });
  const tracer = provider.getTracer("chatgate", VERSION);

  function record(r: FinishRecord): void {
    // Sampled or not was decided as the request began, and told upstream.
    if (r.trace === undefined ? options.sample < 1 && Math.random() >= options.sample : !r.trace.sampled) return;
    const startedAt = r.startedAt ?? Date.now() - r.durationMs;
    const parent = parentContext(r.trace);
    ids.traceId = r.trace?.traceId;
    ids.spanId = r.trace?.spanId;
    const span = tracer.startSpan(spanName(r), { kind: SpanKind.SERVER, startTime: startedAt, attributes: requestAttributes(r, options.provider) }, parent);
    ids.clear();
    // OpenTelemetry's HTTP conventions: a server span's status stays unset for a 4xx (the client's
    // mistake, which error.type still names); a 5xx, or a stream cut after its 200, is an error.
    if (r.outcome === "truncated" || (r.outcome === "error" && r.status >= 500)) span.setStatus({ code: SpanStatusCode.ERROR, message: r.errorCode ?? r.outcome });
    const under = trace.setSpan(parent, span);
    const endedAt = startedAt + r.durationMs;
    r.attempts.forEach((attempt, i) => {
      const last = i === r.attempts.length - 1;
      // An attempt's duration runs to its answer's start; the stream that answered (or broke while
      // answering: a truncated request's last attempt) goes on to the end.
      const streamed = r.stream && last && (succeeded(attempt) || r.outcome === "truncated");
      // What the attempt that answered got back: the model that answered and its usage (a resumed
      // request's parts each their own).
      const answered = last && (succeeded(attempt) || r.outcome === "truncated");
      const usage = r.resumed ? attempt.usage : answered ? r.usage : undefined;
      attemptSpan(attempt, operationOf(r), under, startedAt, streamed ? r : undefined, { model: answered ? r.upstreamModel : null, usage });
    });
    span.end(endedAt);
  }

  function attemptSpan(a: Attempt, operation: string, under: Context, fallbackStart: number, streamOf: FinishRecord | undefined, answer: AttemptAnswer): void {
    ids.spanId = a.spanId;
    const startedAt = a.startedAt ?? fallbackStart;
    const span = tracer.startSpan(`${operation} ${a.model}`, { kind: SpanKind.CLIENT, startTime: startedAt, attributes: attemptAttributes(a, operation, options.provider, answer) }, under);
    ids.clear();
    if (!succeeded(a)) span.setStatus({ code: SpanStatusCode.ERROR, message: a.reason });
    else if (streamOf?.outcome === "truncated") span.setStatus({ code: SpanStatusCode.ERROR, message: streamOf.errorCode ?? "truncated" });
    span.end(streamOf === undefined ? startedAt + a.durationMs : (streamOf.startedAt ?? fallbackStart) + streamOf.durationMs);
  }

  return { record, flush: () => provider.forceFlush(), shutdown: () => provider.shutdown() };
}

/**
 * `chat <model>` (the GenAI conventions' name) for a request that reached a target; `chat` for one
 * that did not (its model may be any string a client sent); the route for one refused before its
 * body was read. Span names stay few, as backends group by them.
 */
function spanName(r: FinishRecord): string {
  if (r.model === null) return routeLabel(r.route);
  const operation = operationOf(r);
  return r.provider === null ? operation : `${operation} ${r.model}`;
}

/** The GenAI operation: `embeddings` on that route, `chat` on every other. */
const operationOf = (r: FinishRecord): string => (r.route === "/v1/embeddings" ? "embeddings" : "chat");

/** The context a request span starts in: under the caller's span when it sent one, else a new trace. */
function parentContext(t: RequestTrace | undefined): Context {
  const parent = t?.parent;
  if (parent === undefined) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: parent.traceId, spanId: parent.spanId, isRemote: true,
    traceFlags: parent.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    traceState: t!.state === undefined ? undefined : createTraceState(t!.state),
  });
}

const succeeded = (a: Attempt): boolean => a.reason === "ok" || a.reason === "resumed";

/** What the request span says: who, what, how it ended, how many tokens. Never a prompt or a completion. */
function requestAttributes(r: FinishRecord, provider: ProviderInfo): Attributes {
  const attributes: Attributes = {
    [ATTR_HTTP_ROUTE]: routeLabel(r.route),
    [ATTR_HTTP_RESPONSE_STATUS_CODE]: r.status,
    "chatgate.outcome": r.outcome,
    "chatgate.stream": r.stream,
    "chatgate.attempts": r.attempts.length,
    "chatgate.cache": r.cache ?? "skip",
  };
  if (r.requestId !== null) attributes["chatgate.request_id"] = r.requestId;
  if (r.keyId !== null) attributes["chatgate.key_id"] = r.keyId;
  if (r.model !== null) {
    // A chat route's request: its body was read.
    attributes[GEN_AI_OPERATION_NAME] = operationOf(r);
    attributes[ATTR_HTTP_REQUEST_METHOD] = "POST";
    attributes[GEN_AI_REQUEST_MODEL] = r.model;
  }
  if (r.upstreamModel !== null) attributes[GEN_AI_RESPONSE_MODEL] = r.upstreamModel;
  if (r.provider !== null) {
    attributes["chatgate.provider"] = r.provider;
    attributes[GEN_AI_SYSTEM] = provider(r.provider)?.type ?? r.provider;
  }
  if (r.usage !== undefined) {
    attributes[GEN_AI_USAGE_INPUT_TOKENS] = r.usage.prompt_tokens;
    attributes[GEN_AI_USAGE_OUTPUT_TOKENS] = r.usage.completion_tokens;
    if (r.usageEstimated === true) attributes["chatgate.usage_estimated"] = true;
  }
  if (r.resumed) attributes["chatgate.resumed"] = true;
  if (r.errorCode !== null) attributes[ATTR_ERROR_TYPE] = r.errorCode;
  return attributes;
}

/** What an attempt got back: the model that answered (null: none did) and the tokens, when known. */
interface AttemptAnswer {
  model: string | null;
  usage: FinishRecord["usage"];
}

/** What an attempt span says: the target it called and what came back. */
function attemptAttributes(a: Attempt, operation: string, provider: ProviderInfo, answer: AttemptAnswer): Attributes {
  const info = provider(a.provider);
  const attributes: Attributes = {
    [GEN_AI_OPERATION_NAME]: operation,
    [GEN_AI_SYSTEM]: info?.type ?? a.provider,
    [GEN_AI_REQUEST_MODEL]: a.model,
    [ATTR_HTTP_RESPONSE_STATUS_CODE]: a.status,
    "chatgate.provider": a.provider,
    "chatgate.attempt.reason": a.reason,
  };
  if (info?.host) Object.assign(attributes, serverOf(info.host));
  if (!succeeded(a)) attributes[ATTR_ERROR_TYPE] = a.reason;
  if (answer.model !== null) attributes[GEN_AI_RESPONSE_MODEL] = answer.model;
  if (answer.usage !== undefined) {
    attributes[GEN_AI_USAGE_INPUT_TOKENS] = answer.usage.prompt_tokens;
    attributes[GEN_AI_USAGE_OUTPUT_TOKENS] = answer.usage.completion_tokens;
  }
  return attributes;
}

/** `server.address` and `server.port` of a provider's `host:port` (the port only when the host names one). */
function serverOf(host: string): Attributes {
  try {
    const url = new URL(`http://${host}`);
    const address = url.hostname.replace(/^\[(.*)\]$/, "$1");
    return url.port === "" ? { [ATTR_SERVER_ADDRESS]: address } : { [ATTR_SERVER_ADDRESS]: address, [ATTR_SERVER_PORT]: Number(url.port) };
  } catch {
    return { [ATTR_SERVER_ADDRESS]: host };
  }
}

/**
 * The exporter, telling `warn` when an export fails (a collector down or refusing), at most once a
 * minute. Spans that cannot be sent are dropped by the batch processor; requests never wait on it.
 */
function warnOnFailure(inner: SpanExporter, warn: (message: string) => void, now: () => number): SpanExporter {
  let lastWarned = Number.NEGATIVE_INFINITY;
  return {
    export(spans, done) {
      inner.export(spans, (result) => {
        // ExportResultCode.SUCCESS is 0 (@opentelemetry/core).
        if (result.code !== 0 && now() - lastWarned >= WARN_EVERY_MS) {
          lastWarned = now();
          warn(`tracing: exporting ${spans.length} span(s) failed: ${result.error?.message ?? "unknown error"}; spans that cannot be sent are dropped`);
        }
        done(result);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}
