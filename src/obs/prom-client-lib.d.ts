// prom-client's classes from their own modules rather than the package's index, which also loads
// the push gateway (node:http, node:https, node:zlib), cluster aggregation and the default
// metrics: in the compiled binary the index took ~25 ms and ~14 MB of RSS to load, these four
// ~5 ms and ~4 MB (see metrics-sink.ts). The types are the package's own.
declare module "prom-client/lib/counter.js" {
  export { Counter as default } from "prom-client";
}
declare module "prom-client/lib/gauge.js" {
  export { Gauge as default } from "prom-client";
}
declare module "prom-client/lib/histogram.js" {
  export { Histogram as default } from "prom-client";
}
declare module "prom-client/lib/registry.js" {
  export { Registry as default } from "prom-client";
}
