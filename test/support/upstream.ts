// A scripted fake of OpenAI's HTTP API, for exercising the gateway against every way an upstream
// can answer, stream, fail or vanish. Wire builders live in ./openai-wire.ts.
import {
  DEFAULT_CONTENT,
  DEFAULT_WORDS,
  SSE_DONE,
  chatCompletion,
  chatCompletionChunks,
  modelObject,
  openAIError,
  sseEvent,
  type OpenAIError,
} from "./openai-wire.ts";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { embeddingsText, type EmbeddingsRequestBody } from "./embeddings-wire.ts";
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

/**
 * How an OpenAI-compatible provider takes a partial answer to continue: a plain trailing assistant
 * message (Ollama), one with `"prefix": true` (DeepSeek, Mistral), or vLLM's
 * `continue_final_message: true, add_generation_prompt: false` beside it.
 */
export type ContinuationStyle = "prefill" | "prefix" | "vllm";

/** The 400 an OpenAI-compatible provider without prefill gives a conversation ending with an assistant message. */
export const PREFILL_REJECTED: OpenAIError = {
  message: "This model does not support assistant message prefill; the final message must have role user",
  type: "invalid_request_error",
  param: "messages",
  code: null,
};

/** The retryable error event a provider sends mid-stream when it is overloaded. */
export const OVERLOADED_EVENT: OpenAIError = { message: "Overloaded", type: "server_error", param: null, code: "overloaded" };

type Usage = { prompt_tokens: number; completion_tokens: number; total_tokens: number };
export type Reply =
  | { kind: "completion"; content?: string; usage?: Usage; headers?: Record<string, string>; delayMs?: number }
  | {
      kind: "stream";
      words?: string[];
      includeUsage?: boolean;
      delayMs?: number;
      splitBytes?: number;
      cutAfterEvents?: number;
      stallAfterEvents?: number;
      endWithoutDone?: boolean;
      /** Ends cleanly (no cut) after this many events: before the finish chunk, a truncation. */
      endAfterEvents?: number;
      errorEventAfter?: number;
      headers?: Record<string, string>;
    }
  | ({
      /**
       * The remainder of a known answer: a fresh request streams all of `answer`, one word per
       * chunk; a request ending with an assistant message whose text begins `answer` (a
       * continuation) streams the rest, as a real provider continues a prefill. Usage: prompt
       * tokens are the words of the request's messages, completion tokens the pieces streamed.
       * A continuation that does not begin the answer, or is marked in another style, is a 400.
       */
      kind: "answer";
      answer: string;
      /** Require this continuation style (unset: any trailing assistant message is one). */
      style?: ContinuationStyle;
      /** Refuse every continuation with a 400 (PREFILL_REJECTED), as a model without prefill does. */
      rejectPrefill?: boolean;
      /** Pieces "word " instead of " word": a break leaves the client with trailing whitespace. */
      spaceAfter?: boolean;
      /** Deltas sent after the pieces, before the break or the finish (a tool call or refusal in progress). */
      inject?: ChatCompletionChunk.Choice.Delta[];
      /** The model the chunks name (default: the one asked for). */
      model?: string;
      /** The error event `errorAfterWords` sends (default OVERLOADED_EVENT). */
      errorEvent?: OpenAIError;
      /** Usage, when asked for, on the finish chunk and in no chunk of its own (as Mistral sends it). */
      usageOnFinish?: boolean;
      delayMs?: number;
      headers?: Record<string, string>;
    } & AnswerBreaks)
  | { kind: "error"; status: number; error?: OpenAIError; headers?: Record<string, string> }
  | { kind: "raw"; status: number; body: string; contentType?: string; headers?: Record<string, string> }
  | { kind: "cutBody" }
  | { kind: "reset" }
  | { kind: "stall" };

export interface FakeOpenAI {
  url: string;
  calls: RecordedCall[];
  nextCall(): Promise<RecordedCall>;
  reply(...replies: Reply[]): void;
  models: string[];
  modelsCalls: number;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const encoder = new TextEncoder();
const JSON_TYPE = "application/json";
const SSE_TYPE = "text/event-stream; charset=utf-8";

function json(status: number, body: unknown, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": JSON_TYPE, ...headers } });
}

function streamResponse(reply: Extract<Reply, { kind: "stream" }>, model: string, requested: boolean, ex: Exchange): Response {
  const chunks = chatCompletionChunks(model, reply.words ?? DEFAULT_WORDS, reply.includeUsage ?? requested);
  let events = [...chunks.map(sseEvent), SSE_DONE];
  let ending: Ending = "close";
  if (reply.cutAfterEvents !== undefined) {
    const partial = events[reply.cutAfterEvents] ?? "";
    events = [...events.slice(0, reply.cutAfterEvents), partial.slice(0, Math.ceil(partial.length / 2))];
    ending = "cut";
  } else if (reply.stallAfterEvents !== undefined) {
    events = events.slice(0, reply.stallAfterEvents);
    ending = "hang";
  } else if (reply.errorEventAfter !== undefined) {
    events = [...events.slice(0, reply.errorEventAfter), sseEvent({ error: openAIError(500, model) })];
  } else if (reply.endWithoutDone) {
    events = events.slice(0, -1);
  } else if (reply.endAfterEvents !== undefined) {
    events = events.slice(0, reply.endAfterEvents);
  }
  let slices = events.filter(Boolean).map((event) => encoder.encode(event));
  if (reply.splitBytes !== undefined) {
    // Slicing bytes, not characters: a split may land inside a multi-byte UTF-8 sequence on purpose.
    const bytes = encoder.encode(events.join(""));
    const size = Math.max(1, reply.splitBytes);
    slices = [];
    for (let at = 0; at < bytes.length; at += size) slices.push(bytes.subarray(at, at + size));
  }
  return new Response(scriptedBody(slices, reply.delayMs ?? 0, ending, ex), {
    headers: { "content-type": SSE_TYPE, "cache-control": "no-cache", ...reply.headers },
  });
}

function continuationError(ex: Exchange, message: string): Response {
  ex.settle("finished");
  return json(400, { error: { message, type: "invalid_request_error", param: "messages", code: null } });
}

/** After how many pieces a known-answer stream breaks, if it does. */
const breakPoint = (b: AnswerBreaks): number | undefined => b.cutAfterWords ?? b.stallAfterWords ?? b.errorAfterWords ?? b.endAfterWords;

/** A known answer, or its remainder when the request continues it (see the `answer` reply). */
function answerResponse(reply: Extract<Reply, { kind: "answer" }>, model: string, request: Record<string, unknown>, ex: Exchange): Response {
  const messages = Array.isArray(request.messages) ? (request.messages as Array<Record<string, unknown>>) : [];
  const last = messages.at(-1);
  let text = reply.answer;
  if (last?.role === "assistant") {
    if (reply.rejectPrefill) return (ex.settle("finished"), json(400, { error: PREFILL_REJECTED }));
    const marks = { prefix: last.prefix === true, vllm: request.continue_final_message === true && request.add_generation_prompt === false };
    const style: ContinuationStyle = marks.prefix ? "prefix" : marks.vllm ? "vllm" : "prefill";
    if (marks.prefix && marks.vllm) return continuationError(ex, "fake upstream: a continuation marked both prefix and continue_final_message");
    if (reply.style !== undefined && reply.style !== style) return continuationError(ex, `fake upstream: expected a ${reply.style}-style continuation, got ${style}`);
    const prefill = textOf(last.content);
    const rest = remainderOf(reply.answer, prefill);
    if (rest === undefined) return continuationError(ex, `fake upstream: the text to continue does not begin the known answer: ${JSON.stringify(prefill)}`);
    text = rest;
  }
  const options = request.stream_options;
  const includeUsage = typeof options === "object" && options !== null && (options as { include_usage?: unknown }).include_usage === true;
  const pieces = answerPieces(text, reply.spaceAfter);
  const chunks = chatCompletionChunks(reply.model ?? model, pieces, includeUsage);
  const at = breakPoint(reply) ?? pieces.length;
  const injected = (reply.inject ?? []).map((delta) => ({ ...chunks[0]!, choices: [{ index: 0, delta, logprobs: null, finish_reason: null }] }));
  chunks.splice(1 + at, 0, ...injected);
  if (includeUsage) {
    const prompt = messages.reduce((sum, m) => sum + wordCount(textOf(m.content)), 0);
    const completion = pieces.length;
    chunks.at(-1)!.usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
    if (reply.usageOnFinish) chunks.at(-2)!.usage = chunks.pop()!.usage;
  }
  const all = [...chunks.map(sseEvent), SSE_DONE];
  // Injected deltas go out right before the break, which falls after them.
  const { events, ending } = breakEvents(all, 1 + injected.length, reply, sseEvent({ error: reply.errorEvent ?? OVERLOADED_EVENT }));
  return new Response(scriptedBody(events.filter(Boolean).map((e) => encoder.encode(e)), reply.delayMs ?? 0, ending, ex), {
    headers: { "content-type": SSE_TYPE, "cache-control": "no-cache", ...reply.headers },
  });
}

async function chatResponse(reply: Reply, model: string, request: Record<string, unknown>, ex: Exchange): Promise<Response> {
  switch (reply.kind) {
    case "stream": {
      const options = request.stream_options;
      const requested = typeof options === "object" && options !== null && "include_usage" in options && options.include_usage === true;
      return streamResponse(reply, model, requested, ex);
    }
    case "answer":
      return answerResponse(reply, model, request, ex);
    case "completion":
      if (reply.delayMs !== undefined) await wait(reply.delayMs, ex.signal);
      ex.settle("finished");
      return json(200, chatCompletion(model, reply.content ?? DEFAULT_CONTENT, reply.usage), reply.headers);
    case "error":
      ex.settle("finished");
      return json(reply.status, { error: reply.error ?? openAIError(reply.status, model) }, reply.headers);
    case "raw":
      ex.settle("finished");
      return new Response(reply.body, { status: reply.status, headers: { "content-type": reply.contentType ?? JSON_TYPE, ...reply.headers } });
    case "cutBody": {
      const text = JSON.stringify(chatCompletion(model, DEFAULT_CONTENT));
      const body = scriptedBody([encoder.encode(text.slice(0, text.length >> 1))], 0, "cut", ex);
      return new Response(body, { headers: { "content-type": JSON_TYPE } });
    }
    case "reset":
      ex.settle("torn");
      // Erroring synchronously in start() makes Bun reset the socket before writing a single byte of
      // the status line; erroring later (even one tick) can leak "HTTP/1.1 200 OK" first.
      return new Response(new ReadableStream({ start: (controller) => controller.error() }));
    case "stall":
      await untilAborted(ex.signal);
      return new Response(null, { status: 499 });
  }
}

export function fakeOpenAI(options: { models?: string[] } = {}): FakeOpenAI {
  const queue: Reply[] = [];
  const waiters: Array<(call: RecordedCall) => void> = [];
  let taken = 0;

  async function record(request: Request, path: string) {
    const recorded = await recordCall(request, path);
    fake.calls.push(recorded.call);
    const waiter = waiters.shift();
    if (waiter) (taken++, waiter(recorded.call));
    return recorded;
  }

  async function chat(request: Request, path: string): Promise<Response> {
    const { call, ex } = await record(request, path);
    const body = call.body;
    const fields: Record<string, unknown> = typeof body === "object" && body !== null ? { ...body } : {};
    const model = typeof fields.model === "string" ? fields.model : "gpt-4o-mini";
    const reply = queue.shift() ?? { kind: fields.stream === true ? "stream" : "completion" };
    return chatResponse(reply, model, fields, ex);
  }

  /**
   * `/v1/embeddings`: by default (or a `completion` reply, whose `usage` replaces the counted one)
   * the answer embeddingsText builds; other replies (errors, raw bodies, stalls, resets) as for chat.
   */
  async function embeddings(request: Request, path: string): Promise<Response> {
    const { call, ex } = await record(request, path);
    const body = call.body as EmbeddingsRequestBody;
    const reply = queue.shift();
    if (reply !== undefined && reply.kind !== "completion") return chatResponse(reply, String(body.model), { ...body }, ex);
    if (reply?.delayMs !== undefined) await wait(reply.delayMs, ex.signal);
    ex.settle("finished");
    return new Response(embeddingsText(body, reply?.usage && { prompt_tokens: reply.usage.prompt_tokens, total_tokens: reply.usage.total_tokens }), {
      headers: { "content-type": JSON_TYPE, ...reply?.headers },
    });
  }

  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const { pathname: path } = new URL(request.url);
      if (path === "/v1/chat/completions" && request.method === "POST") return chat(request, path);
      if (path === "/v1/embeddings" && request.method === "POST") return embeddings(request, path);
      if (request.method === "GET" && path === "/v1/models") {
        fake.modelsCalls++;
        return json(200, { object: "list", data: fake.models.map(modelObject) });
      }
      const modelId = request.method === "GET" && path.startsWith("/v1/models/") ? decodeURIComponent(path.slice(11)) : undefined;
      if (modelId !== undefined && fake.models.includes(modelId)) return json(200, modelObject(modelId));
      if (modelId !== undefined) {
        const error = { message: `The model '${modelId}' does not exist`, type: "invalid_request_error", param: "model", code: "model_not_found" };
        return json(404, { error });
      }
      const error = { message: `Invalid URL (${request.method} ${path})`, type: "invalid_request_error", param: null, code: null };
      return json(404, { error });
    },
  });

  const stop = () => server.stop(true);
  const fake: FakeOpenAI = {
    url: `http://127.0.0.1:${server.port}/v1`,
    calls: [],
    models: [...(options.models ?? ["gpt-4o-mini", "gpt-4o"])],
    modelsCalls: 0,
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
