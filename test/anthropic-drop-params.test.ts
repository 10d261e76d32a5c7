// What an Anthropic target cannot take, through the gateway over real HTTP to a fake Anthropic API:
// under drop_params a custom tool is dropped and named like any dropped parameter (audit: it was
// still a 400 telling the client to set drop_params, already set); prompt content Anthropic cannot
// take is refused either way, with the same code as every cannot-honour error and no advice to set
// drop_params, which would not help.
import { describe, expect, test } from "bun:test";
import { anthropicAt } from "./support/config-file.ts";
import { fakeAnthropic, type FakeAnthropic } from "./support/fake-anthropic.ts";
import type { TestGateway } from "./support/gateway.ts";
import { chat, errorOf, startRouted } from "./support/routed.ts";

const CLAUDE = "claude-sonnet-4-5";
const CUSTOM = { type: "custom", custom: { name: "c" } };
const WEATHER = { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } };

interface Setup extends AsyncDisposable {
  claude: FakeAnthropic;
  gw: TestGateway;
}

/** Route `son` → provider `claude` (Anthropic), with or without drop_params. */
function setUp(dropParams: boolean): Setup {
  const claude = fakeAnthropic();
  const gw = startRouted({
    providers: [anthropicAt("claude", claude, dropParams ? { drop_params: true } : {})],
    models: { son: { targets: [{ provider: "claude", model: CLAUDE }] } },
  });
  return { claude, gw, [Symbol.asyncDispose]: () => gw.stop().then(() => claude.stop()) };
}

const droppedOf = (res: Response) => res.headers.get("x-chatgate-dropped-params");
const toolsSent = (body: unknown) => {
  const { tools, tool_choice } = body as { tools?: Array<{ name: string }>; tool_choice?: unknown };
  return { tools: tools?.map((t) => t.name), tool_choice };
};

describe("custom tools on an Anthropic target", () => {
  test("regression: under drop_params a custom tool is dropped and named tools[k]; the function tools and their choice go on", async () => {
    await using s = setUp(true);
    for (const stream of [false, true]) {
      const res = await chat(s.gw, { model: "son", stream, tools: [CUSTOM, WEATHER], tool_choice: "required" });
      expect([res.status, droppedOf(res)]).toEqual([200, "tools[0]"]);
      await res.text();
      expect(toolsSent((await s.claude.nextCall()).body)).toEqual({ tools: ["get_weather"], tool_choice: { type: "any" } });
    }
  });

  test("regression: under drop_params, with no tool left, tools and tool_choice both go, and tool_choice is named when it was sent", async () => {
    await using s = setUp(true);
    const res = await chat(s.gw, { model: "son", tools: [CUSTOM], tool_choice: "required" });
    expect([res.status, droppedOf(res)]).toEqual([200, "tools[0], tool_choice"]);
    expect(toolsSent((await s.claude.nextCall()).body)).toEqual({ tools: undefined, tool_choice: undefined });
    const bare = await chat(s.gw, { model: "son", tools: [CUSTOM] });
    expect([bare.status, droppedOf(bare)]).toEqual([200, "tools[0]"]);
  });

  test("without drop_params a custom tool is a 400 unsupported_parameter that points to drop_params, before any upstream call", async () => {
    await using s = setUp(false);
    const { status, error } = await errorOf(await chat(s.gw, { model: "son", tools: [WEATHER, CUSTOM] }));
    expect([status, error.type, error.code, error.param]).toEqual([400, "invalid_request_error", "unsupported_parameter", "tools[1].type"]);
    expect(error.message).toContain("Remove `tools[1]`, or set drop_params");
    expect(s.claude.calls).toHaveLength(0);
  });
});

describe("content parts an Anthropic target cannot take", () => {
  const PARTS = [
    ["input_audio", { type: "input_audio", input_audio: { data: "UklGRg==", format: "wav" } }],
    ["file", { type: "file", file: { file_id: "file-abc123" } }],
  ] as const;

  test("regression: input_audio and file parts are a 400 unsupported_parameter naming the part, with or without drop_params, never suggesting it", async () => {
    for (const dropParams of [false, true]) {
      await using s = setUp(dropParams);
      for (const [type, part] of PARTS) {
        const messages = [{ role: "user", content: [{ type: "text", text: "what is this?" }, part] }];
        const { status, error } = await errorOf(await chat(s.gw, { model: "son", messages }));
        expect([dropParams, type, status, error.type, error.code, error.param]).toEqual([dropParams, type, 400, "invalid_request_error", "unsupported_parameter", "messages[0].content[1].type"]);
        expect(error.message).toContain(`content parts of type '${type}'`);
        expect(error.message).toContain("'claude'");
        expect(error.message).not.toContain("set drop_params");
      }
      expect(s.claude.calls).toHaveLength(0);
    }
  });

  test("regression: a custom tool's call in the history is the same 400 unsupported_parameter naming the call and the provider, not 'must be a function call'", async () => {
    for (const dropParams of [false, true]) {
      await using s = setUp(dropParams);
      const messages = [
        { role: "user", content: "hi" },
        { role: "assistant", tool_calls: [{ id: "c1", type: "custom", custom: { name: "x", input: "i" } }] },
        { role: "tool", tool_call_id: "c1", content: "r" },
      ];
      const { status, error } = await errorOf(await chat(s.gw, { model: "son", messages }));
      expect([dropParams, status, error.code, error.param]).toEqual([dropParams, 400, "unsupported_parameter", "messages[1].tool_calls[0].type"]);
      expect(error.message).toContain("custom tools");
      expect(error.message).toContain("'claude'");
      expect(error.message).not.toContain("set drop_params");
      expect(s.claude.calls).toHaveLength(0);
    }
  });
});
