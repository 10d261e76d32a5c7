// reasoning_effort on an Anthropic target under the client's token limit, through the gateway over
// real HTTP to a fake Anthropic API: OpenAI's limit bounds reasoning and visible output together,
// so it is Anthropic's max_tokens as given and the thinking budget fits under it (audit: a
// max_completion_tokens of 100 went out as max_tokens 16484).
import { describe, expect, test } from "bun:test";
import { anthropicAt } from "./support/config-file.ts";
import { fakeAnthropic, type FakeAnthropic } from "./support/fake-anthropic.ts";
import type { TestGateway } from "./support/gateway.ts";
import { chat, errorOf, startRouted } from "./support/routed.ts";

const CLAUDE = "claude-sonnet-4-5";

interface Setup extends AsyncDisposable {
  claude: FakeAnthropic;
  gw: TestGateway;
}

/** Route `son` → provider `claude` (Anthropic), `max_tokens` default 4096. */
function setUp(): Setup {
  const claude = fakeAnthropic();
  const gw = startRouted({ providers: [anthropicAt("claude", claude)], models: { son: { targets: [{ provider: "claude", model: CLAUDE }] } } });
  return { claude, gw, [Symbol.asyncDispose]: () => gw.stop().then(() => claude.stop()) };
}

const limits = (body: unknown) => {
  const { max_tokens, thinking } = body as { max_tokens: number; thinking?: { budget_tokens: number } };
  return { max_tokens, budget_tokens: thinking?.budget_tokens };
};

function responses(gw: TestGateway, extra: Record<string, unknown>): Promise<Response> {
  const body = JSON.stringify({ model: "son", input: "hi", ...extra });
  return fetch(`${gw.baseURL}/responses`, { method: "POST", headers: { "content-type": "application/json" }, body });
}

describe("reasoning_effort to an Anthropic target", () => {
  test("regression: the client's max_completion_tokens or max_tokens is Anthropic's max_tokens, never raised, and the budget fits under it", async () => {
    await using s = setUp();
    const cases: Array<[Record<string, unknown>, { max_tokens: number; budget_tokens: number }]> = [
      [{ max_completion_tokens: 4000 }, { max_tokens: 4000, budget_tokens: 3999 }],
      [{ max_tokens: 1025 }, { max_tokens: 1025, budget_tokens: 1024 }],
      [{ max_completion_tokens: 20_000 }, { max_tokens: 20_000, budget_tokens: 16_384 }],
      [{ max_completion_tokens: 3000, max_tokens: 50_000 }, { max_tokens: 3000, budget_tokens: 2999 }],
    ];
    for (const [limit, sent] of cases) {
      expect((await chat(s.gw, { model: "son", reasoning_effort: "high", ...limit })).status).toBe(200);
      expect([limit, limits((await s.claude.nextCall()).body)]).toEqual([limit, sent]);
    }
  });

  test("a limit with no room for Anthropic's minimum budget is a 400 naming the parameter the client used, before any upstream call", async () => {
    await using s = setUp();
    for (const param of ["max_completion_tokens", "max_tokens"]) {
      const { status, error } = await errorOf(await chat(s.gw, { model: "son", reasoning_effort: "high", [param]: 100 }));
      expect([status, error.type, error.param]).toEqual([400, "invalid_request_error", param]);
      expect(error.message).toContain(`\`${param}\` is 100`);
      expect(error.message).toContain("at least 1024");
    }
    expect(s.claude.calls).toHaveLength(0);
  });

  test("with no limit given the default stays, the budget on top of it; reasoning_effort none sends no thinking", async () => {
    await using s = setUp();
    await (await chat(s.gw, { model: "son", reasoning_effort: "high" })).text();
    expect(limits((await s.claude.nextCall()).body)).toEqual({ max_tokens: 4096 + 16_384, budget_tokens: 16_384 });
    await (await chat(s.gw, { model: "son", reasoning_effort: "none", max_completion_tokens: 100 })).text();
    expect(limits((await s.claude.nextCall()).body)).toEqual({ max_tokens: 100, budget_tokens: undefined });
  });

  test("/v1/responses: max_output_tokens is the limit, and a 400 names max_output_tokens", async () => {
    await using s = setUp();
    expect((await responses(s.gw, { max_output_tokens: 2000, reasoning: { effort: "high" } })).status).toBe(200);
    expect(limits((await s.claude.nextCall()).body)).toEqual({ max_tokens: 2000, budget_tokens: 1999 });
    const { status, error } = await errorOf(await responses(s.gw, { max_output_tokens: 100, reasoning: { effort: "high" } }));
    expect([status, error.param]).toEqual([400, "max_output_tokens"]);
    expect(error.message).toContain("`max_output_tokens` is 100");
    expect(error.message).toContain("`reasoning.effort`");
    expect(error.message).not.toContain("max_completion_tokens");
  });
});
