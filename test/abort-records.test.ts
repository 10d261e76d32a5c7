// A client's abort is recorded the same way whichever route it came in on and whichever part of
// the gateway noticed it: outcome client_abort, error client_closed_request — in the finish record,
// the log line built from it and the usage ledger's row (a real SQLite file). Regression: an
// aborted /v1/chat/completions, /v1/responses or /v1/messages stream was recorded with error null
// (the body's cancel noticed first), an aborted /chat stream with client_closed_request (the
// upstream read noticed first).
import { describe, expect, test } from "bun:test";
import { requestFields } from "../src/obs/log.ts";
import { startGateway, type TestGateway } from "./support/gateway.ts";
import { nextRecord } from "./support/records.ts";
import { fakeOpenAI } from "./support/upstream.ts";

const MODEL = "gpt-4o-mini";
const MESSAGES = [{ role: "user", content: "Tell me a long story." }];

/** The ledger row of `requestId`, once the pending rows are written to the file. */
function ledgerRow(gw: TestGateway, requestId: string) {
  const ledger = gw.app.ledger!.ledger;
  ledger.flush();
  return ledger.db
    .query("SELECT status, outcome, error_code, stream FROM requests WHERE request_id = ?")
    .get(requestId) as { status: number; outcome: string; error_code: string | null; stream: number };
}

/** Each route's streamed request for the same model. */
const STREAMS: [string, string, unknown][] = [
  ["/v1/chat/completions", "/v1/chat/completions", { model: MODEL, messages: MESSAGES, stream: true }],
  ["/v1/responses", "/v1/responses", { model: MODEL, input: "Tell me a long story.", stream: true }],
  ["/v1/messages", "/v1/messages", { model: MODEL, max_tokens: 100, messages: MESSAGES, stream: true }],
  ["/chat", "/chat", { model: MODEL, message: "Tell me a long story.", stream: true }],
];

describe("a client that leaves a stream after its first bytes", () => {
  for (const [name, path, body] of STREAMS) {
    test(`on ${name} is recorded 200 / client_abort / client_closed_request in the record, the log line and the ledger`, async () => {
      await using up = fakeOpenAI();
      await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: "sk-upstream-abort" });
      // The role chunk and two words, then nothing: the client leaves while the stream is open.
      up.reply({ kind: "stream", stallAfterEvents: 3 });
      const record = nextRecord(gw);
      const client = new AbortController();
      const requestId = `abort-${name.replaceAll("/", "-")}`;
      const res = await fetch(`${gw.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": requestId },
        body: JSON.stringify(body),
        signal: client.signal,
      });
      expect(res.status).toBe(200);
      await res.body!.getReader().read();
      client.abort();
      const finish = await record;
      expect([finish.status, finish.outcome, finish.errorCode]).toEqual([200, "client_abort", "client_closed_request"]);
      expect(requestFields(finish)).toMatchObject({ status: 200, outcome: "client_abort", error: "client_closed_request" });
      expect(ledgerRow(gw, requestId)).toEqual({ status: 200, outcome: "client_abort", error_code: "client_closed_request", stream: 1 });
    });
  }
});

describe("a client that leaves a JSON request while its upstream works", () => {
  const JSON_CALLS: [string, unknown][] = [
    ["/v1/chat/completions", { model: MODEL, messages: MESSAGES }],
    ["/v1/embeddings", { model: "text-embedding-3-small", input: "hello world" }],
  ];
  for (const [path, body] of JSON_CALLS) {
    test(`on ${path} is recorded 499 / client_abort / client_closed_request, as a stream's abort is`, async () => {
      await using up = fakeOpenAI();
      await using gw = startGateway({ OPENAI_BASE_URL: up.url, OPENAI_API_KEY: "sk-upstream-abort" });
      up.reply({ kind: "stall" });
      const record = nextRecord(gw);
      const client = new AbortController();
      const requestId = `abort-json-${path.replaceAll("/", "-")}`;
      const leaving = fetch(`${gw.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": requestId },
        body: JSON.stringify(body),
        signal: client.signal,
      }).catch(() => undefined);
      await up.nextCall();
      client.abort();
      await leaving;
      const finish = await record;
      expect([finish.status, finish.outcome, finish.errorCode]).toEqual([499, "client_abort", "client_closed_request"]);
      expect(requestFields(finish)).toMatchObject({ outcome: "client_abort", error: "client_closed_request" });
      expect(ledgerRow(gw, requestId)).toEqual({ status: 499, outcome: "client_abort", error_code: "client_closed_request", stream: 0 });
    });
  }
});
