// A fake OpenTelemetry collector: OTLP/HTTP with JSON bodies (what @opentelemetry/exporter-trace-otlp-http
// sends), decoded into flat spans. resourceSpans → scopeSpans → spans, ids in hex, attributes as
// typed AnyValue objects ({stringValue}, {intValue} as a string or number, {boolValue}, …).

/** One attribute value as OTLP/JSON writes it. */
interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}

interface KeyValue {
  key: string;
  value: AnyValue;
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: KeyValue[];
  status?: { code?: number; message?: string };
}

interface ExportRequest {
  resourceSpans: Array<{ resource?: { attributes?: KeyValue[] }; scopeSpans: Array<{ scope?: { name: string }; spans: OtlpSpan[] }> }>;
}

/** A span as a test reads it: attributes as plain values, times in epoch ms. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  traceState: string | undefined;
  name: string;
  /** OTLP's SpanKind: 2 server, 3 client. */
  kind: number;
  startMs: number;
  endMs: number;
  attributes: Record<string, string | number | boolean>;
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
  resource: Record<string, string | number | boolean>;
}

export const SERVER = 2;
export const CLIENT = 3;
export const STATUS_ERROR = 2;

export interface OtlpReceiver extends AsyncDisposable {
  /** The base URL, as CHATGATE_OTLP_ENDPOINT takes it (`/v1/traces` is added). */
  url: string;
  spans: ReceivedSpan[];
  /** Every export body as it arrived: what a test searches for text that must never be sent. */
  bodies: string[];
  /** The headers of each export. */
  headers: Array<Record<string, string>>;
  /** Resolves once `count` spans (in all) have arrived, now or later. */
  waitForSpans(count: number): Promise<ReceivedSpan[]>;
  stop(): Promise<void>;
}

const plain = (v: AnyValue): string | number | boolean =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.doubleValue ?? v.boolValue ?? "";

const attributesOf = (list: KeyValue[] | undefined) => Object.fromEntries((list ?? []).map((kv) => [kv.key, plain(kv.value)]));

/** Starts the receiver on a random port; `status` is what it answers each export with (200 unless told). */
export function otlpReceiver(options: { status?: number } = {}): OtlpReceiver {
  const waiters = new Set<{ count: number; resolve: (spans: ReceivedSpan[]) => void }>();
  const receiver = {
    spans: [] as ReceivedSpan[],
    bodies: [] as string[],
    headers: [] as Array<Record<string, string>>,
  };
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      if (new URL(request.url).pathname !== "/v1/traces" || request.method !== "POST") return new Response("not found", { status: 404 });
      if (options.status !== undefined && options.status !== 200) return new Response("{}", { status: options.status });
      const body = await request.text();
      receiver.bodies.push(body);
      receiver.headers.push(Object.fromEntries(request.headers));
      for (const rs of (JSON.parse(body) as ExportRequest).resourceSpans) {
        const resource = attributesOf(rs.resource?.attributes);
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            receiver.spans.push({
              traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? "", traceState: s.traceState, name: s.name, kind: s.kind,
              startMs: Number(BigInt(s.startTimeUnixNano) / 1_000_000n), endMs: Number(BigInt(s.endTimeUnixNano) / 1_000_000n),
              attributes: attributesOf(s.attributes), statusCode: s.status?.code ?? 0, resource,
            });
          }
        }
      }
      for (const waiter of waiters) {
        if (receiver.spans.length >= waiter.count) (waiters.delete(waiter), waiter.resolve(receiver.spans));
      }
      return Response.json({ partialSuccess: {} });
    },
  });
  const stop = async () => void (await server.stop(true));
  return {
    ...receiver,
    url: `http://127.0.0.1:${server.port}`,
    waitForSpans(count) {
      if (receiver.spans.length >= count) return Promise.resolve(receiver.spans);
      const { promise, resolve } = Promise.withResolvers<ReceivedSpan[]>();
      waiters.add({ count, resolve });
      return promise;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
