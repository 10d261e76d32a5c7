import { monitorEventLoopDelay } from "node:perf_hooks";
import Counter from "prom-client/lib/counter.js";
import Gauge from "prom-client/lib/gauge.js";
import type Registry from "prom-client/lib/registry.js";

/** How often the event loop's delay is sampled: ~250 wake-ups a 5 s idle stretch, ~4 ms of CPU. */
const LAG_RESOLUTION_MS = 20;

/**
 * The process's own metrics, read at scrape time: memory, CPU, start time, event-loop lag.
 *
 * Not prom-client's collectDefaultMetrics: under Bun its V8 heap-space gauges are zeros, its
 * `nodejs_version_info` is the Node version Bun imitates, its event-loop gauges read NaN and
 * 9.2e9 s before the first sample, and loading it costs ~20 ms and ~10 MB more (see
 * prom-client-lib.d.ts). Bun's `monitorEventLoopDelay` itself is accurate (checked on Bun 1.4.5:
 * a 200 ms block read 199.6 ms) and does not keep the process alive.
 */
export function processMetrics(registry: Registry): void {
  const registers = [registry];
  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    registers,
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Gauge({
    name: "chatgate_heap_used_bytes",
    help: "JavaScript heap in use (JavaScriptCore), in bytes.",
    registers,
    collect() {
      this.set(process.memoryUsage().heapUsed);
    },
  });
  let cpuSeen = 0;
  new Counter({
    name: "process_cpu_seconds_total",
    help: "User and system CPU time spent, in seconds.",
    registers,
    collect() {
      const { user, system } = process.cpuUsage();
      const total = (user + system) / 1e6;
      this.inc(Math.max(0, total - cpuSeen));
      cpuSeen = total;
    },
  });
  const startedAt = performance.timeOrigin / 1000;
  new Gauge({
    name: "process_start_time_seconds",
    help: "Start time of the process since the Unix epoch, in seconds.",
    registers,
    collect() {
      this.set(Math.round(startedAt));
    },
  });
  eventLoopLag(registry);
}

/** The longest and the 99th-percentile delay of the event loop since the scrape before. */
function eventLoopLag(registry: Registry): void {
  const lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  lag.enable();
  // Without samples yet the histogram reads min 9.2e18 ns and mean NaN: report no lag.
  const seconds = (ns: number) => (lag.count > 0 ? ns / 1e9 : 0);
  new Gauge({
    name: "chatgate_event_loop_lag_max_seconds",
    help: "Longest delay of the event loop since the previous scrape, in seconds.",
    registers: [registry],
    collect() {
      this.set(seconds(lag.max));
    },
  });
  // Registered second: a scrape collects in registration order, so this one resets the samples.
  new Gauge({
    name: "chatgate_event_loop_lag_p99_seconds",
    help: `99th percentile of the event loop's delay since the previous scrape (sampled every ${LAG_RESOLUTION_MS} ms), in seconds.`,
    registers: [registry],
    collect() {
      this.set(seconds(lag.percentile(99)));
      lag.reset();
    },
  });
}
