// The output items kept for item_reference: bounded by count and bytes, the oldest going first, each for its ttl.
import { expect, test } from "bun:test";
import type { ResponseOutputItem } from "openai/resources/responses/responses";
import { ResponseItems } from "../../src/responses/item-store.ts";

const message = (id: string, text = "hi"): ResponseOutputItem => ({ type: "message", id, status: "completed", role: "assistant", content: [{ type: "output_text", text, annotations: [], logprobs: [] }] });
const call = (id: string): ResponseOutputItem => ({ type: "function_call", id, call_id: `call_${id}`, name: "f", arguments: "{}", status: "completed" });

test("messages, function calls and reasoning are kept by id; other items are not", () => {
  const items = new ResponseItems(() => 0);
  items.keep([{ type: "reasoning", id: "rs_1", summary: [] }, message("msg_1"), call("fc_1"), { type: "web_search_call", id: "ws_1", status: "completed" } as unknown as ResponseOutputItem]);
  expect([items.find("rs_1")?.type, items.find("msg_1")?.type, items.find("fc_1")?.type, items.find("ws_1")]).toEqual(["reasoning", "message", "function_call", undefined]);
});

test("past the count or the bytes the oldest go first; each is gone after its ttl", () => {
  let now = 0;
  const items = new ResponseItems(() => now, { entries: 2, bytes: 10_000, ttlMs: 1_000 });
  items.keep([message("a"), message("b"), message("c")]);
  expect(["a", "b", "c"].map((id) => items.find(id) !== undefined)).toEqual([false, true, true]);
  const small = new ResponseItems(() => now, { entries: 100, bytes: 400, ttlMs: 1_000 });
  small.keep([message("x", "a".repeat(150)), message("y", "b".repeat(150))]);
  expect([small.find("x"), small.find("y")?.id]).toEqual([undefined, "y"]);
  now = 999;
  expect(items.find("c")?.id).toBe("c");
  now = 1_000;
  expect(items.find("c")).toBeUndefined();
});
