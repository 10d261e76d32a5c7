// The usage of a resumed answer, summed over the parts that produced it: cached prompt tokens
// included, so the ledger prices them once at the cached rate, as for an answer in one piece.
import { expect, test } from "bun:test";
import { summedUsage } from "../../src/gateway/resume-seam.ts";

test("cached prompt tokens of every part are summed into prompt_tokens_details", () => {
  const broken = [{ usage: { prompt_tokens: 997, completion_tokens: 3, total_tokens: 1000, prompt_tokens_details: { cached_tokens: 600 } }, contentChunks: 3, text: "abc" }];
  const last = { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500, prompt_tokens_details: { cached_tokens: 400 } };
  expect(summedUsage(broken, last)).toEqual({ prompt_tokens: 1997, completion_tokens: 503, total_tokens: 2500, prompt_tokens_details: { cached_tokens: 1000 } });
});

test("a part that reported no cached tokens adds none; without any, there are no details", () => {
  const broken = [{ usage: undefined, contentChunks: 3, text: "abc", tokens: 3 }];
  const last = { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500, prompt_tokens_details: { cached_tokens: 400 } };
  expect(summedUsage(broken, last)?.prompt_tokens_details).toEqual({ cached_tokens: 400 });
  expect(summedUsage(broken, { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 })).not.toHaveProperty("prompt_tokens_details");
});

test("regression: cache writes of every part are summed too, not dropped at the seam", () => {
  const broken = [{ usage: { prompt_tokens: 997, completion_tokens: 3, total_tokens: 1000, prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 900 } }, contentChunks: 3, text: "abc" }];
  const last = { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500, prompt_tokens_details: { cached_tokens: 900, cache_write_tokens: 3 } };
  expect(summedUsage(broken, last)?.prompt_tokens_details).toEqual({ cached_tokens: 900, cache_write_tokens: 903 });
});
