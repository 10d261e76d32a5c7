import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import pkg from "../package.json" with { type: "json" };
import { buildCommand } from "../deploy/build-command.ts";
import { gitCommit } from "../deploy/git-commit.ts";
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
  // HEAD's 12 hex digits, with -dirty while tracked files have changes (test/version.test.ts checks that against git).
  const commit = gitCommit();
  expect((await runGateway([binary, "--version"])).stdout.trim()).toBe(`chatgate ${pkg.version} (commit ${commit})`);
  const help = await runGateway([binary, "--help"]);
  expect(help.code).toBe(0);
  for (const name of ["--host", "--port", "OPENAI_API_KEY", "CHATGATE_API_KEYS", "CHATGATE_STREAM_IDLE_TIMEOUT_MS"]) expect(help.stdout).toContain(name);
});

test("the binary runs no code and reads no settings from the directory it is started in (bunfig.toml, .env)", async () => {
  const cwd = mkdtempSync(join(tmpdir(), "chatgate-cwd-"));
  try {
    writeFileSync(join(cwd, "planted.js"), `require("node:fs").writeFileSync(${JSON.stringify(join(cwd, "ran"))}, "yes");`);
    writeFileSync(join(cwd, "bunfig.toml"), 'preload = ["./planted.js"]\n');
    writeFileSync(join(cwd, ".env"), "CHATGATE_RATE_LIMIT_MAX=not-a-number\n");
    const started = await spawnGateway([binary], { CHATGATE_MOCK: "1" }, cwd);
    try {
      expect((await fetch(`${started.url}/health`)).status).toBe(200);
    } finally {
      await started.stop();
    }
    expect(existsSync(join(cwd, "ran"))).toBe(false);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});

test("--help names every variable of the README's Configuration table", async () => {
  const readme = readFileSync(join(import.meta.dir, "..", "README.md"), "utf8");
  const table = readme.split(/^## /m).find((part) => part.startsWith("Configuration\n"))!;
  const names = [...table.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]!);
  expect(names.length).toBeGreaterThan(40);
  const help = (await runGateway([binary, "--help"])).stdout;
  expect(names.filter((name) => !help.includes(`  ${name} `))).toEqual([]);
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

/** The `sh` blocks of a README section, as written. */
function readmeShell(section: string): string[] {
  const readme = readFileSync(join(import.meta.dir, "..", "README.md"), "utf8");
  const body = readme.split(/^## /m).find((part) => part.startsWith(`${section}\n`)) ?? "";
  return [...body.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** Runs a README command against this binary (its port in place of 3000), returning stdout. */
async function shell(script: string): Promise<string> {
  const command = script.replaceAll("http://127.0.0.1:3000", gw.url).replaceAll("localhost:3000", gw.url);
  const proc = Bun.spawn(["bash", "-c", command], { env: { PATH: "/usr/bin:/bin" }, stdout: "pipe", stderr: "pipe" });
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  expect(code).toBe(0);
  return out;
}

test("the README's Quick start curl streams the mock's answer as it says", async () => {
  const curl = readmeShell("Quick start").find((block) => block.startsWith("curl "));
  expect(curl).toBeDefined();
  const out = await shell(curl!);
  const events = out.split("\n\n").filter(Boolean);
  expect(events.at(-1)).toBe("data: [DONE]");
  const text = events.slice(0, -1).map((e) => JSON.parse(e.slice("data: ".length)).choices[0].delta.content ?? "").join("");
  expect(text).toBe("Hello, chatgate!");
});

test("the README's embeddings curl gives the output it shows", async () => {
  const [block] = readmeShell("Embeddings");
  expect(block).toBeDefined();
  const command = block!.split("\n").filter((line) => !line.startsWith("#")).join("\n");
  const shown = block!.split("\n").filter((line) => line.startsWith("# ")).map((line) => line.slice(2).trim()).join("");
  const out = await shell(command);
  // The README elides with "…": every piece between elisions is in the answer, in order.
  let at = 0;
  for (const piece of shown.split("…")) {
    const found = out.indexOf(piece, at);
    expect(found, piece).toBeGreaterThanOrEqual(0);
    at = found + piece.length;
  }
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
