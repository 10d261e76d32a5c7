// Shared by the error tests: what every chatgate error must look like on the wire.
import { expect } from "bun:test";
import net from "node:net";
import type { OpenAIError } from "./support/openai-wire.ts";
import { specErrors } from "./chat-spec-check.ts";

/**
 * Asserts `response` is an OpenAI error: the status, `content-type: application/json`, and a body
 * of exactly `{"error": {message, type, param, code}}` (all four keys, the spec's types). Returns
 * the error object for further checks.
 */
export async function expectOpenAIError(response: Response, status: number, expected: Partial<OpenAIError> = {}): Promise<OpenAIError> {
  const text = await response.text();
  expect({ status: response.status, body: text.slice(0, 300) }).toEqual({ status, body: expect.any(String) });
  expect(response.headers.get("content-type")?.split(";")[0]).toBe("application/json");
  const body = JSON.parse(text) as { error: OpenAIError };
  expect(Object.keys(body)).toEqual(["error"]);
  expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
  expect(await specErrors(body, "ErrorResponse")).toEqual([]);
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(body.error).toMatchObject(expected);
  return body.error;
}

/**
 * One HTTP/1.1 exchange over a raw socket, for what fetch will not send (a chunked body framed as
 * we choose). `head` should say `Connection: close`: the exchange ends when the server closes.
 */
export function rawHttp(port: number, head: string, chunks: readonly string[]): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    let text = "";
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.write(head);
      for (const part of chunks) socket.write(part);
    });
    socket.on("data", (data) => (text += data.toString("utf8")));
    // A server that answers before reading the whole body may reset the socket: what it said counts.
    socket.on("error", (error) => (text === "" ? reject(error) : socket.destroy()));
    socket.on("close", () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text }));
  });
}

/** A chunked-encoding frame of `payload`. */
export const chunk = (payload: string) => `${Buffer.byteLength(payload).toString(16)}\r\n${payload}\r\n`;
