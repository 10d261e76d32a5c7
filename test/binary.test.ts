import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import pkg from "../package.json" with { type: "json" };
import { buildCommand } from "../deploy/build-command.ts";
import { runGateway, spawnGateway, type GatewayProcess } from "./support/process.ts";

// The standalone executable, built the way `npm run build` builds it, then run from an empty
// directory with no node_modules and no Bun on PATH.
const dir = mkdtempSync(join(tmpdir(), "chatgate-bin-"));
const binary = join(dir, "chatgate");
let gw: GatewayProcess;

beforeAll(async () => {
  const build = Bun.spawnSync(buildCommand(binary), { stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`build failed: ${build.stderr.toString()}`);
  gw = await spawnGateway([binary], { CHATGATE_MOCK: "1" }, dir);
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("the binary prints its version and its help", async () => {
  const commit = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"]).stdout.toString().trim();
  expect((await runGateway([binary, "--version"])).stdout.trim()).toBe(`chatgate ${pkg.version} (commit ${commit})`);
  const help = await runGateway([binary, "--help"]);
  expect(help.code).toBe(0);
  for (const name of ["--host", "--port", "OPENAI_API_KEY", "CHATGATE_API_KEYS", "CHATGATE_STREAM_IDLE_TIMEOUT_MS"]) expect(help.stdout).toContain(name);
});

test("the binary answers /health", async () => {
  const res = await fetch(`${gw.url}/health`);
  expect(await res.json()).toEqual({ status: "ok" });
});

test("the binary serves one JSON and one streamed completion on the mock to the official SDK", async () => {
  const client = new OpenAI({ apiKey: "unused", baseURL: `${gw.url}/v1`, maxRetries: 0 });
  const completion = await client.chat.completions.create({ model: "mock", messages: [{ role: "user", content: "standalone binary" }] });
  expect(completion.choices[0]!.message.content).toBe("standalone binary");
  const stream = await client.chat.completions.create({ model: "mock", stream: true, messages: [{ role: "user", content: "one two three" }] });
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
  expect(text).toBe("one two three");
});

test("the binary serves Swagger UI and its assets from itself", async () => {
  const page = await (await fetch(`${gw.url}/docs`)).text();
  expect(page).not.toMatch(/https?:\/\//);
  for (const asset of ["/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"]) {
    expect(page).toContain(asset);
    const res = await fetch(`${gw.url}${asset}`);
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(10_000);
  }
});

test("the binary lifts Bun's cap of 256 upstream requests in flight before it serves", async () => {
  const environ = await Bun.file(`/proc/${gw.proc.pid}/environ`).text();
  expect(environ.split("\0")).toContain("BUN_CONFIG_MAX_HTTP_REQUESTS=65535");
});
