// The order a start-up runs the executable's code in, for `bun build --bytecode-order`: the build
// lays the bytecode out in that order, so a start-up reads its code from fewer, adjacent pages.
// Measured on the bench's start-up (spawn to the first 200 on /health, 31 rounds, one pinned
// core): ~97.6 → ~93.7 ms median.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** How long the recording start may take in all before it is given up (the build goes on without an order). */
const DEADLINE_MS = 20_000;

/**
 * A config as a deployment writes one: providers of each type (only the mock is asked: the others'
 * models are listed, so none is probed), a priced model, a key with limits and a budget, the
 * ledger on (in a temporary data dir). Its start-up runs the code a production start-up runs:
 * YAML, the schema's defaults and checks, key digests, the ledger's migrations, the routes.
 */
const CONFIG = `providers:
  - { id: local, type: mock }
  - { id: upstream, type: openai, base_url: "http://127.0.0.1:9/v1", api_key: unused, models: [gpt-4o] }
  - { id: claude, type: anthropic, base_url: "http://127.0.0.1:9", api_key: unused, models: [claude-sonnet-4-5] }
models:
  gpt-4o-mini:
    targets:
      - { provider: local, model: mock, price: { input: 0.15, output: 0.6 } }
keys:
  - id: build
    key: "sha256:${new Bun.CryptoHasher("sha256").update("cg-build-order-key").digest("hex")}"
    rpm: 1000
    tpm: 1000000
    budget: { usd: 1, period: month }
`;

function freePort(): number {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = server.port!;
  server.stop(true);
  return port;
}

/**
 * Starts `binary` once with BUN_BYTECODE_ORDER_OUT=`orderFile`, waits for its first 200 on
 * /health, sends one chat completion and one stream (the first request's code comes next in the
 * order), then stops it with SIGTERM, which writes the file. True when the file was written.
 */
export async function recordStartOrder(binary: string, orderFile: string): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), "chatgate-order-"));
  const config = join(dir, "chatgate.yaml");
  writeFileSync(config, CONFIG);
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const proc = Bun.spawn([binary, "--config", config], {
    env: {
      PATH: process.env.PATH ?? "",
      HOST: "127.0.0.1",
      PORT: String(port),
      CHATGATE_DATA_DIR: join(dir, "data"),
      // As the systemd unit sets it: no re-exec, the start-up a service makes.
      BUN_CONFIG_MAX_HTTP_REQUESTS: "65535",
      BUN_BYTECODE_ORDER_OUT: orderFile,
    },
    stdout: "ignore",
    stderr: "ignore",
  });
  const deadline = performance.now() + DEADLINE_MS;
  try {
    while (!(await ok(fetch(`${base}/health`)))) {
      if (proc.exitCode !== null || performance.now() > deadline) return false;
      await Bun.sleep(2);
    }
    const chat = (stream: boolean) =>
      fetch(`${base}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: "Bearer cg-build-order-key", "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4o-mini", stream, messages: [{ role: "user", content: "hello" }] }),
      });
    if (!(await ok(chat(false))) || !(await ok(chat(true)))) return false;
    proc.kill("SIGTERM");
    const code = await Promise.race([proc.exited, Bun.sleep(Math.max(0, deadline - performance.now())).then(() => null)]);
    return code === 0 && (await Bun.file(orderFile).exists());
  } finally {
    proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

/** True for a 200, its body read; false for any other answer or no answer. */
async function ok(answer: Promise<Response>): Promise<boolean> {
  try {
    const res = await answer;
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/**
 * Builds the executable for this machine at `outfile` with `build` (given the extra flags to
 * add), starts it once to record its start-up order, and builds it again laid out in that order.
 * When the recording fails, the first build stays and a warning says so: the order only speeds up
 * the start-up. False when a build failed.
 */
export async function buildInStartOrder(outfile: string, build: (flags: readonly string[]) => boolean): Promise<boolean> {
  if (!build([])) return false;
  const dir = mkdtempSync(join(tmpdir(), "chatgate-order-"));
  try {
    const order = join(dir, "order");
    if (await recordStartOrder(outfile, order)) return build([`--bytecode-order=${order}`]);
    console.warn(`build: could not record the start-up order of ${outfile} (starting it failed); it is built without one`);
    return true;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
