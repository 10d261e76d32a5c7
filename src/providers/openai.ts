import type { Continuation } from "../config/provider-spec.ts";
import type { ChatCompletion } from "openai/resources/chat/completions";
import { badGateway, type GatewayError } from "../errors.ts";
import type { Model } from "../schema.ts";
import { Deadline } from "./deadline.ts";
import { StreamSeen, callHeaders, type CallOptions, type ChatCall, type Completion, type EmbeddingCall, type Embeddings, type EventStream, type ModelsOptions, type Provider } from "./provider.ts";
import { MODELS_BODY_CAP, readCapped } from "./read-body.ts";
import { postForText, type TextUpstream } from "./post-for-text.ts";
import { passThroughEvents } from "./sse-passthrough.ts";
import { fromErrorEvent, fromUpstreamException, fromUpstreamResponse, redactor, upstreamTooLarge, type Redact } from "./upstream-error.ts";
import { serialisedWith } from "./request-body.ts";
import { endpoint } from "./endpoint.ts";

export interface OpenAIProviderOptions {
  id: string;
  /** e.g. `https://api.openai.com/v1`; calls go to `{baseUrl}/chat/completions` and `{baseUrl}/models`. */
  baseUrl: string;
  apiKey: string | undefined;
  timeouts: {
    /** Longest wait for a stream's first event. */
    firstByteMs: number;
    /** Longest silence between a stream's events. */
    idleMs: number;
    /** Longest wait for a whole non-streamed answer. */
    totalMs: number;
  };
  /** How long a fetched model list is reused. Default 60 s. */
  modelsTtlMs?: number;
  /** Largest non-streamed answer read (CHATGATE_MAX_UPSTREAM_BYTES); larger is a 502. Default 64 MiB. */
  maxUpstreamBytes?: number;
  /** Most stream bytes handed to a client in one piece (CHATGATE_STREAM_BUFFER_BYTES). Default 1 MiB. */
  streamBufferBytes?: number;
  /** Extra headers on every upstream call (e.g. Azure's `api-key`). */
  headers?: Record<string, string>;
  /** The models it serves, when configured; otherwise its /models answer is the list. */
  models?: readonly string[];
  /** Takes any model name (the env-only provider): the upstream's own 404 is the truth about a name. */
  anyModel?: boolean;
  /** Made by the environment rather than listed in the config file. */
  implicit?: boolean;
  /** How it continues a partial answer (stream resume). Default none. */
  continuation?: Continuation;
  fetch?: typeof fetch;
}

/** What goes right after a request's opening brace to ask for a stream's usage. */
const ASK_USAGE = '"stream_options":{"include_usage":true},';
const ASK_USAGE_BYTES = Buffer.from(ASK_USAGE);

/**
 * The body to send for `model`: the client's own bytes when the model is the one it asked for,
 * else the request serialised once with the model replaced. With `askUsage` (a stream whose client
 * did not ask for usage) it asks for `stream_options.include_usage` too, so the upstream reports
 * what the answer cost; the client's stream is cleared of it on the way back (PassThroughOptions).
 * A client that sent no `stream_options` (the common case) still has its bytes sent, the field
 * spliced in after the opening brace; only one that sent `stream_options` without include_usage
 * has its request serialised again.
 */
export function bodyFor(call: ChatCall, model: string, askUsage = false): string | Uint8Array {
  const options = call.body.stream_options;
  if (!askUsage || options?.include_usage === true) return model === call.body.model ? call.raw : serialisedWith(call, { model });
  if (options === undefined && model === call.body.model) return withUsageAsked(call.raw);
  return serialisedWith(call, { model, stream_options: { ...options, include_usage: true } });
}

/** The request's bytes with ASK_USAGE after the opening brace (a JSON object: its first `{`). */
function withUsageAsked(raw: string | Uint8Array): string | Uint8Array {
  if (typeof raw === "string") {
    const at = raw.indexOf("{") + 1;
    return raw.slice(0, at) + ASK_USAGE + raw.slice(at);
  }
  // Copied whole, shifted, then the head moved back: no views of the request's small array (a view
  // makes the engine move it to a separate backing store).
  const at = raw.indexOf(123) + 1;
  const shift = ASK_USAGE_BYTES.length;
  const out = new Uint8Array(raw.length + shift);
  out.set(raw, shift);
  out.copyWithin(0, shift, shift + at);
  out.set(ASK_USAGE_BYTES, at);
  return out;
}

/**
 * A 4xx naming `stream_options`: an upstream (an older OpenAI-compatible server or API version)
 * that does not take the field chatgate added.
 */
const refusesStreamOptions = (err: GatewayError): boolean =>
  (err.upstreamStatus === 400 || err.upstreamStatus === 422) && (err.param === "stream_options" || /stream_options/.test(err.message));

/**
 * Any upstream that speaks OpenAI's chat-completions API. Requests go out as the client's own
 * bytes; answers come back as the upstream's own bytes (JSON parsed once, to check it and to read
 * usage; streams scanned on the side, never re-serialised).
 */
export class OpenAIProvider implements Provider {
  readonly type = "openai" as const;
  readonly id: string;
  readonly host: string;
  readonly implicit: boolean;
  readonly continuation: Continuation;
  private readonly completionsUrl: string;
  private readonly modelsUrl: string;
  private readonly headers: Record<string, string>;
  private readonly redact: Redact;
  /** Our key's bytes, searched for in what a stream passes on (undefined: no key). */
  private readonly secret: Uint8Array | undefined;
  private readonly fetch: typeof fetch;
  private readonly maxBytes: number;
  /** This upstream as a whole-answer call (a completion, embeddings) sees it. */
  private readonly whole: TextUpstream;
  private modelsCache: { at: number; models: Model[]; ids: string[] } | undefined;
  /** The upstream answered a stream_options it had not been sent by its client with a 400: not sent again. */
  private refusesStreamOptions = false;

  constructor(private readonly options: OpenAIProviderOptions) {
    this.id = options.id;
    this.host = new URL(options.baseUrl).host;
    this.implicit = options.implicit === true;
    this.continuation = options.continuation ?? "none";
    this.completionsUrl = endpoint(options.baseUrl, "/chat/completions");
    this.modelsUrl = endpoint(options.baseUrl, "/models");
    this.headers = { ...options.headers, "content-type": "application/json", accept: "application/json, text/event-stream" };
    if (options.apiKey) this.headers.authorization = `Bearer ${options.apiKey}`;
    this.redact = redactor(options.apiKey);
    this.secret = options.apiKey ? Buffer.from(options.apiKey) : undefined;
    this.fetch = options.fetch ?? fetch;
    this.maxBytes = options.maxUpstreamBytes ?? 64 * 1024 * 1024;
    this.whole = { id: this.id, fetch: this.fetch, redact: this.redact, maxBytes: this.maxBytes, totalMs: options.timeouts.totalMs };
  }

  servesAnyModel(): boolean {
    return this.options.anyModel === true;
  }

  listedModels(): readonly string[] | undefined {
    return this.options.models ?? this.modelsCache?.ids;
  }

  async complete(call: ChatCall, options: CallOptions): Promise<Completion> {
    const json = await postForText(this.whole, this.completionsUrl, callHeaders(this.headers, call), bodyFor(call, options.model), options);
    let completion: ChatCompletion;
    try {
      completion = JSON.parse(json) as ChatCompletion;
    } catch {
      throw badGateway(`Provider '${this.id}' answered with a body that is not valid JSON.`);
    }
    if (!completion || typeof completion !== "object" || !Array.isArray(completion.choices)) {
      throw badGateway(`Provider '${this.id}' answered with JSON that is not a chat completion.`);
    }
    return { completion, json };
  }

  async stream(call: ChatCall, { signal, model, deadlineMs, calls, resumable }: CallOptions): Promise<EventStream> {
    const { idleMs } = this.options.timeouts;
    const firstByteMs = Math.min(this.options.timeouts.firstByteMs, deadlineMs ?? Number.POSITIVE_INFINITY);
    const idle = new Deadline(signal, firstByteMs, idleMs);
    calls?.track(idle);
    const what = () => (idle.touched ? `no event for ${idleMs} ms` : `no first event within ${firstByteMs} ms`);
    const classify = (err: unknown) => fromUpstreamException(this.id, err, idle.timedOut, signal, what(), idle.stoppedWith);
    // chatgate asks for usage when the client did not, unless this upstream refused the field once.
    const asked = call.body.stream_options?.include_usage === true;
    const ask = !asked && !this.refusesStreamOptions;
    let body: ReadableStream<Uint8Array>;
    try {
      // `timeout: false` on every upstream fetch: Bun's own socket idle timer (5 minutes) cut a long
      // non-streamed answer and the call was made again; chatgate's timers (first_byte, idle, total) bound each call.
      const post = (askUsage: boolean) => this.fetch(this.completionsUrl, { method: "POST", headers: callHeaders(this.headers, call), body: bodyFor(call, model, askUsage), signal: idle.signal, redirect: "manual", timeout: false });
      let res = await post(ask);
      if (!res.ok && ask) {
        const err = await fromUpstreamResponse(this.id, res, this.redact);
        if (!refusesStreamOptions(err)) throw err;
        this.refusesStreamOptions = true;
        console.warn(`chatgate: provider '${this.id}' refused stream_options (${err.message}); its streams' usage is estimated from now on`);
        res = await post(false);
      }
      if (!res.ok) throw await fromUpstreamResponse(this.id, res, this.redact);
      const type = res.headers.get("content-type") ?? "";
      if (!type.startsWith("text/event-stream") || res.body === null) {
        await res.body?.cancel();
        throw badGateway(`Provider '${this.id}' answered a streamed request with '${type || "no content type"}' instead of an event stream.`);
      }
      body = res.body;
    } catch (err) {
      idle.clear();
      throw classify(err);
    }
    const seen = new StreamSeen();
    const cut = (detail: string) => badGateway(`Provider '${this.id}' stream broke: ${detail}.`, "upstream_stream_truncated");
    const tooLarge = (what: string, limit: number) => upstreamTooLarge(this.id, what, limit);
    const dropUsageChunks = !asked;
    const failedEarly = (data: string) => fromErrorEvent(this.id, data, this.redact);
    const choices = call.body.n ?? 1;
    const onDropped = (count: number) => console.warn(`chatgate: dropped ${count} event(s) from provider '${this.id}' whose data was not a JSON object`);
    const events = passThroughEvents(body, seen, {
      idle, classify, cut, tooLarge, failedEarly, choices, onDropped, redact: this.redact, secret: this.secret, dropUsageChunks, maxRunBytes: this.options.streamBufferBytes,
      failedMidStream: resumable ? (data: string) => fromErrorEvent(this.id, data, this.redact, "during") : undefined,
      failedInBand: (data: string) => fromErrorEvent(this.id, data, this.redact, "during"),
    });
    return { seen, [Symbol.asyncIterator]: () => events };
  }

  /** `{baseUrl}/embeddings` with the client's bytes (see openai-embeddings.ts, loaded on first use). */
  async embed(call: EmbeddingCall, options: CallOptions): Promise<Embeddings> {
    const { postEmbeddings } = await import("./openai-embeddings.ts");
    const up = { ...this.whole, url: endpoint(this.options.baseUrl, "/embeddings"), headers: this.headers };
    return postEmbeddings(up, call, options);
  }

  async models({ signal }: ModelsOptions): Promise<Model[]> {
    // A configured list is the truth: no need to ask the upstream.
    if (this.options.models !== undefined) return this.options.models.map((id) => ({ id, object: "model", created: 0, owned_by: this.id }));
    const ttl = this.options.modelsTtlMs ?? 60_000;
    if (this.modelsCache && Date.now() - this.modelsCache.at < ttl) return this.modelsCache.models;
    const deadline = new Deadline(signal, Math.min(this.options.timeouts.totalMs, 30_000));
    const cap = Math.min(this.maxBytes, MODELS_BODY_CAP);
    let text: string | undefined;
    try {
      const res = await this.fetch(this.modelsUrl, { headers: this.headers, signal: deadline.signal, redirect: "manual", timeout: false });
      if (!res.ok) throw await fromUpstreamResponse(this.id, res, this.redact);
      text = await readCapped(res, cap);
    } catch (err) {
      throw fromUpstreamException(this.id, err, deadline.timedOut, signal, "model list");
    } finally {
      deadline.clear();
    }
    if (text === undefined) throw upstreamTooLarge(this.id, "a model list", cap);
    let list: unknown;
    try {
      list = JSON.parse(text);
    } catch {
      throw badGateway(`Provider '${this.id}' answered /models with a body that is not valid JSON.`);
    }
    const data = list && typeof list === "object" && Array.isArray((list as { data?: unknown }).data) ? (list as { data: unknown[] }).data : [];
    const models: Model[] = [];
    for (const item of data) {
      if (!item || typeof item !== "object" || typeof (item as { id?: unknown }).id !== "string") continue;
      const m = item as { id: string; created?: unknown; owned_by?: unknown };
      models.push({
        id: m.id,
        object: "model",
        created: typeof m.created === "number" ? m.created : 0,
        owned_by: typeof m.owned_by === "string" ? m.owned_by : this.id,
      });
    }
    this.modelsCache = { at: Date.now(), models, ids: models.map((m) => m.id) };
    return models;
  }
}
