// `npm run release` for this machine's platform: the artifact names its commit, matches SHA256SUMS,
// and runs as a gateway from an empty directory.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { HOST_PLATFORM, PLATFORMS, artifactName } from "../deploy/release.ts";
import { gitCommit } from "../deploy/git-commit.ts";
import { runGateway, spawnGateway } from "./support/process.ts";

const ROOT = join(import.meta.dir, "..");
const out = mkdtempSync(join(tmpdir(), "chatgate-release-"));
let result: { code: number; stdout: string; stderr: string };

beforeAll(async () => {
  const proc = Bun.spawn([process.execPath, join(ROOT, "deploy/release.ts"), "--only", HOST_PLATFORM, "--out", out], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  result = { code, stdout, stderr };
}, 120_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

test("this machine's platform is one of the released ones", () => {
  expect(Object.keys(PLATFORMS)).toContain(HOST_PLATFORM);
});

test("the release builds this machine's binary and a SHA256SUMS that verifies it", async () => {
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  const name = artifactName(HOST_PLATFORM);
  expect(readdirSync(out).sort()).toEqual(["SHA256SUMS", name].sort());
  const sums = readFileSync(join(out, "SHA256SUMS"), "utf8");
  const digest = new Bun.CryptoHasher("sha256").update(readFileSync(join(out, name))).digest("hex");
  expect(sums).toBe(`${digest}  ${name}\n`);
  expect(result.stdout).toContain("sha256sum -c SHA256SUMS");
});

test("the released binary prints its version and the commit it was built from", async () => {
  // HEAD's 12 hex digits, with -dirty while tracked files have changes (test/version.test.ts checks that against git).
  const commit = gitCommit();
  const { stdout, code } = await runGateway([join(out, artifactName(HOST_PLATFORM)), "--version"]);
  expect(code).toBe(0);
  expect(stdout.trim()).toBe(`chatgate ${pkg.version} (commit ${commit})`);
});

test("the released binary serves from an empty directory", async () => {
  const dir = mkdtempSync(join(tmpdir(), "chatgate-release-run-"));
  const gw = await spawnGateway([join(out, artifactName(HOST_PLATFORM))], { CHATGATE_MOCK: "1" }, dir);
  try {
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "mock", messages: [{ role: "user", content: "hi" }] }) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { object: string }).object).toBe("chat.completion");
  } finally {
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an unknown platform is refused by name", async () => {
  const proc = Bun.spawnSync([process.execPath, join(ROOT, "deploy/release.ts"), "--only", "plan9-mips", "--out", join(out, "x")], { cwd: ROOT, stderr: "pipe" });
  expect(proc.exitCode).not.toBe(0);
  expect(proc.stderr.toString()).toContain("unknown platform plan9-mips");
});
