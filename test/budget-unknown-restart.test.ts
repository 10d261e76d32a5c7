// Spend a key's budget counted for calls that ran and reported no usage (an upstream 5xx: cost
// unknown, the whole reservation kept) is spend a restart reads back from the usage ledger, and so
// is it for a budget period a reload switches to. Regression: the ledger summed cost_usd, null for
// those rows, so a restart made the kept reservations free. In process, two gateways on one data
// directory (a real SQLite file) one after the other, the clock injected.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../src/config.ts";
import { TestClock } from "./support/clock.ts";
import { openaiAt, routedEnv, type ConfigDoc } from "./support/config-file.ts";
import { TEST_DEFAULTS, startGateway, type TestGateway } from "./support/gateway.ts";
import { T0, sha256Hex } from "./support/keys.ts";
import { fakeOpenAI, type FakeOpenAI } from "./support/upstream.ts";

const root = mkdtempSync(join(tmpdir(), "chatgate-budget-unknown-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;

const SECRET = "ck-beta-budget-unknown-0001";

/** Key `beta` with `budget`; `priced` at $1 per 1M output tokens (input free): max_tokens 600 reserves $0.0006. */
function doc(up: FakeOpenAI, period: "day" | "month"): ConfigDoc & Record<string, unknown> {
  return {
    providers: [openaiAt("up", up)],
    models: { priced: { targets: [{ provider: "up", model: "gpt-4o-mini", price: { input: 0, output: 1 } }] } },
    keys: [{ id: "beta", key: `sha256:${sha256Hex(SECRET)}`, budget: { usd: 0.002, period } }],
    cooldown_after: 0,
  };
}

const ask = (gw: TestGateway) =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${SECRET}` },
    body: JSON.stringify({ model: "priced", max_tokens: 600, messages: [{ role: "user", content: "hi" }] }),
  });

/** Three requests the upstream answers with a 500 (502s to the client): $0.0018 of reservations kept. */
async function spendOnFailures(gw: TestGateway, up: FakeOpenAI): Promise<void> {
  up.reply({ kind: "error", status: 500 }, { kind: "error", status: 500 }, { kind: "error", status: 500 });
  for (let i = 0; i < 3; i++) expect((await ask(gw)).status).toBe(502);
}

async function expectOverBudget(res: Response): Promise<void> {
  expect(res.status).toBe(429);
  const { error } = (await res.json()) as { error: { code: string; message: string } };
  expect(error.code).toBe("insufficient_quota");
  expect(error.message).toContain("spent $0.0018 of its $0.002");
}

test("a key's spend kept for calls that reported no usage is still counted after a restart on the same ledger", async () => {
  await using up = fakeOpenAI();
  const clock = new TestClock(T0);
  const env: Record<string, string> = { ...routedEnv(doc(up, "day")), CHATGATE_DATA_DIR: join(root, `data-${++dirs}`) };
  const first = startGateway(env, clock.overrides);
  await spendOnFailures(first, up);
  await expectOverBudget(await ask(first));
  await first.stop();

  await using second = startGateway(env, clock.overrides);
  await expectOverBudget(await ask(second));
  expect(up.calls).toHaveLength(3);
  // The rows say what was charged beside the cost, which stays unknown.
  const rows = second.app.ledger!.ledger.db.query("SELECT status, cost_usd, budget_usd FROM requests WHERE key_id = 'beta' ORDER BY id").all();
  expect(rows).toEqual([
    ...Array.from({ length: 3 }, () => ({ status: 502, cost_usd: null, budget_usd: 0.0006 })),
    { status: 429, cost_usd: 0, budget_usd: 0 },
  ]);
});

test("a reload that moves a key's budget to another period counts the spend kept for calls that reported no usage", async () => {
  await using up = fakeOpenAI();
  const clock = new TestClock(T0);
  const env: Record<string, string> = { ...routedEnv(doc(up, "day")), CHATGATE_DATA_DIR: join(root, `data-${++dirs}`) };
  await using gw = startGateway(env, clock.overrides);
  await spendOnFailures(gw, up);
  writeFileSync(env.CHATGATE_CONFIG!, JSON.stringify(doc(up, "month")));
  gw.app.reload(parseConfig({ ...TEST_DEFAULTS, ...env, PORT: "0", HOST: "127.0.0.1" }));
  await expectOverBudget(await ask(gw));
  expect(up.calls).toHaveLength(3);
});
