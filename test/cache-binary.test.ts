// The response cache against the compiled binary, as a user runs it: CHATGATE_CACHE_TTL on, one
// model turned off in the file, a fake upstream in this process that counts its calls, the openai
// SDK as the client, and the request log read from the process's stdout.
import { beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { compiledBinary, spawnBinary } from "./support/binary.ts";
import { openaiAt, routedEnv, type ConfigDoc } from "./support/config-file.ts";
import { DEFAULT_CONTENT } from "./support/openai-wire.ts";
import { fakeOpenAI } from "./support/upstream.ts";

// Built once per source state, shared with the other binary tests; the build outlasts a test's timeout.
beforeAll(() => compiledBinary(), 120_000);

test("the binary answers a repeated request from its cache, as JSON and as a stream, and logs the hit", async () => {
  await using up = fakeOpenAI();
  const target = { targets: [{ provider: "a", model: "model-a" }] };
  const doc = { providers: [openaiAt("a", up)], models: { smart: target, fresh: { ...target, cache: { ttl: "0s" } } } };
  await using gw = await spawnBinary({ ...routedEnv(doc as ConfigDoc), CHATGATE_CACHE_TTL: "1h", CHATGATE_RATE_LIMIT_MAX: "0" });
  const client = new OpenAI({ apiKey: "unused", baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: 10_000 });
  const messages = [{ role: "user" as const, content: "hi" }];

  const miss = await client.chat.completions.create({ model: "smart", messages }).withResponse();
  expect(miss.response.headers.get("x-chatgate-cache")).toBe("miss");
  const hit = await client.chat.completions.create({ model: "smart", messages, user: "another-user" }).withResponse();
  expect(hit.response.headers.get("x-chatgate-cache")).toBe("hit");
  expect(hit.response.headers.get("x-chatgate-attempts")).toBe("0");
  expect(hit.data).toEqual(miss.data);

  const stream = client.chat.completions.stream({ model: "smart", messages, stream_options: { include_usage: true } });
  const final = await stream.finalChatCompletion();
  expect(final.choices[0]!.message.content).toBe(DEFAULT_CONTENT);
  expect(final.usage).toEqual(miss.data.usage!);
  expect(up.calls).toHaveLength(1);

  const off = await client.chat.completions.create({ model: "fresh", messages }).withResponse();
  expect(off.response.headers.get("x-chatgate-cache")).toBe("skip");
  expect(up.calls).toHaveLength(2);

  const line = await gw.waitForLog((l) => l.msg === "request" && l.cache === "hit" && l.stream === true);
  expect(line).toMatchObject({ model: "smart", provider: "a", upstream_model: "model-a", status: 200, outcome: "ok", attempts: 0 });
}, 30_000);

test("the README's response cache example, config and curl as written, says miss then hit", async () => {
  await using up = fakeOpenAI();
  const readme = readFileSync(join(import.meta.dir, "..", "README.md"), "utf8");
  const section = /## Response cache\n([\s\S]*?)\n## /.exec(readme)![1]!;
  const yaml = /```yaml\n([\s\S]*?)```/.exec(section)![1]!;
  const curl = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  const dir = mkdtempSync(join(tmpdir(), "chatgate-cache-readme-"));
  try {
    const path = join(dir, "chatgate.yaml");
    writeFileSync(path, `providers:\n  - { id: openai, type: openai, base_url: "${up.url}", api_key: "\${OPENAI_API_KEY}" }\n${yaml}`);
    await using gw = await spawnBinary({ CHATGATE_CONFIG: path, OPENAI_API_KEY: "sk-readme-cache", CHATGATE_RATE_LIMIT_MAX: "0" });
    const command = curl.split("\n").filter((line) => !line.startsWith("#")).join("\n").replaceAll("localhost:3000", gw.url);
    const run = async () => {
      const proc = Bun.spawn(["bash", "-c", command.replace("| grep x-chatgate-cache", "| grep x-chatgate-")], { env: { PATH: "/usr/bin:/bin" }, stdout: "pipe" });
      return (await new Response(proc.stdout).text()).replaceAll("\r", "");
    };
    const first = await run();
    expect(first).toContain("x-chatgate-cache: miss\n");
    const second = await run();
    expect(second).toContain("x-chatgate-cache: hit\n");
    expect(second).toContain("x-chatgate-attempts: 0\n");
    expect(up.calls).toHaveLength(1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);
