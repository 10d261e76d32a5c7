// The built-in mock model (CHATGATE_MOCK=1), through the official openai SDK: deterministic
// answers from the prompt, n / max_tokens / stop honoured, exact usage, OpenAI's chunk shapes.
// And what a gateway with neither provider nor mock answers.
import { describe, expect, test } from "bun:test";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { post, startGateway } from "./support/gateway.ts";
import { fakeOpenAI } from "./support/upstream.ts";
import { specErrors } from "./chat-spec-check.ts";
import type { ErrorBody } from "./support/openai-wire.ts";

const PROMPT = "the quick brown fox jumps over the lazy dog";
const PROMPT_WORDS = PROMPT.split(" ");
const user = (content: string) => [{ role: "user" as const, content }];
const wordCount = (text: string) => text.split(/\s+/).filter(Boolean).length;

async function chunksOf(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

/** Content per choice index, joined from the deltas. */
function contentByChoice(chunks: ChatCompletionChunk[]): Map<number, string> {
  const byIndex = new Map<number, string>();
  for (const chunk of chunks) for (const choice of chunk.choices) byIndex.set(choice.index, (byIndex.get(choice.index) ?? "") + (choice.delta.content ?? ""));
  return byIndex;
}

describe("the built-in mock model, non-streamed", () => {
  test("it echoes the last user message as a spec-conformant chat.completion with exact usage", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const completion = await gw.client().chat.completions.create({
      model: "mock",
      messages: [{ role: "system", content: "be kind" }, { role: "user", content: "earlier question" }, { role: "assistant", content: "earlier answer" }, ...user(PROMPT)],
    });
    expect(await specErrors(completion, "CreateChatCompletionResponse")).toEqual([]);
    expect(completion).toMatchObject({ object: "chat.completion", model: "mock", choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant" } }] });
    const content = completion.choices[0]!.message.content!;
    expect(content.trim()).toBe(PROMPT);
    const promptWords = 2 + 2 + 2 + PROMPT_WORDS.length;
    expect(completion.usage).toEqual({ prompt_tokens: promptWords, completion_tokens: PROMPT_WORDS.length, total_tokens: promptWords + PROMPT_WORDS.length });
  });

  test("the same request always gets the same answer", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const ask = () => gw.client().chat.completions.create({ model: "mock", messages: user("same words twice"), n: 2, max_tokens: 2 });
    const [a, b] = [await ask(), await ask()];
    expect(b.choices).toEqual(a.choices);
    expect(b.usage).toEqual(a.usage);
  });

  test("n asks for that many choices, indexed from 0, and usage counts every choice's words", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const completion = await gw.client().chat.completions.create({ model: "mock", messages: user("one two three"), n: 3 });
    expect(completion.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    for (const choice of completion.choices) expect(choice.message.content?.trim()).toBe("one two three");
    expect(completion.usage).toMatchObject({ completion_tokens: 9, total_tokens: 3 + 9 });
  });

  test("max_tokens cuts the answer to that many words with finish_reason length", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const completion = await gw.client().chat.completions.create({ model: "mock", messages: user(PROMPT), max_tokens: 3 });
    expect(completion.choices[0]).toMatchObject({ finish_reason: "length" });
    expect(completion.choices[0]!.message.content!.trim()).toBe("the quick brown");
    expect(completion.usage?.completion_tokens).toBe(3);
  });

  test("its answer is bounded like a model's output: a long prompt is echoed up to 4,096 words per choice, then finish_reason length", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const long = "word ".repeat(100_000);
    const completion = await gw.client().chat.completions.create({ model: "mock", messages: user(long), n: 8 });
    expect(completion.choices).toHaveLength(8);
    for (const choice of completion.choices) {
      expect(choice.finish_reason).toBe("length");
      expect(wordCount(choice.message.content!)).toBe(4096);
    }
    expect(completion.usage?.completion_tokens).toBe(8 * 4096);
    const capped = await gw.client().chat.completions.create({ model: "mock", messages: user(long), max_tokens: 10_000 });
    expect(wordCount(capped.choices[0]!.message.content!)).toBe(4096);
  });

  test("max_completion_tokens cuts the answer like max_tokens", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const completion = await gw.client().chat.completions.create({ model: "mock", messages: user(PROMPT), max_completion_tokens: 2 });
    expect(completion.choices[0]).toMatchObject({ finish_reason: "length" });
    expect(wordCount(completion.choices[0]!.message.content!)).toBe(2);
  });

  test("a max_tokens above the answer's length changes nothing", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const completion = await gw.client().chat.completions.create({ model: "mock", messages: user("short answer"), max_tokens: 2 });
    expect(completion.choices[0]).toMatchObject({ finish_reason: "stop" });
    expect(completion.choices[0]!.message.content!.trim()).toBe("short answer");
  });

  test("stop ends the answer before the first stop sequence, which is not included", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const client = gw.client();
    const single = await client.chat.completions.create({ model: "mock", messages: user(PROMPT), stop: "jumps" });
    expect(single.choices[0]!.message.content!.trim()).toBe("the quick brown fox");
    expect(single.choices[0]!.finish_reason).toBe("stop");
    expect(single.usage?.completion_tokens).toBe(4);
    const list = await client.chat.completions.create({ model: "mock", messages: user(PROMPT), stop: ["lazy", "brown"] });
    expect(list.choices[0]!.message.content!.trim()).toBe("the quick");
    // The limit reached right before the stop sequence: the sequence is never generated, the limit ends it.
    const limited = await client.chat.completions.create({ model: "mock", messages: user(PROMPT), stop: "brown", max_completion_tokens: 2 });
    expect([limited.choices[0]!.message.content!.trim(), limited.choices[0]!.finish_reason]).toEqual(["the quick", "length"]);
  });

  test("logprobs: true gives each token's log probability (0: the mock is certain), with top_logprobs when asked, streamed or not", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const client = gw.client();
    const json = await client.chat.completions.create({ model: "mock", messages: user("héllo world"), logprobs: true, top_logprobs: 1 });
    const bytes = (text: string) => Array.from(new TextEncoder().encode(text));
    expect(json.choices[0]!.logprobs).toEqual({
      content: [
        { token: "héllo ", logprob: 0, bytes: bytes("héllo "), top_logprobs: [{ token: "héllo ", logprob: 0, bytes: bytes("héllo ") }] },
        { token: "world", logprob: 0, bytes: bytes("world"), top_logprobs: [{ token: "world", logprob: 0, bytes: bytes("world") }] },
      ],
      refusal: null,
    });
    const chunks = await chunksOf(await client.chat.completions.create({ model: "mock", messages: user("héllo world"), logprobs: true, stream: true }));
    expect(chunks.flatMap((c) => c.choices[0]?.logprobs?.content ?? []).map((t) => [t.token, t.logprob, t.top_logprobs])).toEqual([["héllo ", 0, []], ["world", 0, []]]);
    expect((await client.chat.completions.create({ model: "mock", messages: user("hi") })).choices[0]!.logprobs).toBeNull();
  });

  test("alone, the mock answers any model name under that name", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const completion = await gw.client().chat.completions.create({ model: "gpt-4o-mini", messages: user("hello") });
    expect(completion.model).toBe("gpt-4o-mini");
    expect(completion.choices[0]!.message.content!.trim()).toBe("hello");
  });

  test("beside an upstream, model mock goes to the mock and other names to the upstream", async () => {
    await using up = fakeOpenAI();
    await using gw = startGateway({ CHATGATE_MOCK: "1", OPENAI_BASE_URL: up.url, OPENAI_API_KEY: "sk-upstream-secret" });
    const fromMock = await gw.client().chat.completions.create({ model: "mock", messages: user("echo me") });
    expect(fromMock.choices[0]!.message.content!.trim()).toBe("echo me");
    expect(up.calls).toHaveLength(0);
    const fromUpstream = await gw.client().chat.completions.create({ model: "gpt-4o", messages: user("echo me") });
    expect(fromUpstream.choices[0]!.message.content).toBe("Hello from upstream");
    expect(up.calls).toHaveLength(1);
  });

  test("POST /chat on the mock answers {content, tokensUsed} with the mock's total tokens", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const response = await post(`${gw.url}/chat`, { message: "two words" });
    expect(await response.json()).toEqual({ content: expect.stringMatching(/^two words\s*$/), tokensUsed: 4 });
  });
});

describe("the built-in mock model, streamed", () => {
  test("it streams word by word in OpenAI's chunk shapes: role first, finish_reason last, one id", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const chunks = await chunksOf(await gw.client().chat.completions.create({ model: "mock", messages: user(PROMPT), stream: true }));
    for (const chunk of chunks) {
      expect(await specErrors(chunk, "CreateChatCompletionStreamResponse")).toEqual([]);
      expect(chunk).toMatchObject({ object: "chat.completion.chunk", model: "mock" });
      expect("usage" in chunk).toBe(false);
    }
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks[0]!.choices[0]!.delta).toMatchObject({ role: "assistant" });
    expect(chunks.at(-1)!.choices[0]).toMatchObject({ delta: {}, finish_reason: "stop" });
    expect(chunks.slice(0, -1).every((c) => c.choices[0]!.finish_reason === null)).toBe(true);
    const words = chunks.map((c) => c.choices[0]!.delta.content).filter((c): c is string => Boolean(c));
    expect(words.map((w) => w.trim())).toEqual(PROMPT_WORDS);
    expect(contentByChoice(chunks).get(0)!.trim()).toBe(PROMPT);
  });

  test("with include_usage every chunk has usage null and a last choices-less chunk has the exact totals", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const stream = await gw.client().chat.completions.create({ model: "mock", messages: user(PROMPT), stream: true, stream_options: { include_usage: true } });
    const chunks = await chunksOf(stream);
    for (const chunk of chunks) expect(await specErrors(chunk, "CreateChatCompletionStreamResponse")).toEqual([]);
    expect(chunks.slice(0, -1).every((c) => c.usage === null && c.choices.length === 1)).toBe(true);
    const produced = chunks.filter((c) => Boolean(c.choices[0]?.delta.content)).length;
    expect(produced).toBe(PROMPT_WORDS.length);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: PROMPT_WORDS.length, completion_tokens: produced, total_tokens: PROMPT_WORDS.length + produced } });
  });

  test("a streamed answer honours n, max_tokens and stop like the JSON one", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const request = { model: "mock", messages: user(PROMPT), n: 2, max_tokens: 5, stop: "fox" };
    const json = await gw.client().chat.completions.create(request);
    const chunks = await chunksOf(await gw.client().chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } }));
    const contents = contentByChoice(chunks);
    expect([...contents.keys()].sort()).toEqual([0, 1]);
    for (const choice of json.choices) expect(contents.get(choice.index)).toBe(choice.message.content!);
    expect(contents.get(0)!.trim()).toBe("the quick brown");
    expect(chunks.at(-1)!.usage).toEqual(json.usage!);
  });

  test("a streamed answer cut by max_tokens finishes with length", async () => {
    await using gw = startGateway({ CHATGATE_MOCK: "1" });
    const chunks = await chunksOf(await gw.client().chat.completions.create({ model: "mock", messages: user(PROMPT), max_tokens: 2, stream: true }));
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("length");
    expect(contentByChoice(chunks).get(0)!.trim()).toBe("the quick");
  });
});

describe("no provider and no mock", () => {
  test("completions and /chat get 503 with a message saying how to configure a provider, /health stays ok", async () => {
    await using gw = startGateway({});
    for (const [url, body] of [
      [`${gw.baseURL}/chat/completions`, { model: "gpt-4o", messages: user("hi") }],
      [`${gw.baseURL}/chat/completions`, { model: "gpt-4o", messages: user("hi"), stream: true }],
      [`${gw.url}/chat`, { message: "hi" }],
    ] as const) {
      const response = await post(url, body);
      expect(response.status).toBe(503);
      expect(response.headers.get("content-type")).toStartWith("application/json");
      const { error } = (await response.json()) as ErrorBody;
      expect(error).toEqual({ message: expect.any(String), type: "server_error", param: null, code: "no_provider_configured" });
      expect(error.message).toContain("OPENAI_API_KEY");
      expect(error.message).toContain("CHATGATE_MOCK=1");
    }
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  });
});
