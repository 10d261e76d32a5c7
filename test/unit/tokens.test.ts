// Usage always known, the pure parts: which encoding a model is counted with, a prompt counted as
// OpenAI counts it (checked against the API's own counts published in OpenAI's cookbook), the
// answer's text read back from chunks and JSON, and the counts the worker makes.
import { describe, expect, test } from "bun:test";
import { countTokens as o200k } from "gpt-tokenizer/encoding/o200k_base";
import type { ChatCompletion } from "openai/resources/chat/completions";
import type { ChatRequest } from "../../src/schema.ts";
import { Delivered, KEEP_BYTES, completionText, streamedText } from "../../src/usage/delivered.ts";
import { encodingFor } from "../../src/usage/encoding.ts";
import { Estimate, completionUsage, streamUsage } from "../../src/usage/estimate.ts";
import { promptTokens } from "../../src/usage/prompt.ts";
import { COOKBOOK_MESSAGES } from "../support/cookbook.ts";
import { countTexts } from "../../src/usage/count-texts.ts";
import { countWith } from "../../src/usage/count-with.ts";
import type { Encoding } from "../../src/usage/encoding.ts";
import { PIECE_CHARS, SAMPLE_CHARS, boundedCount, roughCount } from "../../src/usage/tokenizer.ts";

const AS_TEXT = { disallowedSpecial: new Set<string>() };
const encoder = new TextEncoder();
const request = (messages: unknown[], extra: Record<string, unknown> = {}) => ({ model: "gpt-4o", messages, ...extra }) as ChatRequest;
const prompt = (body: ChatRequest, encoding: Encoding = "o200k_base") => countWith(encoding, (count) => promptTokens(count, body, encoding));


/** §7 of the same notebook: with this tool the API counted 101 (gpt-4o, gpt-4o-mini) and 105 (gpt-4, gpt-3.5-turbo). */
const WEATHER_TOOLS = [{
  type: "function",
  function: {
    name: "get_current_weather",
    description: "Get the current weather in a given location",
    parameters: {
      type: "object",
      properties: {
        location: { type: "string", description: "The city and state, e.g. San Francisco, CA" },
        unit: { type: "string", description: "The unit of temperature to return", enum: ["celsius", "fahrenheit"] },
      },
      required: ["location"],
    },
  },
}];
const WEATHER_MESSAGES = [
  { role: "system", content: "You are a helpful assistant that can answer to questions about the weather." },
  { role: "user", content: "What's the weather like in San Francisco?" },
];

const chunk = (delta: Record<string, unknown>, extra = "") => `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":${JSON.stringify(delta)},"finish_reason":null}]${extra}}\n\n`;

describe("the encoding a model's tokens are counted with", () => {
  test("o200k_base for gpt-4o, gpt-4.1, gpt-5 and the o-series; cl100k_base for gpt-4 and gpt-3.5", () => {
    for (const model of ["gpt-4o", "gpt-4o-mini-2024-07-18", "gpt-4.1-nano", "gpt-4.5-preview", "gpt-5", "o1", "o3-mini", "o4-mini", "chatgpt-4o-latest", "openai/gpt-4o"]) {
      expect([model, encodingFor(model)]).toEqual([model, "o200k_base"]);
    }
    for (const model of ["gpt-4", "gpt-4-0613", "gpt-4-turbo", "gpt-4-32k", "gpt-3.5-turbo", "gpt-35-turbo", "openai/gpt-4-turbo"]) {
      expect([model, encodingFor(model)]).toEqual([model, "cl100k_base"]);
    }
  });

  test("Anthropic's models and unknown ones are estimated with o200k_base", () => {
    for (const model of ["claude-sonnet-4-5", "claude-3-5-haiku-latest", "llama3.1:8b", "model-a", "mistral-large"]) expect(encodingFor(model)).toBe("o200k_base");
  });
});

describe("a prompt counted as OpenAI counts it", () => {
  test("the cookbook's six messages: 124 tokens with o200k_base and 129 with cl100k_base, the API's own counts", async () => {
    expect(await prompt(request(COOKBOOK_MESSAGES))).toBe(124);
    expect(await prompt(request(COOKBOOK_MESSAGES), "cl100k_base")).toBe(129);
  });

  test("with a tool: 101 tokens with o200k_base and 105 with cl100k_base, the API's own counts", async () => {
    expect(await prompt(request(WEATHER_MESSAGES, { tools: WEATHER_TOOLS }))).toBe(101);
    expect(await prompt(request(WEATHER_MESSAGES, { tools: WEATHER_TOOLS }), "cl100k_base")).toBe(105);
  });

  test("one short message is its role and text plus 3 + 3 tokens of framing", async () => {
    expect(await prompt(request([{ role: "user", content: "hello" }]))).toBe(8);
    expect(await prompt(request([{ role: "user", content: "hello world" }]))).toBe(9);
  });

  test("content parts count their text; an image counts as a low-detail one; a tool call its name and arguments", async () => {
    const parts = request([{ role: "user", content: [{ type: "text", text: "hello" }, { type: "image_url", image_url: { url: "https://x/y.png" } }] }]);
    expect(await prompt(parts)).toBe(8 + 85);
    const call = request([{ role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] }]);
    expect(await prompt(call)).toBe(3 + 1 + 3 + 3 + o200k("get_weather") + o200k('{"city":"Paris"}'));
  });

  test("text that looks like a special token is counted as text, never refused", async () => {
    expect(await countTexts("o200k_base", ["say <|endoftext|> twice", ""])).toEqual([o200k("say <|endoftext|> twice", AS_TEXT), 0]);
  });
});

describe("the answer's text, as a tokenizer counts it", () => {
  test("streamed chunks: content, refusal, reasoning (once under either name) and tool calls, in order; the usage chunk and [DONE] add nothing", () => {
    const events = [
      chunk({ role: "assistant", content: "" }),
      chunk({ content: "Hel" }) + chunk({ content: "lo" }),
      chunk({ reasoning_content: "think", reasoning: "think" }),
      chunk({ tool_calls: [{ index: 0, id: "t", type: "function", function: { name: "f", arguments: "" } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] }) + chunk({ tool_calls: [{ index: 0, function: { arguments: "1}" } }] }),
      chunk({ refusal: "no" }),
      'data: {"id":"c","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}\n\ndata: [DONE]\n\n',
    ];
    expect(streamedText(events.map((e) => encoder.encode(e)))).toBe('Hellothinkf{"a":1}no');
  });

  test("a JSON answer: every choice's message", () => {
    const completion = {
      choices: [
        { index: 0, message: { role: "assistant", content: "Bonjour", refusal: null } },
        { index: 1, message: { role: "assistant", content: null, tool_calls: [{ id: "t", type: "function", function: { name: "f", arguments: "{}" } }] } },
      ],
    } as unknown as ChatCompletion;
    expect(completionText(completion)).toBe("Bonjourf{}");
  });

  test("delivered chunks are kept by reference up to the cap and counted exactly; past it the rest is counted by its bytes at the head's tokens per byte", async () => {
    const small = new Delivered();
    const big = new Delivered();
    const piece = chunk({ content: " word" });
    const pieces = Math.ceil((KEEP_BYTES * 2.5) / piece.length);
    for (let i = 0; i < pieces; i++) {
      const bytes = encoder.encode(piece);
      big.add(bytes);
      if (i < 10) small.add(bytes);
    }
    expect(small.text()).toBe(" word".repeat(10));
    expect(await countWith("o200k_base", (count) => small.tokens(count))).toBe(o200k(" word".repeat(10)));
    // Only the head is kept …
    expect(big.text().length).toBeLessThan(" word".repeat(pieces).length / 2);
    // … and the whole is counted within a token or two of its real count.
    expect(Math.abs((await countWith("o200k_base", (count) => big.tokens(count))) - o200k(" word".repeat(pieces)))).toBeLessThanOrEqual(2);
  });
});

describe("estimates", () => {
  test("a stream with a complete report keeps it; one with none, or with its prompt only, is an estimate of the prompt and of what was delivered", async () => {
    const delivered = new Delivered();
    delivered.add(encoder.encode(chunk({ content: "The answer is forty-two." })));
    const body = request([{ role: "user", content: "What is the answer?" }]);
    const reported = { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16 };
    expect(streamUsage({ usage: reported, completionUnknown: false, delivered }, body, "gpt-4o")).toBe(reported);

    const none = streamUsage({ usage: undefined, completionUnknown: false, delivered }, body, "gpt-4o");
    expect(none).toBeInstanceOf(Estimate);
    const promptCount = await prompt(body);
    const completion = o200k("The answer is forty-two.");
    expect(await (none as Estimate).count()).toEqual({ prompt_tokens: promptCount, completion_tokens: completion, total_tokens: promptCount + completion });

    const partial = { prompt_tokens: 30, completion_tokens: 1, total_tokens: 31, prompt_tokens_details: { cached_tokens: 20 } };
    const promptOnly = streamUsage({ usage: partial, completionUnknown: true, delivered }, body, "claude-sonnet-4-5") as Estimate;
    expect(await promptOnly.count()).toEqual({ prompt_tokens: 30, completion_tokens: completion, total_tokens: 30 + completion, prompt_tokens_details: { cached_tokens: 20 } });
  });

  test("a JSON answer without usage is estimated; with usage it is the upstream's", async () => {
    const body = request([{ role: "user", content: "hi" }]);
    const answer = { choices: [{ index: 0, message: { role: "assistant", content: "Hello there!" } }] } as unknown as ChatCompletion;
    const estimate = completionUsage(answer, body, "gpt-4o-mini") as Estimate;
    expect(estimate.now()).toBeUndefined();
    const counted = estimate.count();
    expect(estimate.count()).toBe(counted);
    expect(await counted).toMatchObject({ prompt_tokens: 8, completion_tokens: o200k("Hello there!") });
    expect(estimate.now()).toBe((await counted)!);
    const usage = { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 };
    expect(completionUsage({ ...answer, usage }, body, "gpt-4o-mini")).toBe(usage);
  });

  test("an estimate counted already is at hand at once and counts nothing", async () => {
    const usage = { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 };
    const estimate = Estimate.of(usage);
    expect(estimate.now()).toBe(usage);
    expect(await estimate.count()).toBe(usage);
  });

  test("a counting runs twice, to collect its texts and then with their counts; a text asked twice gets one number", async () => {
    const asked: string[][] = [];
    const same = await countWith("o200k_base", (count) => (asked.push([]), [count("hello world"), count("hello world"), count("")]));
    expect(same).toEqual([2, 2, 0]);
    expect(asked).toHaveLength(2);
  });

  test("the fallback when the tokenizer cannot load is four bytes a token", () => {
    expect(roughCount("12345678")).toBe(2);
    expect(roughCount("é")).toBe(1);
  });
});

describe("boundedCount: the tokenizer never gets a long piece", () => {
  test("a run of one character is counted in pieces of at most PIECE_CHARS, over at most SAMPLE_CHARS, and scaled", () => {
    const pieces: number[] = [];
    const count = boundedCount((text) => (pieces.push(text.length), Math.ceil(text.length / 4)));
    const text = "y".repeat(200_000);
    expect(count(text)).toBe(Math.round(((SAMPLE_CHARS / 4) * text.length) / SAMPLE_CHARS));
    expect(Math.max(...pieces)).toBeLessThanOrEqual(PIECE_CHARS);
    expect(pieces.reduce((a, b) => a + b, 0)).toBe(SAMPLE_CHARS);
  });

  test("text with spaces is cut between words, so the count matches the whole text's", () => {
    const cuts: string[] = [];
    const words = (t: string) => t.split(" ").filter((w) => w !== "").length;
    const count = boundedCount((text) => (cuts.push(text), words(text)));
    const text = "The quick brown fox jumps over the lazy dog. ".repeat(100);
    expect(count(text)).toBe(words(text));
    expect(cuts.join("")).toBe(text);
    let at = 0;
    for (const cut of cuts.slice(0, -1)) expect(text[(at += cut.length)]).toBe(" ");
  });

  test("the real tokenizer counts 128 KiB of one repeated character", async () => {
    const [tokens] = await countTexts("o200k_base", ["y".repeat(131_072)]);
    expect(tokens).toBeGreaterThan(1_000);
  });
});
