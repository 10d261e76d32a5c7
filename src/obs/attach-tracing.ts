// Tracing attached to a running gateway (CHATGATE_OTLP_ENDPOINT): a span per finish record. The
// OpenTelemetry modules load in the background (`await import`), so start-up does not wait for
// them; records that end before they are ready are held and exported once they are.
import type { Finishes, FinishRecord } from "../gateway/finish.ts";
import type { ProviderInfo, Tracing } from "./tracing.ts";

export interface AttachTracingOptions {
  finishes: Finishes;
  /** Where spans are POSTed, ending in `/v1/traces`. */
  url: string;
  /** Sent with every export; never logged. */
  headers: Record<string, string>;
  /** The share of new traces exported (CHATGATE_OTLP_SAMPLE). */
  sample: number;
  provider: ProviderInfo;
}

/** Tracing of a running gateway. */
export interface AttachedTracing {
  /**
   * Where export failures are told, at most once a minute. Default: stderr, prefixed `chatgate:`;
   * the process points it at its logger once that has loaded.
   */
  warn: (message: string) => void;
  /** Exports every span pending now; a failed export is told through `warn`, never thrown. */
  flush(): Promise<void>;
  /** Exports what is pending and stops, waiting at most `ms` for the collector. */
  shutdown(ms: number): Promise<void>;
}

/**
 * Subscribes to the finish records and starts loading the exporter. Call it only when tracing is
 * on. A record is only queued when it arrives (a JSON answer's record is written before the answer
 * goes out); its spans are built on a later turn of the event loop, in one batch per turn.
 */
export function attachTracing(options: AttachTracingOptions): AttachedTracing {
  let pending: FinishRecord[] = [];
  let scheduled = false;
  let tracing: Tracing | undefined;
  let failed = false;
  const drain = () => {
    scheduled = false;
    if (tracing === undefined) return;
    const records = pending;
    pending = [];
    for (const record of records) {
      try {
        tracing.record(record);
      } catch (err) {
        // Off the request path, a throw would end the process: a bug here must cost spans, nothing more.
        if (!failed) attached.warn(`tracing: a span could not be built (${err instanceof Error ? err.message : String(err)}); such spans are dropped`);
        failed = true;
      }
    }
  };
  const attached: AttachedTracing = {
    warn: (message) => console.error(`chatgate: ${message}`),
    flush: async () => {
      const loaded = await ready;
      drain();
      await loaded?.flush().catch(() => {});
    },
    shutdown: async (ms) => {
      stop();
      const loaded = await ready;
      if (loaded === undefined) return;
      drain();
      let timer: Timer | undefined;
      const late = new Promise<boolean>((resolve) => void (timer = setTimeout(() => resolve(true), ms)));
      const timedOut = await Promise.race([loaded.shutdown().then(() => false, () => false), late]);
      clearTimeout(timer);
      if (timedOut) attached.warn(`tracing: the collector did not take the last spans within ${ms} ms of shutting down; they are dropped`);
    },
  };
  const stop = options.finishes.subscribe((record) => {
    pending.push(record);
    if (scheduled || tracing === undefined) return;
    scheduled = true;
    setImmediate(drain);
  });
  const ready = import("./tracing.ts").then(
    ({ startTracing }) => {
      tracing = startTracing({ url: options.url, headers: options.headers, sample: options.sample, provider: options.provider, warn: (message) => attached.warn(message) });
      // What ended while the modules loaded.
      drain();
      return tracing;
    },
    (err: unknown) => {
      stop();
      pending = [];
      attached.warn(`tracing is off: its modules failed to load: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    },
  );
  return attached;
}
