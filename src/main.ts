#!/usr/bin/env bun
/**
 * Entry point. Bun's fetch allows only 256 upstream requests in flight per process unless
 * BUN_CONFIG_MAX_HTTP_REQUESTS is set before the process starts (setting it later has no effect),
 * and each stream holds one for its whole life. So unless the operator chose a value, start over
 * with a high one: execve keeps the PID, so signals and service managers see one process.
 */
import { holdReloads } from "./early-reload.ts";
import { COUNT_ARG, compiledEntry } from "./usage/count-command.ts";

export const MAX_UPSTREAM_REQUESTS = "65535";

// The token-counting process (src/usage/count-texts.ts starts it): no gateway, no upstream requests.
const counting = process.argv[2] === COUNT_ARG;

if (!counting && !process.env.BUN_CONFIG_MAX_HTTP_REQUESTS) {
  // In the compiled binary argv[1] is the embedded script, which the binary supplies itself.
  const args = compiledEntry() ? process.argv.slice(2) : process.argv.slice(1);
  process.execve?.(process.execPath, [process.execPath, ...process.execArgv, ...args], { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: MAX_UPSTREAM_REQUESTS });
}

/**
 * How long after start-up the JIT gets its normal policy back. The build starts the executable with
 * JavaScriptCore's tier-up thresholds scaled up (`--compile-jit-policy` in package.json): code that
 * runs once while the gateway starts and answers its first requests (module bodies, schemas, route
 * compilation) stays in the interpreter instead of being compiled for nothing. Measured on one
 * pinned core: listening ~12 ms sooner, the first chat request ~7 ms faster. After this delay the
 * hot paths tier up as usual. From source (`bun src/main.ts`) the policy is already normal.
 */
const JIT_NORMAL_AFTER_MS = 1_000;

if (counting) {
  // Counting is hot from its first text: the JIT's normal policy at once.
  Bun.unsafe.setJITPolicy?.(1);
  void import("./usage/count-worker.ts");
} else {
  holdReloads();
  startGateway();
}

function startGateway(): void {
  // Loaded only now, after the execve above: the first process never loads the gateway's code.
  import("./serve.ts").then(
    // serve.ts has finished once the gateway listens and its logger is ready.
    // `?.`: a Bun older than 1.4 running the source has no such function, and nothing to restore.
    () => setTimeout(() => Bun.unsafe.setJITPolicy?.(1), JIT_NORMAL_AFTER_MS).unref(),
    (err: unknown) => {
      console.error("chatgate: failed to start:", err);
      process.exit(1);
    },
  );
}
