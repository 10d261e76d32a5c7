import type { CompletionUsage } from "openai/resources/completions";
import type { CacheMode } from "../cache/cache-control.ts";
import { replayStream } from "../cache/replay.ts";
import type { CacheUse, ResponseCache } from "../cache/response-cache.ts";
import { ShuttingDownError, badGateway, modelNotFound, toGatewayError, type GatewayError } from "../errors.ts";
import { completionUsage, sentInputUsage, sentPromptUsage, sharedUsage, streamUsage } from "../usage/estimate.ts";
import type { Stats } from "../obs/stats.ts";
import type { BeginTrace } from "../obs/trace-context.ts";
import type { AnswerFormat, ChatCall, Completion, EmbeddingCall, Embeddings, ListedModel, StreamSeen } from "../providers/provider.ts";
import type { Chain } from "./attempts.ts";
import { admit, resolveFor, type Client } from "./admission.ts";
import { committed, lookup, storedAnswer } from "./committed.ts";
import { embeddingRoute } from "./embedding-route.ts";
import { Finishes, type Outcome } from "./finish.ts";
import type { Router } from "./router.ts";
import { modelFor, modelsFor } from "./model-list.ts";
import { ResumingStream, resumableRequest } from "./resume.ts";
import type { Target } from "./route-table.ts";
import { Run, type Served } from "./run.ts";

/** A stream the gateway has committed to: its first event has arrived. */
export interface OpenStream {
  first: Uint8Array;
  rest: AsyncIterator<Uint8Array, void, undefined>;
  seen: StreamSeen;
  /** The first read already held the stream's end (`[DONE]` or an error event): `rest` has nothing more. */
  complete: boolean;
  served: Served;
  dropped: readonly string[] | undefined;
  /** The events' format when a provider answered a native request natively; absent: OpenAI's chunks. */
  format?: AnswerFormat;
  /** Called once when the response ends, however it ends: writes the request's finish record. */
  end(outcome: Outcome, error?: GatewayError): void;
  /** The stream's usage once it is whole: the upstream's, or the estimate its finish record carries. */
  usage?: () => Promise<CompletionUsage | undefined>;
}

/** A non-streamed answer and who served it. */
export interface Answer extends Completion {
  served: Served;
  /** The answer's usage: the upstream's, or the estimate its finish record carries. */
  usage?: () => Promise<CompletionUsage | undefined>;
}

/** An embeddings answer (the upstream's own JSON text) and who served it. */
export interface EmbeddingAnswer extends Embeddings {
  served: Served;
}

export type { Client };

/** The API route a request came in on, for its finish record: a webhook's is `/hooks/<name>` of a configured hook. */
export type ApiRoute = "/v1/chat/completions" | "/chat" | "/v1/messages" | "/v1/responses" | "/v1/embeddings" | `/hooks/${string}`;

/**
 * What the HTTP layer calls: no Elysia here, only requests in and typed answers out. Every request
 * it takes gets one finish record, however it ends (`finishes`), and counts as in flight until then.
 */
export class Gateway {
  readonly finishes = new Finishes();
  /** Requests taken and not yet finished: what a shutdown out of time stops. */
  private readonly live = new Set<Run>();
  private readonly forget = (run: Run): void => void this.live.delete(run);
  /** Unix seconds at start: the `created` of the public model names. */
  private readonly startedAt: number;
  /**
   * The response cache (src/cache/); undefined while no model has it on, so then nothing of it
   * runs. Swapped on a reload like the router; each request reads it once as it starts.
   */
  cache: ResponseCache | undefined;
  /**
   * Begins a request's trace from its `traceparent` and `tracestate` headers (src/obs/trace-context.ts)
   * while tracing is on (CHATGATE_OTLP_ENDPOINT); undefined: off, and nothing of it runs.
   */
  traces: BeginTrace | undefined;

  /**
   * The router and request timeout swap on a config reload: each request reads `router` once as it
   * starts and keeps it, so a stream in flight finishes on the providers and routes it began with.
   */
  constructor(
    public router: Router,
    private readonly stats: Stats,
    private readonly now: () => number = Date.now,
    public timeoutMs = 600_000,
  ) {
    this.startedAt = Math.floor(now() / 1000);
  }

  /** `cacheMode`: what the client's Cache-Control lets the response cache do (see cacheModeOf). */
  async complete(call: ChatCall, signal: AbortSignal, api: ApiRoute = "/v1/chat/completions", client: Client | null = null, cacheMode: CacheMode = "use"): Promise<Answer> {
    const run = this.begin(api, false, call, client);
    const router = this.router;
    const cache = this.cache;
    let answer: Completion;
    let use: CacheUse | undefined;
    try {
      const route = resolveFor(router, call.body.model, client);
      const admitting = admit(run, client, call, route);
      if (admitting !== undefined) await admitting;
      use = cache?.use(call, cacheMode);
      const stored = use && (await lookup(run, cache!, use, route));
      if (stored !== undefined) return storedAnswer(run, stored);
      ({ value: answer } = await router.run(route, this.chain(signal, run), (provider, target) => provider.complete(call, { signal, model: target.model, deadlineMs: this.left(run), calls: run })));
    } catch (err) {
      throw run.fail(toGatewayError(err), () => sentPromptUsage(call.body, run.attempts.at(-1)!.model));
    }
    run.firstByte();
    const usage = sharedUsage(() => completionUsage(answer.completion, call.body, run.served()!.model));
    run.finish(200, "ok", usage.get);
    const served = run.served()!;
    if (use !== undefined) cache!.saveCompletion(use, answer, served);
    return { ...answer, served, usage: usage.settled };
  }

  /**
   * Opens a stream and pulls its first event before returning, so everything that can fail
   * before the client sees a byte still fails with a real HTTP status (and may be retried).
   */
  async stream(call: ChatCall, signal: AbortSignal, api: ApiRoute = "/v1/chat/completions", client: Client | null = null, cacheMode: CacheMode = "use"): Promise<OpenStream> {
    const run = this.begin(api, true, call, client);
    const router = this.router;
    const cache = this.cache;
    let opened: Omit<OpenStream, "served" | "end">;
    let use: CacheUse | undefined;
    let target: Target;
    let resuming: ResumingStream | undefined;
    try {
      const route = resolveFor(router, call.body.model, client);
      const admitting = admit(run, client, call, route);
      if (admitting !== undefined) await admitting;
      use = cache?.use(call, cacheMode);
      const stored = use && (await lookup(run, cache!, use, route));
      if (stored !== undefined) return committed(run, replayStream(stored, call.body.stream_options?.include_usage === true));
      const resumable = route.resume && resumableRequest(call);
      ({ value: opened, target } = await router.run(route, this.chain(signal, run), async (provider, target) => {
        const events = await provider.stream(call, { signal, model: target.model, deadlineMs: this.left(run), calls: run, resumable });
        const rest = events[Symbol.asyncIterator]();
        const first = await rest.next().catch(async (err: unknown) => {
          await rest.return?.();
          throw err;
        });
        if (first.done) throw badGateway(`Provider '${provider.id}' ended its stream before its first event.`, "upstream_stream_truncated");
        const seen = events.seen;
        return { first: first.value, rest, seen, complete: seen.done || seen.errorEvent, dropped: events.dropped, format: events.format };
      }));
      // Off, or whole already: nothing to resume, and nothing on the stream's path costs anything.
      if (resumable && !opened.complete) {
        opened.rest = resuming = new ResumingStream(opened.first, opened.rest, { route, call, target, signal, run, seen: opened.seen }, router.resume);
      }
    } catch (err) {
      throw run.fail(toGatewayError(err), () => sentPromptUsage(call.body, run.attempts.at(-1)!.model));
    }
    // The upstream's usage, else an estimate of the prompt and of what the client was sent.
    const seen = opened.seen;
    const usage = resuming !== undefined ? () => resuming.usage() : () => streamUsage(seen, call.body, run.served()!.model);
    return committed(run, opened, use && { cache: cache!, use, call, model: target.model }, usage);
  }

  /**
   * OpenAI's embeddings API through the same router as chat (retries, fallback, cooldown, the
   * client key's admission), over the route's targets that offer embeddings. Never cached. Its
   * record's usage has no completion tokens.
   */
  async embed(call: EmbeddingCall, signal: AbortSignal, client: Client | null = null): Promise<EmbeddingAnswer> {
    const run = this.begin("/v1/embeddings", false, call, client);
    const router = this.router;
    let answer: Embeddings;
    try {
      const route = embeddingRoute(resolveFor(router, call.body.model, client), router.providers);
      const admitting = admit(run, client, call, route);
      if (admitting !== undefined) await admitting;
      // embeddingRoute keeps only targets whose provider has `embed`.
      ({ value: answer } = await router.run(route, this.chain(signal, run), (provider, target) => provider.embed!(call, { signal, model: target.model, deadlineMs: this.left(run), calls: run })));
    } catch (err) {
      throw run.fail(toGatewayError(err), () => sentInputUsage(call.body.input, run.attempts.at(-1)!.model));
    }
    run.firstByte();
    const usage = answer.usage;
    // No usage in the answer: the input counted, as for a client that left.
    run.finish(200, "ok", () => (usage ? { prompt_tokens: usage.prompt_tokens, completion_tokens: 0, total_tokens: usage.total_tokens } : sentInputUsage(call.body.input, run.served()!.model)));
    return { ...answer, served: run.served()! };
  }

  /**
   * The native request's input tokens as the route's first target counts them, when its provider
   * can (Anthropic's `count_tokens`): the upstream's JSON text and who counted. Undefined: the caller counts.
   */
  async countTokens(call: ChatCall, signal: AbortSignal, client: Client | null = null): Promise<{ json: string; served: Served } | undefined> {
    const router = this.router;
    const target = resolveFor(router, call.body.model, client).targets[0];
    const provider = target && router.providers.get(target.provider);
    if (call.native === undefined || provider?.countTokens === undefined) return undefined;
    const served: Served = { provider: target!.provider, model: target!.model, attempts: 1 };
    try {
      return { json: await provider.countTokens(call.native, { signal, model: target!.model, deadlineMs: this.timeoutMs }, call), served };
    } catch (err) {
      // Who was asked, on the error too: its headers say so, and a refused key is no retry's to fix (x-should-retry).
      throw toGatewayError(err).with({ served });
    }
  }

  /** Whether a request for `model` goes first to an Anthropic provider, which takes the client's own Messages request. */
  answersNatively(model: string, client: Client | null = null): boolean {
    try {
      const first = resolveFor(this.router, model, client).targets[0];
      return first !== undefined && this.router.providers.get(first.provider)?.type === "anthropic";
    } catch {
      // A name nothing serves: the request fails on it when routed.
      return false;
    }
  }

  /** The models a caller can use; `allowed` (a client key's models) keeps only those (see modelsFor). */
  models(signal: AbortSignal, allowed?: ReadonlySet<string>): Promise<ListedModel[]> {
    return modelsFor(this.router, this.startedAt, signal, allowed);
  }

  /** One model as the list shows it (see modelFor); a 404 `model_not_found` for any other name. */
  async model(id: string, signal: AbortSignal, allowed?: ReadonlySet<string>): Promise<ListedModel> {
    const model = await modelFor(this.router, this.startedAt, signal, id, allowed);
    if (model === undefined) throw modelNotFound(id);
    return model;
  }

  /**
   * Ends every request still in flight: a JSON request gets a 503 `server_shutting_down`, a
   * committed stream one error event saying so. For a shutdown whose drain time ran out.
   */
  stopAll(): void {
    for (const run of this.live) run.stop(new ShuttingDownError());
  }

  private begin(api: ApiRoute, stream: boolean, call: { body: { model: string }; requestId?: string; trace?: ChatCall["trace"] }, client: Client | null): Run {
    const run = new Run(this.finishes, this.stats, this.now, api, stream, call.body.model, this.forget, call.requestId ?? null, client?.id ?? null, call.trace);
    this.live.add(run);
    return run;
  }

  private chain(signal: AbortSignal, run: Run): Chain {
    run.deadlineAt = this.now() + this.timeoutMs;
    return { signal, deadlineAt: run.deadlineAt, attempts: run.attempts, trace: run.trace, calls: run };
  }

  /** What is left of the request's overall deadline, for the next attempt. */
  private left(run: Run): number {
    return Math.max(1, run.deadlineAt - this.now());
  }
}
