import type { Continuation } from "../../config/provider-spec.ts";
import { badGateway } from "../../errors.ts";
import { callHeaders, type CallOptions, type ChatCall, type Completion, type ListedModel, type NativeRequest, type Provider } from "../provider.ts";
import { MODELS_BODY_CAP, readCapped } from "../read-body.ts";
import { fromUpstreamException, redactor, upstreamTooLarge, type Redact } from "../upstream-error.ts";
import { anthropicError, fromAnthropicResponse, statusOfErrorType } from "./errors.ts";
import { callableNames, fetchModels } from "./models.ts";
import { messageOf, nativeBody, nativeCompletion, nativeHeaders, tokenCountOf } from "./native.ts";
import { NativeEventStream } from "./native-stream.ts";
import { toMessagesRequest, type Translated } from "./request.ts";
import { toChatCompletion } from "./response.ts";
import { AnthropicEventStream } from "./stream.ts";
import { CallTimer, type Timeouts } from "./timer.ts";
import { endpoint } from "../endpoint.ts";

export interface AnthropicProviderOptions {
  id: string;
  /** e.g. `https://api.anthropic.com`; calls go to `{baseUrl}/v1/messages` and `{baseUrl}/v1/models`. */
  baseUrl: string;
  /** Sent as `x-api-key`; redacted from everything the upstream says. */
  apiKey: string | undefined;
  /** `anthropic-version`. Default `2023-06-01`. */
  version?: string;
  /** Extra request headers (e.g. `anthropic-beta`); they win over chatgate's own. */
  headers?: Record<string, string>;
  /** `max_tokens` when the client sets none (Anthropic requires one). Default 4096. */
  maxTokensDefault?: number;
  /** Drop parameters Anthropic cannot honour instead of answering 400. Default false. */
  dropParams?: boolean;
  timeouts: Timeouts;
  /** Largest non-streamed answer read; larger is a 502. Default 64 MiB. */
  maxUpstreamBytes?: number;
  /** The models this provider serves; when set, /v1/models is never called. */
  models?: string[];
  /** How long a fetched model list is reused. Default 60 s. */
  modelsTtlMs?: number;
  /** Take any model name, Anthropic's answer being the truth about it. Default: when no `models` are configured. */
  anyModel?: boolean;
  /** How it continues a partial answer (stream resume): `prefill` for models that accept one. Default none. */
  continuation?: Continuation;
  fetch?: typeof fetch;
}

/** A non-streamed answer, with the parameters dropped under drop_params. */
export interface AnthropicCompletion extends Completion {
  dropped: readonly string[];
}

/** A request sent to the Messages API: the translated request, or a native one (the client's Anthropic body). */
type Outgoing = { translated: Translated["request"] } | { native: NativeRequest; model: string };

/** Call options; `model` is the upstream model name (default: the client's). */
export type AnthropicCallOptions = Omit<CallOptions, "model"> & { model?: string };

/**
 * Anthropic's native Messages API behind the OpenAI wire format: requests are translated once
 * (request.ts), answers are built as OpenAI objects and serialised once (response.ts,
 * stream-translator.ts). Nothing Anthropic-shaped reaches an OpenAI client. A native request (a
 * client of `POST /v1/messages`) goes out as the client's bytes and its answer comes back as
 * Anthropic's bytes (native.ts, native-stream.ts).
 */
export class AnthropicProvider implements Provider {
  readonly type = "anthropic" as const;
  readonly id: string;
  readonly host: string;
  /** Always listed in the config file: its models show as `provider/model`. */
  readonly implicit = false;
  readonly continuation: Continuation;
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly redact: Redact;
  private readonly fetch: typeof fetch;
  private readonly maxBytes: number;
  private modelsCache: { at: number; models: ListedModel[]; ids: string[] } | undefined;

  constructor(private readonly options: AnthropicProviderOptions) {
    this.id = options.id;
    this.continuation = options.continuation ?? "none";
    this.base = options.baseUrl;
    this.host = new URL(this.base).host;
    this.headers = { "content-type": "application/json", "anthropic-version": options.version ?? "2023-06-01" };
    if (options.apiKey) this.headers["x-api-key"] = options.apiKey;
    Object.assign(this.headers, options.headers);
    this.redact = redactor(options.apiKey);
    this.fetch = options.fetch ?? fetch;
    this.maxBytes = options.maxUpstreamBytes ?? 64 * 1024 * 1024;
  }

  servesAnyModel(): boolean {
    return this.options.anyModel ?? this.options.models === undefined;
  }

  listedModels(): readonly string[] | undefined {
    return this.options.models ?? this.modelsCache?.ids;
  }

  /**
   * One JSON answer. Bounded by the total timeout alone: Anthropic sends nothing of a
   * non-streamed answer before all of it is generated, so a first-byte bound would cap its length.
   */
  async complete(call: ChatCall, options: AnthropicCallOptions): Promise<AnthropicCompletion> {
    const native = call.native;
    const { request, dropped } = native !== undefined ? { request: undefined, dropped: [] } : this.translate(call, options, false);
    const outgoing: Outgoing = native !== undefined ? { native, model: options.model ?? native.body.model } : { translated: request! };
    const limits = this.options.timeouts;
    const totalMs = Math.min(limits.totalMs, options.deadlineMs ?? Number.POSITIVE_INFINITY);
    const timer = new CallTimer(options.signal, { ...limits, firstByteMs: totalMs, totalMs });
    options.calls?.track(timer);
    let text: string | undefined;
    try {
      const res = await this.post(outgoing, call, timer.signal);
      if (!res.ok) throw await fromAnthropicResponse(this.id, res, this.redact);
      text = await readCapped(res, this.maxBytes);
    } catch (err) {
      throw fromUpstreamException(this.id, err, timer.expired !== undefined, options.signal, timer.expired ?? "", timer.stoppedWith);
    } finally {
      timer.clear();
    }
    if (text === undefined) throw upstreamTooLarge(this.id, "an answer", this.maxBytes);
    if (native !== undefined) return { completion: nativeCompletion(this.id, text), json: text, dropped, format: "anthropic" };
    const completion = toChatCompletion(messageOf(this.id, text));
    return { completion, json: JSON.stringify(completion), dropped };
  }

  /** Settles once Anthropic has accepted the stream (2xx, event-stream headers); see AnthropicEventStream. */
  async stream(call: ChatCall, options: AnthropicCallOptions): Promise<AnthropicEventStream | NativeEventStream> {
    const native = call.native;
    const { request, dropped } = native !== undefined ? { request: undefined, dropped: [] } : this.translate(call, options, true);
    const outgoing: Outgoing = native !== undefined ? { native, model: options.model ?? native.body.model } : { translated: request! };
    // `total` bounds a non-streamed answer; a stream is bounded by its first event (within what is
    // left of the request's deadline) and by the silence between events, however long it runs.
    const limits = this.options.timeouts;
    const firstByteMs = Math.min(limits.firstByteMs, options.deadlineMs ?? Number.POSITIVE_INFINITY);
    const timer = new CallTimer(options.signal, { firstByteMs, idleMs: limits.idleMs, totalMs: Number.POSITIVE_INFINITY });
    options.calls?.track(timer);
    let body: ReadableStream<Uint8Array>;
    try {
      const res = await this.post(outgoing, call, timer.signal);
      if (!res.ok) throw await fromAnthropicResponse(this.id, res, this.redact);
      const type = res.headers.get("content-type") ?? "";
      if (!type.startsWith("text/event-stream") || res.body === null) {
        await res.body?.cancel();
        throw badGateway(`Provider '${this.id}' answered a streamed request with '${type || "no content type"}' instead of an event stream.`);
      }
      body = res.body;
    } catch (err) {
      timer.clear();
      throw fromUpstreamException(this.id, err, timer.expired !== undefined, options.signal, timer.expired ?? "", timer.stoppedWith);
    }
    const onError = (error: { type?: string; message?: string }) => anthropicError(this.id, { status: statusOfErrorType(error.type), type: error.type, message: error.message }, this.redact);
    // As for an OpenAI-compatible upstream: a garbled event is told once a stream, not per event.
    const notObject = `from provider '${this.id}' whose data was not a JSON object`;
    if (native !== undefined) {
      // The client asked in Anthropic's format and gets Anthropic's bytes, garbled ones included.
      const onMalformed = (count: number) => console.warn(`chatgate: passed on ${count} event(s) ${notObject}`);
      return new NativeEventStream(body, { provider: this.id, timer, client: options.signal, redact: this.redact, onError, onMalformed });
    }
    return new AnthropicEventStream(body, {
      provider: this.id,
      timer,
      client: options.signal,
      includeUsage: call.body.stream_options?.include_usage === true,
      dropped,
      onError,
      onDropped: (count) => console.warn(`chatgate: dropped ${count} event(s) ${notObject}`),
    });
  }

  /** The configured list, or Anthropic's (GET /v1/models), as OpenAI model objects owned by this provider. */
  async models({ signal }: { signal: AbortSignal }): Promise<ListedModel[]> {
    const now = Date.now();
    if (this.options.models !== undefined) return this.options.models.map((id) => ({ id, object: "model", created: 0, owned_by: this.id }));
    if (this.modelsCache && now - this.modelsCache.at < (this.options.modelsTtlMs ?? 60_000)) return this.modelsCache.models;
    const limits = this.options.timeouts;
    const timer = new CallTimer(signal, { ...limits, firstByteMs: Math.min(limits.totalMs, 30_000), totalMs: Math.min(limits.totalMs, 30_000) });
    const cap = Math.min(this.maxBytes, MODELS_BODY_CAP);
    try {
      const get = (url: string) => this.fetch(url, { headers: this.headers, signal: timer.signal, redirect: "manual", timeout: false });
      const read = async (res: Response) => {
        if (!res.ok) throw await fromAnthropicResponse(this.id, res, this.redact);
        const text = await readCapped(res, cap);
        if (text === undefined) throw upstreamTooLarge(this.id, "a model list", cap);
        return text;
      };
      const models = await fetchModels(endpoint(this.base, "/v1/models"), this.id, get, read);
      this.modelsCache = { at: now, models, ids: callableNames(models.map((m) => m.id)) };
      return models;
    } catch (err) {
      throw fromUpstreamException(this.id, err, timer.expired !== undefined, signal, timer.expired ?? "model list");
    } finally {
      timer.clear();
    }
  }

  private translate(call: ChatCall, options: AnthropicCallOptions, stream: boolean): Translated {
    return toMessagesRequest(call.body, {
      provider: this.id,
      model: options.model ?? call.body.model,
      stream,
      maxTokensDefault: this.options.maxTokensDefault ?? 4096,
      dropParams: this.options.dropParams ?? false,
    });
  }

  /** Anthropic's token count of a native request (`POST /v1/messages/count_tokens`): its JSON text. Bounded by the total timeout. */
  async countTokens(native: NativeRequest, options: AnthropicCallOptions, call: Pick<ChatCall, "requestId" | "trace">): Promise<string> {
    const limits = this.options.timeouts;
    const totalMs = Math.min(limits.totalMs, options.deadlineMs ?? Number.POSITIVE_INFINITY);
    const timer = new CallTimer(options.signal, { ...limits, firstByteMs: totalMs, totalMs });
    try {
      const body = nativeBody(native, options.model ?? native.body.model);
      const headers = callHeaders(nativeHeaders(this.headers, native), call);
      const res = await this.fetch(endpoint(this.base, "/v1/messages/count_tokens"), { method: "POST", headers, body, signal: timer.signal, redirect: "manual", timeout: false });
      if (!res.ok) throw await fromAnthropicResponse(this.id, res, this.redact);
      const text = await readCapped(res, MODELS_BODY_CAP);
      if (text === undefined) throw upstreamTooLarge(this.id, "a token count", MODELS_BODY_CAP);
      return tokenCountOf(this.id, text);
    } catch (err) {
      throw fromUpstreamException(this.id, err, timer.expired !== undefined, options.signal, timer.expired ?? "", timer.stoppedWith);
    } finally {
      timer.clear();
    }
  }

  private post(outgoing: Outgoing, call: ChatCall, signal: AbortSignal): Promise<Response> {
    const url = endpoint(this.base, "/v1/messages");
    if ("translated" in outgoing) {
      return this.fetch(url, { method: "POST", headers: callHeaders(this.headers, call), body: JSON.stringify(outgoing.translated), signal, redirect: "manual", timeout: false });
    }
    const headers = callHeaders(nativeHeaders(this.headers, outgoing.native), call);
    return this.fetch(url, { method: "POST", headers, body: nativeBody(outgoing.native, outgoing.model), signal, redirect: "manual", timeout: false });
  }
}
