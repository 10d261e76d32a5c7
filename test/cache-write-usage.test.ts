// Prompt tokens written to the provider's cache, through every usage translation: Anthropic's
// `cache_creation_input_tokens` as OpenAI's `prompt_tokens_details.cache_write_tokens` (chat
// completions, JSON and the stream's usage chunk), the Responses API's
// `input_tokens_details.cache_write_tokens`, and back to Anthropic's from an OpenAI-compatible
// upstream on /v1/messages. Anthropic prices cache writes apart from input, so a client that
// lost them could not reconcile its bill.
import { describe, expect, test } from "bun:test";
import { post } from "./support/gateway.ts";
import { GPT, ON_ANTHROPIC, ON_OPENAI, anthropicClient, chunkStream, completionWith, eventsOf, startTargets } from "./support/messages.ts";

const SSE = "text/event-stream";
const HI = [{ role: "user" as const, content: "hello there friend" }];
/** Anthropic's counts of a turn that read 1024 cached tokens and wrote 188 more to the cache. */
const ANTHROPIC_USAGE = { input_tokens: 21, cache_read_input_tokens: 1024, cache_creation_input_tokens: 188, output_tokens: 4 };
/** The same turn as OpenAI counts it: every prompt token in prompt_tokens, reads and writes named apart. */
const CHAT_USAGE = { prompt_tokens: 1233, completion_tokens: 4, total_tokens: 1237, prompt_tokens_details: { cached_tokens: 1024, cache_write_tokens: 188 } };

describe("an Anthropic target's cache writes", () => {
  test("regression: chat completions report cache_creation_input_tokens as prompt_tokens_details.cache_write_tokens, JSON and the stream's usage chunk", async () => {
    await using t = startTargets();
    const client = t.gw.client();
    t.claude.reply({ kind: "message", usage: ANTHROPIC_USAGE });
    const completion = await client.chat.completions.create({ model: ON_ANTHROPIC, messages: HI });
    expect(completion.usage).toEqual(CHAT_USAGE);

    t.claude.reply({ kind: "stream", usage: ANTHROPIC_USAGE });
    const stream = await client.chat.completions.create({ model: ON_ANTHROPIC, messages: HI, stream: true, stream_options: { include_usage: true } });
    const usages = [];
    for await (const chunk of stream) if (chunk.usage) usages.push(chunk.usage);
    expect(usages).toEqual([CHAT_USAGE]);
  });

  test("regression: /v1/responses reports them as input_tokens_details.cache_write_tokens, not a hard-coded 0, JSON and stream", async () => {
    await using t = startTargets();
    const client = t.gw.client();
    const expected = { input_tokens: 1233, input_tokens_details: { cached_tokens: 1024, cache_write_tokens: 188 }, output_tokens: 4, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 1237 };
    t.claude.reply({ kind: "message", usage: ANTHROPIC_USAGE });
    expect((await client.responses.create({ model: ON_ANTHROPIC, input: "hello" })).usage).toEqual(expected);

    t.claude.reply({ kind: "stream", usage: ANTHROPIC_USAGE });
    let completed: unknown;
    for await (const event of await client.responses.create({ model: ON_ANTHROPIC, input: "hello", stream: true })) {
      if (event.type === "response.completed") completed = event.response.usage;
    }
    expect(completed).toEqual(expected);
  });
});

describe("an OpenAI-compatible upstream's cache writes on /v1/messages", () => {
  const usage = { prompt_tokens: 1233, completion_tokens: 4, total_tokens: 1237, prompt_tokens_details: { cached_tokens: 1024, cache_write_tokens: 188 } };

  test("regression: prompt_tokens_details.cache_write_tokens is cache_creation_input_tokens, and input_tokens leaves out reads and writes, JSON and stream", async () => {
    await using t = startTargets();
    t.oa.reply({ kind: "raw", status: 200, body: completionWith(GPT, { content: "Hi." }, "stop", usage) });
    const message = await anthropicClient(t.gw.url).messages.create({ model: ON_OPENAI, max_tokens: 100, messages: HI });
    expect(message.usage).toMatchObject(ANTHROPIC_USAGE);

    t.oa.reply({ kind: "raw", status: 200, contentType: SSE, body: chunkStream(GPT, [{ content: "Hi." }], "stop", usage) });
    const res = await post(`${t.gw.url}/v1/messages`, { model: ON_OPENAI, max_tokens: 100, messages: HI, stream: true });
    const delta = eventsOf(await res.text()).find(([name]) => name === "message_delta")![1];
    expect(delta.usage).toEqual(ANTHROPIC_USAGE);
  });

  test("an upstream that says nothing of cache writes still gets 0 and its whole uncached prompt as input", async () => {
    await using t = startTargets();
    const plain = { prompt_tokens: 50, completion_tokens: 9, total_tokens: 59, prompt_tokens_details: { cached_tokens: 20 } };
    t.oa.reply({ kind: "raw", status: 200, body: completionWith(GPT, { content: "Hi." }, "stop", plain) });
    const message = await anthropicClient(t.gw.url).messages.create({ model: ON_OPENAI, max_tokens: 100, messages: HI });
    expect(message.usage).toMatchObject({ input_tokens: 30, cache_creation_input_tokens: 0, cache_read_input_tokens: 20, output_tokens: 9 });
  });
});
