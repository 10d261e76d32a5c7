/**
 * The module of the token-counting worker (src/usage/count-worker.ts), for `new Worker`. Made here,
 * beside src/main.ts, because the compiled binary puts every chunk at its root, which is src/: a
 * URL made relative to a module in src/usage/ would miss there. deploy/build-command.ts names the
 * worker as an entry point, so the binary holds it as usage/count-worker.
 */
export const COUNT_WORKER_URL = new URL("./usage/count-worker.ts", import.meta.url).href;
