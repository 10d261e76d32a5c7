import { expect, test } from "bun:test";
import { badGateway } from "../../src/errors.ts";
import { StreamTranslator } from "../../src/providers/anthropic/stream-translator.ts";

const START = JSON.stringify({ type: "message_start", message: { id: "msg_1", type: "message", role: "assistant", model: "claude-x", content: [], stop_reason: null, usage: { input_tokens: 1, output_tokens: 0 } } });
const delta = (text: string) => JSON.stringify({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text } });

function translate(events: string[]) {
  const t = new StreamTranslator("p", false, () => badGateway("x"));
  t.event(START);
  t.out = "";
  for (const e of events) t.event(e);
  return t;
}

test("text deltas spliced without parsing come out exactly as parsing and serialising would give them", () => {
  const texts = ["Hello", ' "quoted" ', "back\\slash\\", "new\nline\ttab", "émoji 🎉", "\u0000\u001f", "</script>"];
  const t = translate(texts.map(delta));
  const chunks = t.out.trim().split("\n\n").map((e) => JSON.parse(e.slice("data: ".length)));
  expect(chunks.map((c) => c.choices[0].delta.content)).toEqual(texts);
  expect(t.committed).toBe(true);
  for (const line of t.out.split("\n")) expect(line === "" || line.startsWith("data: ")).toBe(true);
});

test("an empty text delta sends nothing; a delta whose text is not one whole JSON string goes the parsed way", () => {
  expect(translate([delta("")]).out).toBe("");
  const forged = '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a","injected":true}}';
  const t = translate([forged]);
  const chunk = JSON.parse(t.out.trim().slice("data: ".length));
  expect(chunk.choices[0].delta).toEqual({ content: "a" });
});
