import { describe, expect, test } from "bun:test";
import { firstMark } from "../../src/providers/openai-observer.ts";
import { EventFramer, completeEventsEnd } from "../../src/providers/sse-frames.ts";
import { passThroughEvents, type PassThroughOptions } from "../../src/providers/sse-passthrough.ts";
import { StreamSeen } from "../../src/providers/provider.ts";
import { badGateway } from "../../src/errors.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (buf: Uint8Array) => new TextDecoder().decode(buf);

describe("completeEventsEnd", () => {
  test("finds the end of the last whole event with LF line endings", () => {
    const buf = bytes('data: {"a":1}\n\ndata: {"b"');
    expect(text(buf.subarray(0, completeEventsEnd(buf)))).toBe('data: {"a":1}\n\n');
  });

  test("finds the end of the last whole event with CRLF line endings", () => {
    const buf = bytes("data: 1\r\n\r\ndata: 2\r\n\r\ndata: 3\r\n");
    expect(text(buf.subarray(0, completeEventsEnd(buf)))).toBe("data: 1\r\n\r\ndata: 2\r\n\r\n");
  });

  test("is 0 when no event has ended yet", () => {
    expect(completeEventsEnd(bytes("data: {\"partial\""))).toBe(0);
    expect(completeEventsEnd(bytes("data: x\n"))).toBe(0);
    expect(completeEventsEnd(new Uint8Array(0))).toBe(0);
  });

  test("a chunk that is exactly whole events is passed whole", () => {
    const buf = bytes("data: 1\n\ndata: 2\n\n");
    expect(completeEventsEnd(buf)).toBe(buf.length);
  });
});

/** Feeds `parts` as separate reads of an upstream body. */
function body(parts: string[], error?: Error): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < parts.length) controller.enqueue(bytes(parts[i++]!));
      else if (error) controller.error(error);
      else controller.close();
    },
  });
}

/** An error event before the first content fails the stream before commit; one choice is asked for. */
const EARLY = { failedEarly: (data: string) => badGateway(`early: ${data}`), choices: 1 };

const tooLarge = (what: string, limit: number) => badGateway(`${what} over ${limit}`, "upstream_response_too_large", false);

async function run(parts: string[], error?: Error, dropUsageChunks = false, extra: Partial<PassThroughOptions> = {}) {
  const seen = new StreamSeen();
  const out: string[] = [];
  const idle = { touch() {}, suspend() {}, resume() {}, clear() {} };
  const fail = (detail: string) => badGateway(detail);
  try {
    for await (const chunk of passThroughEvents(body(parts, error), seen, { ...EARLY, idle, classify: () => badGateway("read failed"), cut: fail, tooLarge, dropUsageChunks, ...extra })) out.push(text(chunk));
    return { out, seen, error: undefined };
  } catch (err) {
    return { out, seen, error: err as Error };
  }
}

describe("passThroughEvents", () => {
  test("re-frames nothing: events split across reads come out as whole events, bytes unchanged", async () => {
    const wire = 'data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\ndata: {"id":"2","usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}\n\ndata: [DONE]\n\n';
    const parts = [wire.slice(0, 5), wire.slice(5, 33), wire.slice(33, 70), wire.slice(70)];
    const { out, seen, error } = await run(parts);
    expect(error).toBeUndefined();
    expect(out.join("")).toBe(wire);
    for (const chunk of out) expect(chunk.endsWith("\n\n")).toBe(true);
    expect(seen.done).toBe(true);
    expect(seen.usage).toEqual({ prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 });
  });

  test("a stream cut mid-event never passes the half event on, and throws", async () => {
    const { out, error } = await run(['data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\ndata: {"id":"2","cho'], new Error("ECONNRESET"));
    expect(out).toEqual(['data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n']);
    expect(error?.message).toBe("read failed");
  });

  test("a stream that ends cleanly before its finish_reason throws instead of passing for complete", async () => {
    const { out, error } = await run(['data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n']);
    expect(out).toHaveLength(1);
    expect(error?.message).toContain("ended after 1 events, before its finish_reason");
  });

  test("a stream that ends cleanly after every choice's finish_reason but without [DONE] is complete: [DONE] is added", async () => {
    const finish = 'data: {"id":"1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n';
    const usage = 'data: {"id":"1","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}\n\n';
    const { out, seen, error } = await run(['data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n', finish, usage]);
    expect(error).toBeUndefined();
    expect(out.join("")).toBe('data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n' + finish + usage + "data: [DONE]\n\n");
    expect(seen.done).toBe(true);
    expect(seen.usage?.total_tokens).toBe(2);
  });

  test("two choices: one finish_reason is not enough to call a clean end complete", async () => {
    const finish = 'data: {"id":"1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n';
    const { error } = await run(['data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n', finish], undefined, false, { choices: 2 });
    expect(error?.message).toContain("before every choice's finish_reason");
  });

  test("an error event before any content fails the stream before anything is passed on", async () => {
    const role = 'data: {"id":"1","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n';
    const { out, error } = await run([": hi\n\n", role, 'data: {"error":{"message":"overloaded"}}\n\n']);
    expect(out).toEqual([]);
    expect(error?.message).toContain("early:");
  });

  test("the role chunk and comments are held back until the first content, then go out with it", async () => {
    const role = 'data: {"id":"1","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n';
    const { out, seen } = await run([role, ": ping\n\n", 'data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n', "data: [DONE]\n\n"]);
    expect(out[0]).toBe(role + ": ping\n\n" + 'data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n');
    expect(seen.events).toBe(3);
  });

  test("an event whose data is not a JSON object is dropped and counted, and the stream goes on", async () => {
    const { out, seen, error } = await run(['data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n', "data: <html>proxy error</html>\n\n", 'data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\ndata: {"id"\n\n', "data: [DONE]\n\n"]);
    expect(error).toBeUndefined();
    expect(out.join("")).toBe('data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n'.repeat(2) + "data: [DONE]\n\n");
    expect(seen.dropped).toBe(2);
  });

  test("data that is JSON but not an object (an array) is dropped and counted too, however it is framed; [DONE] is not", async () => {
    const content = 'data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n';
    for (const parts of [[content, 'data: [1,2]\n\ndata: ["oops"]\n\n', content, "data: [DONE]\n\n"], [content, 'data: [1,2]\r\n\r\n', content, "data: [DONE]\r\n\r\n"]]) {
      const { out, seen, error } = await run(parts);
      expect(error).toBeUndefined();
      expect(out.join("")).not.toContain("[1,2]");
      expect(out.join("")).not.toContain("oops");
      expect(out.join("")).toContain("[DONE]");
      expect(seen.dropped).toBe(parts[1]!.includes("oops") ? 2 : 1);
    }
  });

  test("an in-band error event is passed on and ends the stream without an extra error", async () => {
    const { out, seen, error } = await run(['data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n', 'data: {"error":{"message":"boom"}}\n\n']);
    expect(error).toBeUndefined();
    expect(seen.errorEvent).toBe(true);
    expect(out.at(-1)).toContain('"error"');
  });
});

describe("passThroughEvents across reads", () => {
  test("an event boundary split between two reads is found, whatever the line endings", async () => {
    for (const [a, b] of [["data: {\"choices\":[{\"delta\":{\"content\":\"1\"}}]}\n", "\n"], ["data: {\"choices\":[{\"delta\":{\"content\":\"1\"}}]}\r\n", "\r\n"], ["data: {\"choices\":[{\"delta\":{\"content\":\"1\"}}]}\r\n\r", "\n"], ["data: {\"choices\":[{\"delta\":{\"content\":\"1\"}}]}\n\r", "\n"]] as const) {
      const { out, error } = await run([a, b, "data: [DONE]\n\n"]);
      expect(error).toBeUndefined();
      // The first event goes out as soon as its boundary is complete, not with the next one.
      expect(out).toEqual([a + b, "data: [DONE]\n\n"]);
    }
  });

  test("a long event arriving in many small reads comes out whole and unchanged", async () => {
    const event = `data: {"choices":[{"delta":{"content":"${"x".repeat(50_000)}"}}]}\n\n`;
    const parts = [];
    for (let i = 0; i < event.length; i += 97) parts.push(event.slice(i, i + 97));
    const { out, error } = await run([...parts, "data: [DONE]\n\n"]);
    expect(error).toBeUndefined();
    expect(out[0]).toBe(event);
    expect(out).toHaveLength(2);
  });
});

describe("firstMark", () => {
  test("flags runs holding [DONE], an error, or a usage object, and nothing else", () => {
    expect(firstMark(bytes("data: [DONE]\n\n"))).toBe(6);
    expect(firstMark(bytes('data: {"error":{"message":"x"}}\n\n'))).toBe(7);
    expect(firstMark(bytes('data: {"choices":[],"usage":{"total_tokens":3}}\n\n'))).toBe(20);
    expect(firstMark(bytes('data: {"choices":[], "usage": {"total_tokens":3}}\n\n'))).toBe(21);
    const content = 'data: {"choices":[{"delta":{"content":"hi"}}],"usage":null}\n\n';
    expect(firstMark(bytes(`${content}data: [DONE]\n\n`))).toBe(content.length + "data: ".length);
    expect(firstMark(bytes('data: {"choices":[{"delta":{"content":"hi"}}],"usage":null}\n\n'))).toBe(-1);
    expect(firstMark(bytes('data: {"choices":[{"delta":{"content":"hi"}}]}\n\n'))).toBe(-1);
  });

  test("searches only a view's own bytes and counts from its start", () => {
    const whole = bytes('data: [DONE]\n\ndata: {"x":1}\n\ndata: {"error":{}}\n\n');
    const middle = whole.subarray("data: [DONE]\n\n".length, whole.length - 'data: {"error":{}}\n\n'.length);
    expect(firstMark(middle)).toBe(-1);
    const tail = whole.subarray("data: [DONE]\n\n".length);
    expect(firstMark(tail)).toBe('data: {"x":1}\n\ndata: '.length + 1);
  });

  test("an error event after content in one read: content passes as is, the error is redacted", async () => {
    const { out, seen, error } = await (async () => {
      const seen = new StreamSeen();
      const out: string[] = [];
      const idle = { touch() {}, suspend() {}, resume() {}, clear() {} };
      const wire = 'data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\ndata: {"error":{"message":"bad key sk-secret"}}\n\n';
      for await (const chunk of passThroughEvents(body([wire]), seen, { ...EARLY, idle, classify: () => badGateway("x"), cut: badGateway, tooLarge, redact: (t) => t.replace("sk-secret", "***") })) out.push(text(chunk));
      return { out, seen, error: undefined };
    })();
    expect(error).toBeUndefined();
    expect(seen.errorEvent).toBe(true);
    expect(out.join("")).toBe('data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\ndata: {"error":{"message":"bad key ***"}}\n\n');
  });

  test("a content chunk that merely mentions [DONE] is parsed and not taken for the end", async () => {
    const wire = 'data: {"choices":[{"delta":{"content":"say [DONE]"}}]}\n\ndata: [DONE]\n\n';
    const { out, seen, error } = await run([wire.slice(0, 50), wire.slice(50, wire.indexOf("data: [DONE]")), "data: [DONE]\n\n"]);
    expect(error).toBeUndefined();
    expect(seen.done).toBe(true);
    expect(out.join("")).toBe(wire);
  });
});

describe("usage the client did not ask for", () => {
  const content = 'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n';
  const usage = 'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}\n\n';
  const done = "data: [DONE]\n\n";

  test("a usage-only chunk is dropped when the client did not ask for usage, and still recorded", async () => {
    const { out, seen, error } = await run([content + usage + done], undefined, true);
    expect(error).toBeUndefined();
    expect(out.join("")).toBe(content + done);
    expect(seen.usage?.total_tokens).toBe(2);
  });

  test("the same chunk passes untouched when the client asked for usage", async () => {
    const { out } = await run([content + usage + done]);
    expect(out.join("")).toBe(content + usage + done);
  });

  test("a usage chunk alone in its read is dropped and the stream goes on to [DONE]", async () => {
    const { out, seen } = await run([content, usage, done], undefined, true);
    expect(out.join("")).toBe(content + done);
    expect(seen.done).toBe(true);
  });
});

describe("comments before the first event", () => {
  test("are held back and sent with the first data event, so the stream commits on a real event", async () => {
    const { out, error } = await run([": OPENROUTER PROCESSING\n\n", ": keep-alive\n\n", 'data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n', "data: [DONE]\n\n"]);
    expect(error).toBeUndefined();
    expect(out[0]).toBe(': OPENROUTER PROCESSING\n\n: keep-alive\n\ndata: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n');
    expect(out).toHaveLength(2);
  });

  test("a stream of nothing but comments is reported as ending before its answer", async () => {
    const { out, error } = await run([": keep-alive\n\n"]);
    expect(out).toEqual([]);
    expect(error?.message).toContain("ended after 0 events");
  });
});

describe("caps on what an upstream can make a stream hold", () => {
  test("an event that never ends is an error once it outgrows the cap, after the whole events before it", async () => {
    const parts = ['data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n', 'data: {"content":"', ...Array.from({ length: 20 }, () => "x".repeat(100))];
    const { out, error } = await run(parts, undefined, false, { maxEventBytes: 1000 });
    expect(out).toEqual(['data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n']);
    expect(error?.message).toBe("a stream event over 1000");
  });

  test("an event that never ends, arriving in one read, is an error too", async () => {
    const { out, error } = await run([`data: ${"x".repeat(2000)}`], undefined, false, { maxEventBytes: 1000 });
    expect(out).toEqual([]);
    expect(error?.message).toBe("a stream event over 1000");
  });

  test("an event just under the cap passes whole", async () => {
    const event = `data: {"choices":[{"delta":{"content":"${"x".repeat(950)}"}}]}\n\n`;
    const parts = [event.slice(0, 500), event.slice(500), "data: [DONE]\n\n"];
    const { out, error } = await run(parts, undefined, false, { maxEventBytes: 1000 });
    expect(error).toBeUndefined();
    expect(out.join("")).toBe(event + "data: [DONE]\n\n");
  });

  test("comments before the first event are an error once they outgrow the preamble cap", async () => {
    const { out, error } = await run(Array.from({ length: 100 }, () => ": keep-alive\n\n"), undefined, false, { maxPreambleBytes: 1000 });
    expect(out).toEqual([]);
    expect(error?.message).toBe("comments and events before its first content over 1000");
  });

  test("regression: 60,000 held-back comments are joined once, not once per read (was quadratic)", async () => {
    const comments = Array.from({ length: 60_000 }, () => ": keep-alive\n\n");
    const started = performance.now();
    const { out, error } = await run([...comments, 'data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n', "data: [DONE]\n\n"]);
    expect(error).toBeUndefined();
    expect(out[0]).toBe(comments.join("") + 'data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n');
    expect(performance.now() - started).toBeLessThan(1500);
  });
});

describe("the idle timer", () => {
  test("regression: is restarted by whole events, never by the bytes of an event that has not ended", async () => {
    let touches = 0;
    const idle = { touch: () => void touches++, suspend() {}, resume() {}, clear() {} };
    const event = 'data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n';
    const parts = [": ping\n\n", ...event.split(""), "data: [DONE]\n\n"];
    const out: string[] = [];
    for await (const chunk of passThroughEvents(body(parts), new StreamSeen(), { ...EARLY, idle, classify: () => badGateway("x"), cut: badGateway, tooLarge })) out.push(text(chunk));
    // The comment, the trickled event (once, on its last byte), and [DONE].
    expect(touches).toBe(3);
    expect(out.join("")).toBe(": ping\n\n" + event + "data: [DONE]\n\n");
  });

  test("a CRLF boundary trickled one byte per read is found", async () => {
    const event = 'data: {"choices":[{"delta":{"content":"1"}}]}\r\n\r\n';
    const { out, error } = await run([...event.split(""), "data: [DONE]\n\n"]);
    expect(error).toBeUndefined();
    expect(out).toEqual([event, "data: [DONE]\n\n"]);
  });
});

describe("redaction of in-band error events", () => {
  const secret = "sk-up/secret";
  const redact = (t: string) => t.split(secret).join("***");
  const redacted = async (wire: string) => {
    const seen = new StreamSeen();
    const out: string[] = [];
    const idle = { touch() {}, suspend() {}, resume() {}, clear() {} };
    for await (const chunk of passThroughEvents(body([wire]), seen, { ...EARLY, idle, classify: () => badGateway("x"), cut: badGateway, tooLarge, redact })) out.push(text(chunk));
    expect(seen.errorEvent).toBe(true);
    return out.join("");
  };

  test("regression: a key the upstream JSON-escaped (\\/ and \\u00xx) is redacted in every field", async () => {
    const escaped = "\\u0073k-up\\/secret";
    const wire = `data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\ndata: {"error":{"message":"bad ${escaped}","type":"${escaped}","param":"${escaped}","code":"${escaped}","extra":["${escaped}"]}}\n\n`;
    const got = await redacted(wire);
    expect(got).toStartWith('data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n');
    const error = JSON.parse(got.slice(got.lastIndexOf("data: ") + 6)) as { error: Record<string, unknown> };
    expect(error.error).toEqual({ message: "bad ***", type: "***", param: "***", code: "***", extra: ["***"] });
    expect(JSON.stringify(error)).not.toContain("secret");
  });

  test("an error event with spaces before its key is recognised and redacted", async () => {
    const got = await redacted(`data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\ndata: { "error" : { "message": "${secret}" } }\n\n`);
    expect(got).toBe('data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\ndata: {"error":{"message":"***"}}\n\n');
  });

  test("an error event that is not a JSON object is dropped whole, key and all", async () => {
    const { out, seen } = await run([`data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\ndata: {"error": ${secret}\n\n`]);
    expect(out.join("")).toBe('data: {"id":"1","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n');
    expect(seen.dropped).toBe(1);
  });
});

describe("EventFramer", () => {
  const framer = () => new EventFramer(1 << 20, tooLarge);
  test("a read that completes a held event gives that event joined, then the rest of the read as a view of it (no copy of the whole read)", () => {
    const f = framer();
    expect(f.push(bytes('data: {"a":'))).toBeUndefined();
    const read = bytes('1}\n\ndata: {"b":2}\n\ndata: {"c":3}\n\ndata: {"d"');
    expect(text(f.push(read)!)).toBe('data: {"a":1}\n\n');
    const rest = f.more()!;
    expect(text(rest)).toBe('data: {"b":2}\n\ndata: {"c":3}\n\n');
    expect(rest.buffer).toBe(read.buffer);
    expect(f.more()).toBeUndefined();
    expect(text(f.push(bytes(":4}\n\n"))!)).toBe('data: {"d":4}\n\n');
  });

  test("a blank line split across reads (\\n | \\n, \\r\\n | \\r\\n) ends the held event at the right byte", () => {
    for (const [a, b] of [["data: 1\n", "\ndata: 2\n\n"], ["data: 1\r\n", "\r\ndata: 2\n\n"], ["data: 1\r\n\r", "\ndata: 2\n\n"]] as const) {
      const f = framer();
      expect(f.push(bytes(a))).toBeUndefined();
      const first = f.push(bytes(b))!;
      expect(text(first) + text(f.more() ?? new Uint8Array())).toBe(a + b);
      expect(text(first).endsWith("\n")).toBe(true);
      expect(text(first)).not.toContain("data: 2");
    }
  });
});

describe("the per-stream buffer", () => {
  test("a run larger than the buffer goes out in pieces of whole events, bytes unchanged", async () => {
    const event = (i: number) => `data: {"choices":[{"index":0,"delta":{"content":"${String(i).repeat(60)}"}}]}\n\n`;
    const wire = Array.from({ length: 40 }, (_, i) => event(i % 10)).join("") + "data: [DONE]\n\n";
    const { out, error } = await run([wire], undefined, false, { maxRunBytes: 500 });
    expect(error).toBeUndefined();
    expect(out.join("")).toBe(wire);
    expect(out.length).toBeGreaterThan(5);
    for (const piece of out) {
      expect(piece.endsWith("\n\n")).toBe(true);
      expect(new TextEncoder().encode(piece).length).toBeLessThanOrEqual(500);
    }
  });
});
