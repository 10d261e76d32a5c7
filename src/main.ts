#!/usr/bin/env bun
/**
 * Entry point. Bun's fetch allows only 256 upstream requests in flight per process unless
 * BUN_CONFIG_MAX_HTTP_REQUESTS is set before the process starts (setting it later has no effect),
 * and each stream holds one for its whole life. So unless the operator chose a value, start over
 * with a high one: execve keeps the PID, so signals and service managers see one process.
 */
export const MAX_UPSTREAM_REQUESTS = "65535";

if (!process.env.BUN_CONFIG_MAX_HTTP_REQUESTS) {
  // In the compiled binary argv[1] is the embedded script, which the binary supplies itself.
  const script = process.argv[1] ?? "";
  const compiled = script.startsWith("/$bunfs/") || script.includes("~BUN");
  const args = compiled ? process.argv.slice(2) : process.argv.slice(1);
  process.execve?.(process.execPath, [process.execPath, ...process.execArgv, ...args], { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: MAX_UPSTREAM_REQUESTS });
}

// Loaded only now, after the execve above: the first process never loads the gateway's code.
import("./serve.ts").catch((err: unknown) => {
  console.error("chatgate: failed to start:", err);
  process.exit(1);
});
