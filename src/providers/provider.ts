import type { ChatCompletion } from "openai/resources/chat/completions";
import type { CompletionUsage } from "openai/resources/completions";
import type { GatewayError } from "../errors.ts";
import type { Continuation } from "../config/provider-spec.ts";
import type { RequestTrace } from "../obs/trace-context.ts";
import type { ChatRequest, Model } from "../schema.ts";
import type { EmbeddingRequest } from "../embeddings-schema.ts";
import { Delivered } from "../usage/delivered.ts";
import type { ModelInfo } from "./anthropic/wire.ts";

/**
 * A model as a provider lists it: OpenAI's model object, and for a model an Anthropic provider
 * listed, Anthropic's own object for it (`anthropic`), which the model list in Anthropic's shape
 * carries (display name, lifecycle, limits, capabilities). OpenAI's list leaves it out.
 */
export type ListedModel = Model & { anthropic?: ModelInfo };

/** One chat call as a provider sees it. */
export interface ChatCall {
  /** The validated request. */
  body: ChatRequest;
  /** The request exactly as the client sent it: forwarded byte for byte when nothing changes. */
  raw: string | Uint8Array;
  /** The request's id (`x-request-id`), sent upstream with every call made for it. */
  requestId?: string;
  /** The request's trace while tracing is on (CHATGATE_OTLP_ENDPOINT): each call sends its attempt's `traceparent`. */
  trace?: RequestTrace;
  /**
   * The request as the client sent it in another API's format (`POST /v1/messages`): a provider
   * that speaks that format sends it instead of `body` and answers in it; the others ignore it.
   */
  native?: NativeRequest;
  /**
   * The body is another API's request translated to chat (`/v1/messages`, `/v1/responses`): that
   * API's own rules judged it, not chat's (Anthropic takes more than 4 stop sequences, OpenAI's chat does not).
   */
  translated?: true;
}

/** A request in Anthropic's Messages format, next to its OpenAI translation in `ChatCall.body`. */
export interface NativeRequest {
  format: "anthropic";
  /** The client's bytes, sent as they are when the target's model is the one it named. */
  raw: string | Uint8Array;
  /** The parsed body: sent with `model` replaced otherwise. */
  body: { model: string };
  /** The client's `anthropic-beta` header, which the body's beta fields need. */
  beta?: string;
  /** The client's `anthropic-version`: the API version its body is written for (Claude Code's gateway contract). */
  version?: string;
}

/** What an answer is shaped as: OpenAI's chat completions (absent), or the native request's format. */
export type AnswerFormat = NativeRequest["format"];

/** One embeddings call as a provider sees it: the validated request and the client's own bytes. */
export interface EmbeddingCall {
  /** Tells it from a ChatCall where either may come (a client key's admission); both bodies are open to any field. */
  kind: "embeddings";
  body: EmbeddingRequest;
  raw: string | Uint8Array;
  requestId?: string;
  /** While tracing is on: the request's trace, whose current attempt's `traceparent` goes upstream. */
  trace?: ChatCall["trace"];
}

/** What an embeddings call used: OpenAI reports prompt and total tokens only. */
export interface EmbeddingUsage {
  prompt_tokens: number;
  total_tokens: number;
}

/** An embeddings answer: the upstream's own JSON text, passed on as is, and the usage read from it. */
export interface Embeddings {
  json: string;
  /** Undefined: the upstream reported none. */
  usage: EmbeddingUsage | undefined;
}

/**
 * A provider's fixed headers plus the request's id, so the upstream's logs can be matched to ours,
 * and, while tracing is on, the current attempt's `traceparent` (and the caller's `tracestate`).
 */
export function callHeaders(base: Record<string, string>, call: { requestId?: string; trace?: ChatCall["trace"] }): Record<string, string> {
  const trace = call.trace;
  if (trace === undefined) return call.requestId === undefined ? base : { ...base, "x-request-id": call.requestId };
  const headers: Record<string, string> = { ...base, traceparent: trace.traceparent() };
  if (call.requestId !== undefined) headers["x-request-id"] = call.requestId;
  if (trace.state !== undefined) headers.tracestate = trace.state;
  return headers;
}

export interface CallOptions {
  /** The request's signal (the client's, joined with the overall deadline): aborting it cancels the upstream call. */
  signal: AbortSignal;
  /**
   * The model name to ask this provider for. When it equals the client's, an OpenAI-compatible
   * upstream gets the client's bytes as they are; otherwise the body is serialised once with it.
   */
  model: string;
  /**
   * What is left of the request's overall deadline (CHATGATE_TIMEOUT_MS), in ms: the provider's own
   * timers never wait past it. Undefined: no deadline beyond the provider's own timeouts.
   */
  deadlineMs?: number;
  /** Told how to stop this call (`track(call)`), so a shutdown can end it with its own error. */
  calls?: CallTracker;
  /**
   * The stream may be resumed if it breaks: an upstream error event after the first content is
   * thrown (so the gateway can continue the answer elsewhere), never passed on to the client.
   */
  resumable?: boolean;
}

/** An upstream call in flight that the gateway can stop (a shutdown whose drain time ran out). */
export interface Stoppable {
  stop(reason: GatewayError): void;
}

/** Keeps the call in flight for a request (a method on an object, not a closure per request). */
export interface CallTracker {
  track(call: Stoppable): void;
}

export interface ModelsOptions {
  signal: AbortSignal;
}

/** A non-streamed answer: the typed completion, and the upstream's own JSON text to pass on as is. */
export interface Completion {
  completion: ChatCompletion;
  json: string;
  /** Request parameters the provider could not honour and dropped (`drop_params`). */
  dropped?: readonly string[];
  /** Set when `json` is in the native request's format; `completion` then holds only its usage. */
  format?: AnswerFormat;
}

/**
 * A streamed answer, already accepted by the upstream (2xx, headers read). Iterating yields
 * wire-ready SSE bytes — whole events only, `data: [DONE]` included when the upstream finished —
 * and throws a GatewayError when the stream breaks (cut, timeout, ended without `[DONE]`), so the
 * edge can end it with an error event. `seen` fills in as events pass.
 */
export interface EventStream extends AsyncIterable<Uint8Array> {
  readonly seen: StreamSeen;
  /** Request parameters the provider could not honour and dropped (`drop_params`). */
  readonly dropped?: readonly string[];
  /** Set when the events are in the native request's format (Anthropic's SSE), not OpenAI's chunks. */
  readonly format?: AnswerFormat;
}

/** What the gateway saw of a passing stream. */
export class StreamSeen {
  /** `[DONE]` arrived: the answer is complete. */
  done = false;
  /** The upstream sent an in-band `{"error": …}` event (passed on; the stream ends after it). */
  errorEvent = false;
  /** That event's data, as it came (read only to classify it). */
  errorData: string | undefined;
  /** That event as the gateway classifies it: what the request's record and its attempt say it ended with. */
  failure: GatewayError | undefined;
  /** The data of the event that carried usage: parsed only when someone asks for it. */
  usageData: string | undefined;
  /** Data events passed to the client so far (what a cut stream reports). */
  events = 0;
  /** Events dropped because their data was not a JSON object (a proxy's garbled chunk). */
  dropped = 0;
  /** Choices that got their `finish_reason`: a stream that ends cleanly after every one is complete. */
  finished = 0;
  /**
   * `usage` has the upstream's prompt count but not its final completion count (an Anthropic stream
   * cut before `message_delta`): the completion is estimated from what was delivered.
   */
  completionUnknown = false;
  /** The chunks handed to the client, kept until the stream ends in case its usage must be estimated. */
  readonly delivered = new Delivered();
  private usageValue: CompletionUsage | undefined;

  get usage(): CompletionUsage | undefined {
    if (this.usageValue === undefined && this.usageData !== undefined) {
      try {
        this.usageValue = (JSON.parse(this.usageData) as { usage?: CompletionUsage | null }).usage ?? undefined;
      } catch {
        // a malformed chunk is the client's to see; usage stays unknown
      }
      this.usageData = undefined;
    }
    return this.usageValue;
  }

  set usage(usage: CompletionUsage | undefined) {
    this.usageValue = usage;
  }
}

export interface Provider {
  readonly id: string;
  /** The adapter kind, as the config names it (`openai`, `anthropic`, `mock`). */
  readonly type: string;
  /** Host of the upstream, shown by /status; null for providers with no network upstream. */
  readonly host: string | null;
  /** Made by the environment (the env-only set-up): /v1/models lists its models by plain name. */
  readonly implicit: boolean;
  /** Whether and how it continues a partial answer (stream resume): the request shape its API accepts. */
  readonly continuation: Continuation;
  /** Whether this provider takes any model name, its own answer being the truth about it. */
  servesAnyModel(): boolean;
  /** The model names known now without a network call (configured, or last fetched); undefined: not known yet. */
  listedModels(): readonly string[] | undefined;
  models(options: ModelsOptions): Promise<ListedModel[]>;
  complete(call: ChatCall, options: CallOptions): Promise<Completion>;
  stream(call: ChatCall, options: CallOptions): Promise<EventStream>;
  /** OpenAI's embeddings API; absent where the upstream has none (Anthropic): routes skip such targets. */
  embed?(call: EmbeddingCall, options: CallOptions): Promise<Embeddings>;
  /**
   * Counts the native request's input tokens upstream (Anthropic's `count_tokens`), answering the
   * upstream's JSON text once it is a count; `call` gives the request's id and trace to send. Absent: the provider cannot, and the gateway counts with its tokenizer.
   */
  countTokens?(native: NativeRequest, options: CallOptions, call: Pick<ChatCall, "requestId" | "trace">): Promise<string>;
}
