import { describe, expect, test } from "bun:test";
import { finishReason, isMessage, toChatCompletion, toUsage } from "../../src/providers/anthropic/response.ts";
import type { Message, StopReason } from "../../src/providers/anthropic/wire.ts";

const fixture = (name: string) => Bun.file(new URL(`../fixtures/anthropic/${name}`, import.meta.url)).json() as Promise<Message>;

describe("Anthropic Message → ChatCompletion", () => {
  test("thinking, text and two tool calls become reasoning_content, content and tool calls with their ids; redacted thinking is left out", async () => {
    const message = await fixture("message-thinking-and-two-tool-calls.json");
    expect(isMessage(message)).toBe(true);
    const completion: unknown = toChatCompletion(message, 1_760_000_000);
    expect(completion).toEqual({
      id: "msg_01Aq9w938a90dw8q",
      object: "chat.completion",
      created: 1_760_000_000,
      model: "claude-sonnet-4-5-20250929",
      choices: [{
        index: 0,
        logprobs: null,
        finish_reason: "tool_calls",
        message: {
          role: "assistant",
          content: "Checking both cities.",
          refusal: null,
          reasoning_content: "The user wants the weather in two cities; I'll call the tool twice.",
          tool_calls: [
            { id: "toolu_01A09q90qw90lq917835lq9", type: "function", function: { name: "get_weather", arguments: "{\"location\":\"San Francisco, CA\"}" } },
            { id: "toolu_01B18r81rx81mr826724mr8", type: "function", function: { name: "get_weather", arguments: "{\"location\":\"Paris\",\"unit\":\"celsius\"}" } },
          ],
        },
      }],
      usage: { prompt_tokens: 3595, completion_tokens: 503, total_tokens: 4098, prompt_tokens_details: { cached_tokens: 1500, cache_write_tokens: 0 } },
    });
  });

  test("an answer of only tool calls has null content, as OpenAI sends it", () => {
    const message: Message = {
      id: "msg_1", type: "message", role: "assistant", model: "claude-x", stop_reason: "tool_use", stop_sequence: null,
      content: [{ type: "tool_use", id: "toolu_1", name: "f", input: {} }],
      usage: { input_tokens: 1, output_tokens: 1 },
    };
    expect(toChatCompletion(message).choices[0]!.message).toEqual({
      role: "assistant", content: null, refusal: null, tool_calls: [{ id: "toolu_1", type: "function", function: { name: "f", arguments: "{}" } }],
    });
  });

  test.each<[StopReason | null, string]>([
    ["end_turn", "stop"],
    ["stop_sequence", "stop"],
    ["max_tokens", "length"],
    ["tool_use", "tool_calls"],
    ["refusal", "content_filter"],
    ["pause_turn", "stop"],
    ["model_context_window_exceeded", "length"],
    [null, "stop"],
  ])("stop_reason %s is finish_reason %s", (reason, finish) => {
    expect(finishReason(reason)).toBe(finish as ReturnType<typeof finishReason>);
  });

  test("a refusal's explanation is the message's refusal text", () => {
    const message: Message = {
      id: "msg_r", type: "message", role: "assistant", model: "claude-x", stop_reason: "refusal", stop_sequence: null,
      stop_details: { type: "refusal", category: "cyber", explanation: "Blocked under the usage policy." },
      content: [], usage: { input_tokens: 3, output_tokens: 1 },
    };
    const choice = toChatCompletion(message).choices[0]!;
    expect(choice.finish_reason).toBe("content_filter");
    expect(choice.message.refusal).toBe("Blocked under the usage policy.");
    expect(choice.message.content).toBeNull();
  });

  test("usage counts cache reads and writes as prompt tokens, reads also as cached tokens, writes as cache_write_tokens, and thinking tokens as reasoning", () => {
    expect(toUsage({ input_tokens: 10, cache_read_input_tokens: 100, cache_creation_input_tokens: 50, output_tokens: 7, output_tokens_details: { thinking_tokens: 4 } })).toEqual({
      prompt_tokens: 160,
      completion_tokens: 7,
      total_tokens: 167,
      prompt_tokens_details: { cached_tokens: 100, cache_write_tokens: 50 },
      completion_tokens_details: { reasoning_tokens: 4 },
    });
    expect(toUsage({ input_tokens: 10, output_tokens: 2, cache_read_input_tokens: null })).toMatchObject({ prompt_tokens: 10, total_tokens: 12, prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 } });
  });

  test("JSON that is not a message is told apart", () => {
    expect(isMessage({ type: "error", error: { type: "api_error", message: "x" } })).toBe(false);
    expect(isMessage(null)).toBe(false);
  });
});
