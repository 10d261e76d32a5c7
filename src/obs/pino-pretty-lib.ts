// pino-pretty through an ES module of our own, for the reason in pino-lib.ts.
export { default as pretty } from "pino-pretty";
