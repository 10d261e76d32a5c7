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

/** Subscribes to the finish records and starts loading the exporter. Call it only when tracing is on. */
export function attachTracing(options: AttachTracingOptions): AttachedTracing {
  const early: FinishRecord[] = [];
  let tracing: Tracing | undefined;
  const attached: AttachedTracing = {
    warn: (message) => console.error(`chatgate: ${message}`),
    flush: async () => (await ready)?.flush().catch(() => {}),
    shutdown: async (ms) => {
      stop();
      const loaded = await ready;
      if (loaded === undefined) return;
      let timer: Timer | undefined;
      const late = new Promise<boolean>((resolve) => void (timer = setTimeout(() => resolve(true), ms)));
      const timedOut = await Promise.race([loaded.shutdown().then(() => false, () => false), late]);
      clearTimeout(timer);
      if (timedOut) attached.warn(`tracing: the collector did not take the last spans within ${ms} ms of shutting down; they are dropped`);
    },
  };
  const stop = options.finishes.subscribe((record) => {
    if (tracing === undefined) early.push(record);
    else tracing.record(record);
  });
  const ready = import("./tracing.ts").then(
    ({ startTracing }) => {
      tracing = startTracing({ url: options.url, headers: options.headers, provider: options.provider, warn: (message) => attached.warn(message) });
      for (const record of early.splice(0)) tracing.record(record);
      return tracing;
    },
    (err: unknown) => {
      stop();
      early.length = 0;
      attached.warn(`tracing is off: its modules failed to load: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    },
  );
  return attached;
}
