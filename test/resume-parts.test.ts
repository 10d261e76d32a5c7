// Stream resume across several parts: a target asked again only with retries left, usage that a
// continuation reports on its finish chunk, and a seam that does not wait on the token count.
import { describe, expect, test } from "bun:test";
import { holdCounts } from "./support/held-count.ts";
import { ANSWER, ask, expectResumed, firstWords, readStream, resumeSetup, summedUsage, within } from "./support/resume.ts";

const RETRY = { retries: 1 };

describe("a target that broke is asked again only with retries left", () => {
  test("retries 1: the target that breaks twice is not asked a third time; the next capable target continues", async () => {
    await using s = resumeSetup({ continuation: { a: "prefix", b: "prefix" }, config: RETRY, max_resumes: 5 });
    s.a.reply(
      { kind: "answer", answer: ANSWER, cutAfterWords: 20 },
      { kind: "answer", answer: ANSWER, style: "prefix", cutAfterWords: 10 },
      { kind: "answer", answer: ANSWER, style: "prefix" },
    );
    s.b.reply({ kind: "answer", answer: ANSWER, style: "prefix" });
    const read = await readStream(await ask(s.gw));
    expectResumed(read, {
      seams: [
        { on: "a/model-a", after: firstWords(20).length },
        { on: "b/model-b", after: firstWords(30).length },
      ],
      models: ["model-a", "model-b"],
    });
    expect([s.a.calls.length, s.b.calls.length]).toEqual([2, 1]);
  });

  test("retries 1 and no other target: the second break on the one target ends the stream with one error event", async () => {
    await using s = resumeSetup({ targets: ["a"], continuation: { a: "prefix" }, config: RETRY, max_resumes: 5 });
    s.a.reply(
      { kind: "answer", answer: ANSWER, cutAfterWords: 20 },
      { kind: "answer", answer: ANSWER, style: "prefix", cutAfterWords: 10 },
      { kind: "answer", answer: ANSWER, style: "prefix" },
    );
    const read = await readStream(await ask(s.gw));
    expect(read.content).toBe(firstWords(30));
    expect(read.errors).toHaveLength(1);
    expect(read.done).toBe(false);
    expect(s.a.calls).toHaveLength(2);
  });
});

describe("when no continuation can go on", () => {
  test("the error event names the break that started it all, not the last one", async () => {
    await using s = resumeSetup({ continuation: { b: "prefix" }, config: RETRY, max_resumes: 1 });
    s.a.reply({ kind: "answer", answer: ANSWER, errorAfterWords: 20 });
    s.b.reply({ kind: "answer", answer: ANSWER, style: "prefix", endAfterWords: 10 });
    const read = await readStream(await ask(s.gw));
    expect(read.errors).toHaveLength(1);
    expect(read.done).toBe(false);
    expect(read.errors[0]!.error.message).toContain("Overloaded");
    expect(read.errors[0]!.error.message).not.toContain("finish_reason");
  });
});

describe("usage a continuation reports on its finish chunk (no usage chunk of its own, as Mistral sends it)", () => {
  test("the finish chunk carries the usage summed over every part", async () => {
    await using s = resumeSetup({ continuation: { a: "prefix" }, config: RETRY });
    s.a.reply({ kind: "answer", answer: ANSWER, cutAfterWords: 40, usageOnFinish: true }, { kind: "answer", answer: ANSWER, style: "prefix", usageOnFinish: true });
    const read = await readStream(await ask(s.gw));
    expect([read.content, read.done, read.errors]).toEqual([ANSWER, true, []]);
    const withUsage = read.chunks.filter((c) => c.usage);
    expect(withUsage).toHaveLength(1);
    expect(withUsage[0]!.choices[0]!.finish_reason).toBe("stop");
    expect(withUsage[0]!.usage).toMatchObject(summedUsage(40));
  });

  test("the openai SDK's stream helper reports that usage", async () => {
    await using s = resumeSetup({ continuation: { a: "prefix" }, config: RETRY });
    s.a.reply({ kind: "answer", answer: ANSWER, cutAfterWords: 40, usageOnFinish: true }, { kind: "answer", answer: ANSWER, style: "prefix", usageOnFinish: true });
    const stream = s.gw.client().chat.completions.stream({ model: "smart", messages: [{ role: "user", content: "Please explain stream resume in one short paragraph." }], stream_options: { include_usage: true } });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]!.message.content).toBe(ANSWER);
    expect(final.usage).toMatchObject(summedUsage(40));
  });

  test("without usage asked for, no chunk carries usage", async () => {
    await using s = resumeSetup({ continuation: { a: "prefix" }, config: RETRY });
    s.a.reply({ kind: "answer", answer: ANSWER, cutAfterWords: 40, usageOnFinish: true }, { kind: "answer", answer: ANSWER, style: "prefix", usageOnFinish: true });
    const read = await readStream(await ask(s.gw, { stream_options: undefined }));
    expect([read.content, read.done]).toEqual([ANSWER, true]);
    expect(read.text).not.toContain('"usage"');
  });
});

describe("the seam does not wait on the broken part's token count", () => {
  test("the continuation's text reaches the client while the count is held; the usage chunk and [DONE] come once it is in", async () => {
    // The count of the broken part, held until the test lets it through.
    using counts = holdCounts();
    await using s = resumeSetup({ continuation: { a: "prefix" }, config: RETRY });
    s.a.reply({ kind: "answer", answer: ANSWER, cutAfterWords: 40 }, { kind: "answer", answer: ANSWER, style: "prefix" });
    const res = await ask(s.gw);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const contentOf = (t: string) =>
      [...t.matchAll(/^data: (\{.*\})$/gm)].map((m) => (JSON.parse(m[1]!) as { choices: Array<{ delta?: { content?: string } }> }).choices[0]?.delta?.content ?? "").join("");
    const whole = (async () => {
      while (contentOf(text) !== ANSWER) {
        const { done, value } = await reader.read();
        if (done) throw new Error("the stream ended before the whole answer");
        text += decoder.decode(value, { stream: true });
      }
    })();
    await within(whole, 3_000, "the whole answer, with the count held");
    expect(text).not.toContain('"usage":{');
    expect(text).not.toContain("[DONE]");
    counts.release();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    const usage = [...text.matchAll(/^data: (\{.*"usage":\{.*\})$/gm)].map((m) => JSON.parse(m[1]!) as { choices: unknown[]; usage: unknown });
    expect(usage).toHaveLength(1);
    expect(usage[0]!.choices).toEqual([]);
    expect(usage[0]!.usage).toMatchObject(summedUsage(40));
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
  });
});
