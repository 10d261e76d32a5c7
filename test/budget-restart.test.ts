// A key's budget survives a restart: the spend its requests recorded in the usage ledger is read
// back at start, so a key over its budget stays over it after the process comes back.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary, spawnBinary } from "./support/binary.ts";
import { fakeOpenAI } from "./support/upstream.ts";

beforeAll(() => compiledBinary(), 120_000);
const root = mkdtempSync(join(tmpdir(), "chatgate-budget-restart-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const KEY = "ck-budget-restart-key-0001";

test("a key over its daily budget is still over it after a restart, because the ledger's spend is counted again", async () => {
  await using up = fakeOpenAI();
  const dataDir = join(root, "data");
  const config = join(root, "chatgate.yaml");
  // $1 per token: one answer costs about $8, past the $7 budget.
  writeFileSync(
    config,
    `providers:\n  - {id: up, type: openai, base_url: '${up.url}', api_key: sk-up}\nmodels:\n  priced:\n    targets: [{provider: up, model: gpt-4o-mini, price: {input: 1000000, output: 1000000}}]\nkeys:\n  - {id: team-a, key: ${KEY}, budget: {usd: 7, period: day}}\n`,
  );
  const env = { CHATGATE_DATA_DIR: dataDir };
  const ask = (url: string) =>
    fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: "priced", max_tokens: 1, messages: [{ role: "user", content: "hi" }] }),
    });

  const first = await spawnBinary(env, ["--config", config]);
  // The reservation ($1 per token, a tiny prompt and max_tokens 1) fits; the answer's real usage spends past $7.
  expect((await ask(first.url)).status).toBe(200);
  const over = await ask(first.url);
  expect(over.status).toBe(429);
  expect(((await over.json()) as { error: { code: string } }).error.code).toBe("insufficient_quota");
  first.proc.kill("SIGTERM");
  expect(await first.exited).toBe(0);
  await first.stop();

  await using second = await spawnBinary(env, ["--config", config]);
  const still = await ask(second.url);
  expect(still.status).toBe(429);
  expect(((await still.json()) as { error: { code: string } }).error.code).toBe("insufficient_quota");
  expect(up.calls.length).toBe(1);
});
