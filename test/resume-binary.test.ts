// Stream resume (issue 10) against the compiled binary, as a user runs it: a config file with
// `resume: true`, fake upstreams in this process that cut a stream after 40 of 60 words and then
// continue the prefill, and real clients (the openai SDK's stream helper, the Vercel AI SDK) that
// must assemble exactly the known answer.
import { createOpenAI } from "@ai-sdk/openai";
import { streamText } from "ai";
import { beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { compiledBinary, spawnBinary } from "./support/binary.ts";
import { openaiAt, routedEnv, type ConfigDoc } from "./support/config-file.ts";
import type { GatewayProcess } from "./support/process.ts";
import { ANSWER, QUESTION, SMART, expectContinuation, expectResumed, firstWords, readStream, summedUsage, type ResumeDoc } from "./support/resume.ts";
import { fakeOpenAI, type ContinuationStyle, type FakeOpenAI } from "./support/upstream.ts";

// Built once per source state, shared with the other binary tests; the build outlasts a test's timeout.
beforeAll(() => compiledBinary(), 120_000);

/** The binary on a route `smart` → a/model-a (then b/model-b), resume on, one retry per target. */
function binaryOn(a: FakeOpenAI, b: FakeOpenAI, style: ContinuationStyle): Promise<GatewayProcess> {
  const doc: ResumeDoc = {
    providers: [{ ...openaiAt("a", a), continuation: style }, { ...openaiAt("b", b), continuation: style }],
    models: { [SMART]: { resume: true, targets: [{ provider: "a", model: "model-a" }, { provider: "b", model: "model-b" }] } },
    retries: 1,
  };
  return spawnBinary({ ...routedEnv(doc as ConfigDoc), CHATGATE_RATE_LIMIT_MAX: "0" });
}

describe("the compiled binary resumes a broken stream", () => {
  test("the openai SDK's stream helper: a cut after 40 of 60 words on the same target assembles the known answer", async () => {
    await using a = fakeOpenAI();
    await using b = fakeOpenAI();
    await using gw = await binaryOn(a, b, "prefill");
    a.reply({ kind: "answer", answer: ANSWER, style: "prefill", cutAfterWords: 40 }, { kind: "answer", answer: ANSWER, style: "prefill" });
    const client = new OpenAI({ apiKey: "unused", baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: 10_000 });
    const stream = client.chat.completions.stream({ model: SMART, messages: [{ role: "user", content: QUESTION[0]!.content }], stream_options: { include_usage: true } });
    const deltas: string[] = [];
    stream.on("content", (delta) => deltas.push(delta));
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]!.message.content).toBe(ANSWER);
    expect(await stream.finalContent()).toBe(ANSWER);
    expect(deltas.join("")).toBe(ANSWER);
    expect(final.choices[0]!.finish_reason).toBe("stop");
    expect(final.usage).toMatchObject(summedUsage(40));
    expect([a.calls.length, b.calls.length]).toEqual([2, 0]);
    expectContinuation(a.calls[1]!, "prefill", firstWords(40), "model-a");
  });

  test("the bytes: one id, one role chunk, one seam comment, summed usage, [DONE] (prefix style)", async () => {
    await using a = fakeOpenAI();
    await using b = fakeOpenAI();
    await using gw = await binaryOn(a, b, "prefix");
    a.reply({ kind: "answer", answer: ANSWER, style: "prefix", cutAfterWords: 40 }, { kind: "answer", answer: ANSWER, style: "prefix" });
    const body = JSON.stringify({ model: SMART, messages: QUESTION, stream: true, stream_options: { include_usage: true } });
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(res.headers.get("x-chatgate-attempts")).toBe("1");
    const read = await readStream(res);
    expectResumed(read, { seams: [{ on: "a/model-a", after: firstWords(40).length }], models: ["model-a", "model-a"], usage: summedUsage(40) });
  });

  test("the Vercel AI SDK's streamText: the text is the known answer and the usage summed", async () => {
    await using a = fakeOpenAI();
    await using b = fakeOpenAI();
    await using gw = await binaryOn(a, b, "vllm");
    // a cannot continue twice: its continuation is refused, so b continues in vLLM's style.
    a.reply({ kind: "answer", answer: ANSWER, cutAfterWords: 40 }, { kind: "answer", answer: ANSWER, rejectPrefill: true });
    b.reply({ kind: "answer", answer: ANSWER, style: "vllm" });
    const model = createOpenAI({ baseURL: `${gw.url}/v1`, apiKey: "unused" }).chat(SMART);
    const result = streamText({ model, prompt: QUESTION[0]!.content, maxRetries: 0 });
    expect(await result.text).toBe(ANSWER);
    expect(await result.finishReason).toBe("stop");
    const usage = await result.usage;
    const summed = summedUsage(40);
    expect([usage.inputTokens, usage.outputTokens]).toEqual([summed.prompt_tokens, summed.completion_tokens]);
    expect([a.calls.length, b.calls.length]).toEqual([2, 1]);
    expectContinuation(b.calls[0]!, "vllm", firstWords(40), "model-b");
  });
});
