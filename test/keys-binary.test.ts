// Client keys against the compiled binary, from outside: `chatgate key new` prints a key once and
// the entry that lets it in when pasted into the config file; the log names the key's id; limits
// and counters hold across a SIGHUP reload.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary, spawnBinary } from "./support/binary.ts";
import { runGateway } from "./support/process.ts";
import { fakeOpenAI } from "./support/upstream.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function configFile(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), "chatgate-keys-"));
  dirs.push(dir);
  const path = join(dir, "chatgate.yaml");
  writeFileSync(path, yaml);
  return { path, rewrite: (next: string) => writeFileSync(path, next) };
}

const chat = (url: string, key: string) =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: "chat", messages: [{ role: "user", content: "hi" }] }),
  });

/** `chatgate key new --id <id>` run from the binary: the key line and the entry line. */
async function newKey(id: string): Promise<{ key: string; entry: string; stdout: string }> {
  const { stdout, stderr, code } = await runGateway([await compiledBinary(), "key", "new", "--id", id]);
  expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
  const [key, entry] = stdout.split("\n").filter((line) => line !== "" && !line.startsWith("#"));
  return { key: key!, entry: entry!, stdout };
}

describe("chatgate key new, from the binary", () => {
  test("the printed entry, pasted under keys:, lets the printed key in as its id; the log names the id, never the key", async () => {
    await using up = fakeOpenAI();
    const { key, entry } = await newKey("team-a");
    expect(key).toStartWith("ck-");
    const file = configFile(`providers: [{id: a, type: openai, base_url: '${up.url}'}]\nmodels:\n  chat: {targets: [{provider: a, model: m}]}\nkeys:\n${entry}\n`);
    await using gw = await spawnBinary({}, ["--config", file.path]);
    const ok = await chat(gw.url, key);
    expect(ok.status).toBe(200);
    const line = await gw.waitForLog((l) => l.msg === "request" && l.req_id === ok.headers.get("x-request-id"));
    expect(line.key_id).toBe("team-a");
    expect((await chat(gw.url, `${key}x`)).status).toBe(401);
    expect(gw.output()).not.toContain(key);
    // The key was written nowhere: not in the config, not in the data directory.
    expect(Bun.file(file.path).size).toBeGreaterThan(0);
    expect(await Bun.file(file.path).text()).not.toContain(key);
  });

  test("a bad id exits 2 and prints no key", async () => {
    const { stdout, stderr, code } = await runGateway([await compiledBinary(), "key", "new", "--id", "key-1"]);
    expect({ code, stdout }).toEqual({ code: 2, stdout: "" });
    expect(stderr).toContain("ids like key-1 are given to api_keys");
  });
});

describe("keys across SIGHUP", () => {
  test("a key's rpm counter carries over a reload that keeps its limit; a key added by the reload works at once", async () => {
    await using up = fakeOpenAI();
    const a = await newKey("team-a");
    const b = await newKey("team-b");
    const base = `providers: [{id: a, type: openai, base_url: '${up.url}'}]\nmodels:\n  chat: {targets: [{provider: a, model: m}]}\nkeys:\n`;
    const withRpm = (entry: string) => entry.replace(/\}$/, ", rpm: 2}");
    const file = configFile(`${base}${withRpm(a.entry)}\n`);
    await using gw = await spawnBinary({}, ["--config", file.path]);
    const minute = () => Math.floor(Date.now() / 60_000);
    const startMinute = minute();
    expect((await chat(gw.url, a.key)).status).toBe(200);
    const second = await chat(gw.url, a.key);
    expect(second.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(second.headers.get("x-ratelimit-reset-requests")).toMatch(/^(\d+(\.\d+)?s|\d+ms)$/);

    file.rewrite(`${base}${withRpm(a.entry)}\n${b.entry}\n`);
    gw.proc.kill("SIGHUP");
    const [line] = await gw.waitForOutput(/config reloaded: .*/);
    expect(line).toContain("2 client keys (was 1)");
    const third = await chat(gw.url, a.key);
    // The count carried over, unless the clock minute (the window) turned over meanwhile.
    if (minute() === startMinute) expect(third.status).toBe(429);
    expect((await chat(gw.url, b.key)).status).toBe(200);
  });
});
