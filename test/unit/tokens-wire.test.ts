// Usage always known, on the wire: how chatgate asks an OpenAI-compatible upstream for usage in
// the client's own bytes, and how it takes that usage back out of the stream byte for byte when
// the client did not ask; and resume's sums counted with the tokenizer.
import { describe, expect, test } from "bun:test";
import { countTokens as o200k } from "gpt-tokenizer/encoding/o200k_base";
import { badGateway } from "../../src/errors.ts";
import { summedUsage } from "../../src/gateway/resume-seam.ts";
import { bodyFor } from "../../src/providers/openai.ts";
import { StreamSeen, type ChatCall } from "../../src/providers/provider.ts";
import { passThroughEvents } from "../../src/providers/sse-passthrough.ts";
import type { ChatRequest } from "../../src/schema.ts";
import { nullUsageMarks, withoutNullUsage, withoutUsageMember } from "../../src/usage/unasked-usage.ts";

const FIXTURES = `${import.meta.dir}/../fixtures/openai`;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function call(raw: string | Uint8Array): ChatCall {
  const text = typeof raw === "string" ? raw : decoder.decode(raw);
  return { body: JSON.parse(text) as ChatRequest, raw };
}

const sent = (body: string | Uint8Array): string => (typeof body === "string" ? body : decoder.decode(body));

describe("asking the upstream for usage (bodyFor)", () => {
  test("a client that sent no stream_options has its own bytes sent, the field spliced in after the opening brace", () => {
    const raw = ' \n{ "model" : "gpt-4o", "messages":[{"role":"user","content":"h\\u00e9"}], "stream": true }';
    const out = bodyFor(call(encoder.encode(raw)), "gpt-4o", true);
    expect(out).toBeInstanceOf(Uint8Array);
    expect(sent(out)).toBe(' \n{"stream_options":{"include_usage":true}, "model" : "gpt-4o", "messages":[{"role":"user","content":"h\\u00e9"}], "stream": true }');
    expect(JSON.parse(sent(out)).stream_options).toEqual({ include_usage: true });
    // A raw body kept as text (a request built by chatgate itself) gets the same.
    expect(bodyFor(call(raw), "gpt-4o", true)).toBe(sent(out));
  });

  test("a client that asked for usage, and any request that is not asked to, is sent as it came", () => {
    const asked = encoder.encode('{"model":"gpt-4o","messages":[],"stream":true,"stream_options":{"include_usage":true}}');
    expect(bodyFor(call(asked), "gpt-4o", true)).toBe(asked);
    const plain = encoder.encode('{"model":"gpt-4o","messages":[]}');
    expect(bodyFor(call(plain), "gpt-4o", false)).toBe(plain);
  });

  test("stream_options without include_usage (false, {}, null, or other fields) is serialised again with include_usage true, other fields kept", () => {
    for (const options of [{ include_usage: false }, {}, null, { continuous_usage_stats: false }]) {
      const raw = JSON.stringify({ model: "gpt-4o", messages: [], stream: true, stream_options: options });
      const body = JSON.parse(sent(bodyFor(call(raw), "gpt-4o", true)));
      expect(body.stream_options).toEqual({ ...options, include_usage: true });
      expect(body.model).toBe("gpt-4o");
    }
  });

  test("another model than the client's: serialised once, with the model replaced and usage asked for", () => {
    const raw = '{"model":"smart","messages":[],"stream":true}';
    expect(JSON.parse(sent(bodyFor(call(raw), "gpt-4o-mini", true)))).toEqual({ model: "gpt-4o-mini", messages: [], stream: true, stream_options: { include_usage: true } });
  });
});

describe("taking the usage the client did not ask for out of the stream", () => {
  test('every ,"usage":null member is cut, and nothing else; a run without one is returned as it is', () => {
    const run = encoder.encode('data: {"id":"a","choices":[{"delta":{"content":",\\"usage\\":null"}}],"usage":null,"obfuscation":"x"}\n\ndata: {"id":"a","choices":[],"usage":null}\n\n');
    const marks = nullUsageMarks(encoder.encode('data: {"id":"a"'));
    expect(decoder.decode(withoutNullUsage(run, marks))).toBe('data: {"id":"a","choices":[{"delta":{"content":",\\"usage\\":null"}}],"obfuscation":"x"}\n\ndata: {"id":"a","choices":[]}\n\n');
    const clean = encoder.encode('data: {"id":"a","choices":[]}\n\n');
    expect(withoutNullUsage(clean, marks)).toBe(clean);
    // `"usage":nullish` is not the member.
    const odd = encoder.encode('data: {"id":"a","usage":nullx}\n\n');
    expect(withoutNullUsage(odd, marks)).toBe(odd);
  });

  test("a spaced stream (a Python server) is searched in its own style", () => {
    const first = encoder.encode('data: {"id": "a", "choices": [], "usage": null}\n\n');
    expect(decoder.decode(withoutNullUsage(first, nullUsageMarks(first)))).toBe('data: {"id": "a", "choices": []}\n\n');
  });

  test("a usage member on a chunk with choices is cut out with its comma, nested objects and strings left alone", () => {
    expect(withoutUsageMember('{"id":"a","choices":[{"delta":{"content":"}{\\"usage\\":1"}}],"usage":{"prompt_tokens":1,"details":{"a":[1,{"b":"}"}]}},"z":1}')).toBe(
      '{"id":"a","choices":[{"delta":{"content":"}{\\"usage\\":1"}}],"z":1}',
    );
    expect(withoutUsageMember('{"usage": {"prompt_tokens": 1}, "id": "a"}')).toBe('{"id": "a"}');
    expect(withoutUsageMember('{"id": "a", "x": {"usage": {"n": 1}}}')).toBe('{"id": "a", "x": {"usage": {"n": 1}}}');
    expect(withoutUsageMember("[1,2]")).toBe("[1,2]");
  });

  for (const splitBytes of [1, 13, 4096]) {
    test(`OpenAI's captured stream with usage, split every ${splitBytes} bytes, reaches a client that did not ask exactly as OpenAI would send it: no usage anywhere, every other byte the same`, async () => {
      const fixture = await Bun.file(`${FIXTURES}/text-unicode-include-usage.sse`).text();
      const bytes = encoder.encode(fixture);
      let at = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (at >= bytes.length) return controller.close();
          controller.enqueue(bytes.slice(at, (at += splitBytes)));
        },
      });
      const seen = new StreamSeen();
      const idle = { touch() {}, suspend() {}, resume() {}, clear() {} };
      const fail = (detail: string) => badGateway(detail);
      let out = "";
      const events = passThroughEvents(body, seen, { idle, classify: () => fail("read failed"), cut: fail, tooLarge: fail, failedEarly: fail, choices: 1, dropUsageChunks: true });
      for await (const piece of events) out += decoder.decode(piece);
      const usageChunk = fixture.slice(fixture.lastIndexOf("data: {", fixture.indexOf('"choices":[],"usage":{')), fixture.indexOf("data: [DONE]"));
      expect(out).toBe(fixture.replace(usageChunk, "").replaceAll(',"usage":null', ""));
      expect(out).not.toContain('"usage"');
      expect(seen.usage).toMatchObject({ prompt_tokens: 19, completion_tokens: 13, total_tokens: 32 });
      const chunks = fixture.split("\n\n").filter((e) => e.startsWith("data: {")).map((e) => JSON.parse(e.slice(6)) as { choices: { delta: { content?: string } }[] });
      expect(seen.delivered.text()).toBe(chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""));
    });
  }
});

describe("resume's sums, with the tokenizer", () => {
  test("a broken part's completion is the tokenizer's count of its text; its prompt the next prompt less that", () => {
    const text = "Stream resume lets a gateway finish an answer.";
    const last = { prompt_tokens: 50, completion_tokens: 20, total_tokens: 70 };
    const tokens = o200k(text);
    expect(summedUsage([{ usage: undefined, contentChunks: 8, text, tokens }], last)).toEqual({
      prompt_tokens: 50 + (50 - tokens), completion_tokens: 20 + tokens, total_tokens: 50 + (50 - tokens) + 20 + tokens,
    });
    // Not counted: its chunks, about a token each.
    expect(summedUsage([{ usage: undefined, contentChunks: 8, text }], last)?.completion_tokens).toBe(28);
    // A part that reported its prompt only (Anthropic cut before message_delta) keeps that prompt.
    const promptOnly = { prompt_tokens: 40, completion_tokens: 1, total_tokens: 41 };
    expect(summedUsage([{ usage: promptOnly, promptOnly: true, contentChunks: 3, text, tokens }], last)).toMatchObject({ prompt_tokens: 90, completion_tokens: 20 + tokens });
  });
});
