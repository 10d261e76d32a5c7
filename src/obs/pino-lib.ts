// pino through an ES module of our own: `await import()` of a CommonJS package directly makes the
// bundler wrap its namespace in a callback whose minified parameter can shadow the interop helper
// it calls (`(m)=>m(m.default,1)`: "m is not a function" in the compiled binary). Statically
// imported here, the interop runs at this module's top level instead.
export { pino } from "pino";
