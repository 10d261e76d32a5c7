// Starts the real app on a random port, in process, configured the way main.ts configures it:
// from environment variables. Tests that need a separate process (signals, the binary) use
// ./process.ts instead.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { createApp } from "../../src/app.ts";
import type { AppOverrides } from "../../src/generation.ts";
import { parseConfig, type Env } from "../../src/config.ts";

export interface TestGateway {
  url: string;
  /** Base URL for OpenAI clients: `${url}/v1`. */
  baseURL: string;
  app: ReturnType<typeof createApp>;
  /** An official OpenAI SDK client pointed at the gateway, retries off so every error shows. */
  client(apiKey?: string): OpenAI;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Rate limiting, retries and cooldown off unless a test turns them on, so unrelated tests never
 * trip them and each upstream failure is seen as one attempt.
 */
export const TEST_DEFAULTS: Env = { CHATGATE_RATE_LIMIT_MAX: "0", CHATGATE_RETRIES: "0", CHATGATE_COOLDOWN_AFTER: "0" };

/**
 * `overrides` reach createApp as they are: the upstream `fetch`, and the `now`, `sleep` and
 * `random` of every policy (see test/support/clock.ts), so waits are tested without sleeping.
 */
export function startGateway(env: Env = {}, overrides: AppOverrides = {}): TestGateway {
  // The usage ledger (on by default) goes to a directory of this gateway's own, never the user's.
  const dataDir = env.CHATGATE_DATA_DIR === undefined ? mkdtempSync(join(tmpdir(), "chatgate-data-")) : undefined;
  const config = parseConfig({ ...TEST_DEFAULTS, ...(dataDir ? { CHATGATE_DATA_DIR: dataDir } : {}), ...env, PORT: "0", HOST: "127.0.0.1" });
  const app = createApp(config, overrides);
  app.app.listen({ hostname: "127.0.0.1", port: 0 });
  const server = app.app.server!;
  const url = `http://127.0.0.1:${server.port}`;
  const stop = async () => {
    await server.stop(true);
    app.ledger?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  return {
    url,
    baseURL: `${url}/v1`,
    app,
    client: (apiKey = "unused") => new OpenAI({ apiKey, baseURL: `${url}/v1`, maxRetries: 0, timeout: 10_000 }),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** `fetch` a JSON body to the gateway. */
export function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}
