// The response cache against the compiled binary, as a user runs it: CHATGATE_CACHE_TTL on, one
// model turned off in the file, a fake upstream in this process that counts its calls, the openai
// SDK as the client, and the request log read from the process's stdout.
import { beforeAll, expect, test } from "bun:test";
import OpenAI from "openai";
import { compiledBinary, spawnBinary } from "./support/binary.ts";
import { openaiAt, routedEnv, type ConfigDoc } from "./support/config-file.ts";
import { DEFAULT_CONTENT } from "./support/openai-wire.ts";
import { fakeOpenAI } from "./support/upstream.ts";

// Built once per source state, shared with the other binary tests; the build outlasts a test's timeout.
beforeAll(() => compiledBinary(), 120_000);

test("the binary answers a repeated request from its cache, as JSON and as a stream, and logs the hit", async () => {
  await using up = fakeOpenAI();
  const target = { targets: [{ provider: "a", model: "model-a" }] };
  const doc = { providers: [openaiAt("a", up)], models: { smart: target, fresh: { ...target, cache: { ttl: "0s" } } } };
  await using gw = await spawnBinary({ ...routedEnv(doc as ConfigDoc), CHATGATE_CACHE_TTL: "1h", CHATGATE_RATE_LIMIT_MAX: "0" });
  const client = new OpenAI({ apiKey: "unused", baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: 10_000 });
  const messages = [{ role: "user" as const, content: "hi" }];

  const miss = await client.chat.completions.create({ model: "smart", messages }).withResponse();
  expect(miss.response.headers.get("x-chatgate-cache")).toBe("miss");
  const hit = await client.chat.completions.create({ model: "smart", messages, user: "another-user" }).withResponse();
  expect(hit.response.headers.get("x-chatgate-cache")).toBe("hit");
  expect(hit.response.headers.get("x-chatgate-attempts")).toBe("0");
  expect(hit.data).toEqual(miss.data);

  const stream = client.chat.completions.stream({ model: "smart", messages, stream_options: { include_usage: true } });
  const final = await stream.finalChatCompletion();
  expect(final.choices[0]!.message.content).toBe(DEFAULT_CONTENT);
  expect(final.usage).toEqual(miss.data.usage!);
  expect(up.calls).toHaveLength(1);

  const off = await client.chat.completions.create({ model: "fresh", messages }).withResponse();
  expect(off.response.headers.get("x-chatgate-cache")).toBe("skip");
  expect(up.calls).toHaveLength(2);

  const line = await gw.waitForLog((l) => l.msg === "request" && l.cache === "hit" && l.stream === true);
  expect(line).toMatchObject({ model: "smart", provider: "a", upstream_model: "model-a", status: 200, outcome: "ok", attempts: 0 });
}, 30_000);
