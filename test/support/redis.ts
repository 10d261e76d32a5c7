// A real redis-server on a free port for the shared-state tests: started per test file, killed
// and restarted on the same port to play an outage, removed with its directory at the end.
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The redis-server on this machine, or null (then the tests skip, unless CI=true: then they fail). */
export const REDIS_SERVER = Bun.which("redis-server");

/** Whether the redis tests run here; prints why not once when they skip. */
export function redisAvailable(): boolean {
  if (REDIS_SERVER !== null) return true;
  if (process.env.CI === "true") throw new Error("redis-server is missing (CI=true): install the redis-server package (.ci/run does)");
  console.warn("skipping the redis tests: redis-server is not installed (apt-get install redis-server)");
  return false;
}

export interface TestRedis {
  url: string;
  port: number;
  /** Kills the server (SIGKILL: an outage, not a shutdown) and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty (no persistence), and waits until it answers. */
  restart(): Promise<void>;
  /** Stops the server (SIGSTOP): slow, not down. Its connections stay open; what they send waits. */
  pause(): void;
  /** Lets a paused server run again (SIGCONT): it runs what waited in its sockets. */
  resume(): void;
  /** One command through redis-cli, for looking at what chatgate stored. */
  cli(...args: string[]): Promise<string>;
  [Symbol.asyncDispose](): Promise<void>;
}

function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/** Starts a redis-server with no persistence on a free port, and waits until it accepts connections. `args` are more server options (e.g. `--requirepass`). */
export async function startRedis(args: string[] = []): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), "chatgate-redis-"));
  const port = freePort();
  let proc: Subprocess<"ignore", "pipe", "pipe"> | undefined;
  const start = async () => {
    proc = Bun.spawn([REDIS_SERVER!, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const ready = Promise.withResolvers<void>();
    const decoder = new TextDecoder();
    let seen = "";
    void (async () => {
      for await (const chunk of proc!.stdout) {
        seen += decoder.decode(chunk, { stream: true });
        if (seen.includes("Ready to accept connections")) ready.resolve();
      }
      ready.reject(new Error(`redis-server exited before it was ready:\n${seen}`));
    })();
    const timer = setTimeout(() => ready.reject(new Error(`redis-server not ready within 5 s:\n${seen}`)), 5_000);
    await ready.promise.finally(() => clearTimeout(timer));
  };
  const kill = async () => {
    proc?.kill("SIGKILL");
    await proc?.exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    restart: start,
    pause: () => void proc?.kill("SIGSTOP"),
    resume: () => void proc?.kill("SIGCONT"),
    async cli(...args: string[]) {
      const run = Bun.spawn(["redis-cli", "-p", String(port), ...args], { stdout: "pipe", stderr: "pipe" });
      return (await new Response(run.stdout).text()).trim();
    },
    async [Symbol.asyncDispose]() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
