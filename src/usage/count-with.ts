import { countTexts } from "./count-texts.ts";
import type { Encoding } from "./encoding.ts";
import { roughCount, type CountText } from "./tokenizer.ts";

/**
 * Runs `counting` with real counts of the texts it asks for. The counting process answers
 * asynchronously, so `counting` runs twice: once to collect its texts (each counted 0), once with
 * their counts. Exact because a counting is pure: which texts it counts does not depend on the
 * numbers it gets. Never rejects unless `counting` throws.
 */
export async function countWith<T>(encoding: Encoding, counting: (count: CountText) => T): Promise<T> {
  const asked = new Set<string>();
  counting((text) => {
    if (text !== "") asked.add(text);
    return 0;
  });
  const texts = [...asked];
  const counts = await countTexts(encoding, texts);
  const known = new Map(texts.map((text, i) => [text, counts[i]!]));
  return counting((text) => (text === "" ? 0 : (known.get(text) ?? roughCount(text))));
}
