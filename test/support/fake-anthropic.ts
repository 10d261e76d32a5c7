// A scripted fake of Anthropic's Messages API, speaking its exact wire format (JSON Message, SSE
// with event names in the API's order, error bodies with their statuses and retry-after headers),
// for exercising the Anthropic adapter against every way the upstream can answer, stream, fail or
// vanish. Same shape as fakeOpenAI (./upstream.ts). Wire builders live in ./anthropic-wire.ts.
import type { ContentBlock, ErrorType, StopReason, Usage } from "../../src/providers/anthropic/wire.ts";
import type { StreamEvent } from "../../src/providers/anthropic/wire.ts";
import { STATUS_OF_TYPE, errorBody, message, messageEvents, modelInfo, sse } from "./anthropic-wire.ts";
import {
  answerPieces,
  breakEvents,
  recordCall,
  remainderOf,
  scriptedBody,
  textOf,
  untilAborted,
  wait,
  wordCount,
  type AnswerBreaks,
  type Ending,
  type Exchange,
  type RecordedCall,
} from "./scripted-body.ts";

export type { RecordedCall };

interface MessageScript {
  content?: ContentBlock[];
  stopReason?: StopReason;
  usage?: Partial<Usage>;
  /** The model the answer names (default: the one asked for), e.g. a dated snapshot. */
  model?: string;
  explanation?: string;
  headers?: Record<string, string>;
}

export type AnthropicReply =
  | ({ kind: "message"; delayMs?: number } & MessageScript)
  | ({
      kind: "stream";
      /** Pause between writes. */
      delayMs?: number;
      /** Write the whole stream in slices of this many bytes (may split UTF-8 sequences). */
      splitBytes?: number;
      /** Send this many events, then half of the next one, then reset the connection. */
      cutAfterEvents?: number;
      /** Send this many events, then nothing, holding the connection open. */
      hangAfterEvents?: number;
      /** Send this many events, then an `error` event of this type. */
      errorAfterEvents?: number;
      errorType?: ErrorType;
      /** Leave out message_stop and close the connection cleanly. */
      endWithoutStop?: boolean;
      /** Insert an event whose data is not JSON after this many events. */
      malformedAfterEvents?: number;
      /** Whole SSE text to send instead of a built stream (e.g. a fixture). */
      raw?: string;
    } & MessageScript)
  | ({
      /**
       * The remainder of a known answer: a fresh request streams all of `answer`, one word per
       * text delta; a request whose last turn is an assistant prefill beginning `answer` streams
       * the rest, as the API continues a prefill. A prefill ending in whitespace is the API's 400,
       * and so is one that does not begin the answer. input_tokens (message_start) are the words
       * of the request's system and messages, output_tokens the deltas streamed.
       */
      kind: "answer";
      answer: string;
      /** Refuse every prefill with the 400 of a model without prefill (PREFILL_REJECTED_MESSAGE). */
      rejectPrefill?: boolean;
      /** Deltas "word " (default, as the API streams) or, false, " word". */
      spaceAfter?: boolean;
      /** The model the message names (default: the one asked for). */
      model?: string;
      /** The type of the error event `errorAfterWords` sends (default overloaded_error). */
      errorType?: ErrorType;
      delayMs?: number;
      headers?: Record<string, string>;
    } & AnswerBreaks)
  | { kind: "error"; status?: number; type: ErrorType; message?: string; headers?: Record<string, string> }
  | { kind: "raw"; status: number; body: string; contentType?: string; headers?: Record<string, string> }
  /** Never answer, not even headers, until the client goes away. */
  | { kind: "stall" };

export interface FakeAnthropic {
  /** Base URL without /v1, as configured for an Anthropic provider. */
  url: string;
  calls: RecordedCall[];
  nextCall(): Promise<RecordedCall>;
  reply(...replies: AnthropicReply[]): void;
  models: string[];
  modelsCalls: RecordedCall[];
  /** `POST /v1/messages/count_tokens` calls; each is answered `{"input_tokens": countTokens}`. */
  countCalls: RecordedCall[];
  countTokens: number;
  /** When set, count_tokens is answered 200 with these bytes instead (a broken upstream). */
  countBody?: string;
  /** When set, count_tokens is answered with this status and Anthropic's error body for it. */
  countStatus?: number;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const encoder = new TextEncoder();
const JSON_TYPE = "application/json";

function json(status: number, body: unknown, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": JSON_TYPE, "request-id": "req_fake", ...headers } });
}


function streamEvents(reply: Extract<AnthropicReply, { kind: "stream" }>, model: string): { events: string[]; ending: Ending } {
  if (reply.raw !== undefined) return { events: [reply.raw], ending: "close" };
  let events = messageEvents(message({ ...reply, model: reply.model ?? model })).map(sse);
  let ending: Ending = "close";
  if (reply.malformedAfterEvents !== undefined) events.splice(reply.malformedAfterEvents, 0, "event: content_block_delta\ndata: {\"type\":\"content_bl\n\n");
  if (reply.cutAfterEvents !== undefined) {
    const partial = events[reply.cutAfterEvents] ?? "";
    events = [...events.slice(0, reply.cutAfterEvents), partial.slice(0, Math.ceil(partial.length / 2))];
    ending = "cut";
  } else if (reply.hangAfterEvents !== undefined) {
    events = events.slice(0, reply.hangAfterEvents);
    ending = "hang";
  } else if (reply.errorAfterEvents !== undefined) {
    const body = errorBody(reply.errorType ?? "overloaded_error");
    events = [...events.slice(0, reply.errorAfterEvents), `event: error\ndata: ${JSON.stringify({ type: "error", error: body.error })}\n\n`];
  } else if (reply.endWithoutStop) {
    events = events.slice(0, -1);
  }
  return { events, ending };
}

function streamResponse(reply: Extract<AnthropicReply, { kind: "stream" }>, model: string, ex: Exchange): Response {
  const { events, ending } = streamEvents(reply, model);
  let slices = events.filter(Boolean).map((event) => encoder.encode(event));
  if (reply.splitBytes !== undefined) {
    const bytes = encoder.encode(events.join(""));
    const size = Math.max(1, reply.splitBytes);
    slices = [];
    for (let at = 0; at < bytes.length; at += size) slices.push(bytes.subarray(at, at + size));
  }
  return new Response(scriptedBody(slices, reply.delayMs ?? 0, ending, ex), {
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "request-id": "req_fake", ...reply.headers },
  });
}

/** What a model without prefill answers a conversation that ends with an assistant turn. */
export const PREFILL_REJECTED_MESSAGE = "This model does not support assistant message prefill. The conversation must end with a user message.";
/** What the API answers a prefill that ends in whitespace. */
export const TRAILING_WHITESPACE_MESSAGE = "messages: final assistant content cannot end with trailing whitespace";

function invalidRequest(ex: Exchange, message: string): Response {
  ex.settle("finished");
  return json(400, errorBody("invalid_request_error", message));
}

/** A known answer, or its remainder after the request's prefill (see the `answer` reply). */
function answerResponse(reply: Extract<AnthropicReply, { kind: "answer" }>, model: string, request: Record<string, unknown>, ex: Exchange): Response {
  const turns = Array.isArray(request.messages) ? (request.messages as Array<{ role?: unknown; content?: unknown }>) : [];
  const last = turns.at(-1);
  let text = reply.answer;
  if (last?.role === "assistant") {
    if (reply.rejectPrefill) return invalidRequest(ex, PREFILL_REJECTED_MESSAGE);
    const prefill = textOf(last.content);
    if (/\s$/.test(prefill)) return invalidRequest(ex, TRAILING_WHITESPACE_MESSAGE);
    const rest = remainderOf(reply.answer, prefill);
    if (rest === undefined) return invalidRequest(ex, `fake upstream: the text to continue does not begin the known answer: ${JSON.stringify(prefill)}`);
    text = rest;
  }
  const input = wordCount(textOf(request.system)) + turns.reduce((sum, turn) => sum + wordCount(textOf(turn.content)), 0);
  const pieces = answerPieces(text, reply.spaceAfter ?? true);
  const usage = { input_tokens: input, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: pieces.length };
  const events = messageEvents(message({ model: reply.model ?? model, content: [{ type: "text", text: "" }], usage }));
  // message_start, ping, content_block_start: then the deltas.
  const deltas = pieces.map((piece): StreamEvent => ({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: piece } }));
  events.splice(3, 0, ...deltas);
  const error = `event: error\ndata: ${JSON.stringify({ type: "error", error: errorBody(reply.errorType ?? "overloaded_error").error })}\n\n`;
  const broken = breakEvents(events.map(sse), 3, reply, error);
  return new Response(scriptedBody(broken.events.filter(Boolean).map((event) => encoder.encode(event)), reply.delayMs ?? 0, broken.ending, ex), {
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "request-id": "req_fake", ...reply.headers },
  });
}

async function messagesResponse(reply: AnthropicReply, model: string, request: Record<string, unknown>, ex: Exchange): Promise<Response> {
  switch (reply.kind) {
    case "answer":
      return answerResponse(reply, model, request, ex);
    case "stream":
      return streamResponse(reply, model, ex);
    case "message":
      if (reply.delayMs !== undefined) await wait(reply.delayMs, ex.signal);
      ex.settle("finished");
      return json(200, message({ ...reply, model: reply.model ?? model }), reply.headers);
    case "error":
      ex.settle("finished");
      return json(reply.status ?? STATUS_OF_TYPE[reply.type], errorBody(reply.type, reply.message), reply.headers);
    case "raw":
      ex.settle("finished");
      return new Response(reply.body, { status: reply.status, headers: { "content-type": reply.contentType ?? JSON_TYPE, ...reply.headers } });
    case "stall":
      await untilAborted(ex.signal);
      return new Response(null, { status: 499 });
  }
}


export function fakeAnthropic(options: { models?: string[] } = {}): FakeAnthropic {
  const queue: AnthropicReply[] = [];
  const waiters: Array<(call: RecordedCall) => void> = [];
  let taken = 0;

  async function messages(request: Request, path: string): Promise<Response> {
    const { call, ex } = await recordCall(request, path);
    const body = call.body;
    fake.calls.push(call);
    const waiter = waiters.shift();
    if (waiter) (taken++, waiter(call));
    const fields = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
    const model = typeof fields.model === "string" ? fields.model : "claude-sonnet-4-5";
    return messagesResponse(queue.shift() ?? { kind: fields.stream === true ? "stream" : "message" }, model, fields, ex);
  }

  async function models(request: Request, url: URL): Promise<Response> {
    fake.modelsCalls.push((await recordCall(request, url.pathname + url.search)).call);
    const limit = Number(url.searchParams.get("limit") ?? 20);
    const after = url.searchParams.get("after_id");
    const start = after === null ? 0 : fake.models.indexOf(after) + 1;
    const page = fake.models.slice(start, start + limit);
    return json(200, { data: page.map(modelInfo), has_more: start + limit < fake.models.length, first_id: page[0] ?? null, last_id: page.at(-1) ?? null });
  }

  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request) {
      const url = new URL(request.url);
      if (url.pathname === "/v1/messages" && request.method === "POST") return messages(request, url.pathname);
      if (url.pathname === "/v1/models" && request.method === "GET") return models(request, url);
      if (url.pathname === "/v1/messages/count_tokens" && request.method === "POST") {
        return recordCall(request, url.pathname).then(({ call }) => {
          fake.countCalls.push(call);
          if (fake.countBody !== undefined) return new Response(fake.countBody, { headers: { "content-type": JSON_TYPE } });
          if (fake.countStatus !== undefined) return json(fake.countStatus, { type: "error", error: { type: fake.countStatus === 401 ? "authentication_error" : "api_error", message: "refused" } });
          return json(200, { input_tokens: fake.countTokens });
        });
      }
      return json(404, errorBody("not_found_error", "Not found"));
    },
  });

  const stop = () => server.stop(true);
  const fake: FakeAnthropic = {
    url: `http://127.0.0.1:${server.port}`,
    calls: [],
    models: [...(options.models ?? ["claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-3-5-haiku-20241022"])],
    modelsCalls: [],
    countCalls: [],
    countTokens: 1234,
    nextCall() {
      const ready = fake.calls[taken];
      if (ready) return (taken++, Promise.resolve(ready));
      return new Promise((resolve) => waiters.push(resolve));
    },
    reply(...replies) {
      queue.push(...replies);
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
  return fake;
}
