import { ShuttingDownError, badGateway, modelNotFound, toGatewayError, type GatewayError } from "../errors.ts";
import type { Stats } from "../obs/stats.ts";
import type { ChatCall, Completion, StreamSeen } from "../providers/provider.ts";
import type { Model } from "../schema.ts";
import type { Chain } from "./attempts.ts";
import { Finishes, type Outcome } from "./finish.ts";
import type { Router } from "./router.ts";
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
  /** Called once when the response ends, however it ends: writes the request's finish record. */
  end(outcome: Outcome, error?: GatewayError): void;
}

/** A non-streamed answer and who served it. */
export interface Answer extends Completion {
  served: Served;
}

/** The API route a request came in on, for its finish record. */
export type ApiRoute = "/v1/chat/completions" | "/chat";

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

  async complete(call: ChatCall, signal: AbortSignal, api: ApiRoute = "/v1/chat/completions", keyId: string | null = null): Promise<Answer> {
    const run = this.begin(api, false, call, keyId);
    const router = this.router;
    let answer: Completion;
    try {
      const route = router.resolve(call.body.model);
      ({ value: answer } = await router.run(route, this.chain(signal, run), (provider, target) => provider.complete(call, { signal, model: target.model, deadlineMs: this.left(run), calls: run })));
    } catch (err) {
      throw run.fail(toGatewayError(err));
    }
    run.firstByte();
    run.finish(200, "ok", () => answer.completion.usage ?? undefined);
    return { ...answer, served: run.served()! };
  }

  /**
   * Opens a stream and pulls its first event before returning, so everything that can fail
   * before the client sees a byte still fails with a real HTTP status (and may be retried).
   */
  async stream(call: ChatCall, signal: AbortSignal, api: ApiRoute = "/v1/chat/completions", keyId: string | null = null): Promise<OpenStream> {
    const run = this.begin(api, true, call, keyId);
    const router = this.router;
    let opened: Omit<OpenStream, "served" | "end">;
    try {
      const route = router.resolve(call.body.model);
      const resumable = route.resume && resumableRequest(call);
      let target: Target;
      ({ value: opened, target } = await router.run(route, this.chain(signal, run), async (provider, target) => {
        const events = await provider.stream(call, { signal, model: target.model, deadlineMs: this.left(run), calls: run, resumable });
        const rest = events[Symbol.asyncIterator]();
        const first = await rest.next().catch(async (err: unknown) => {
          await rest.return?.();
          throw err;
        });
        if (first.done) throw badGateway(`Provider '${provider.id}' ended its stream before its first event.`, "upstream_stream_truncated");
        const seen = events.seen;
        return { first: first.value, rest, seen, complete: seen.done || seen.errorEvent, dropped: events.dropped };
      }));
      // Off, or whole already: nothing to resume, and nothing on the stream's path costs anything.
      if (resumable && !opened.complete) {
        opened.rest = new ResumingStream(opened.first, opened.rest, { route, call, target, signal, run, seen: opened.seen }, router.resume);
      }
    } catch (err) {
      throw run.fail(toGatewayError(err));
    }
    run.firstByte();
    const seen = opened.seen;
    // A committed stream's status is the 200 already sent; the outcome says how it ended.
    const usage = () => seen.usage;
    const end = (outcome: Outcome, error?: GatewayError) => run.finish(200, outcome, usage, error ? (error.code ?? error.type) : null);
    return { ...opened, served: run.served()!, end };
  }

  /**
   * What a caller can use: the public model names (owned by chatgate), then each provider's models
   * as `provider/model` — or by their plain name for the env-only set-up's providers, as before
   * there was a config file. A provider whose list fails is left out; only when every
   * one fails is that an error.
   */
  async models(signal: AbortSignal): Promise<Model[]> {
    const router = this.router;
    const byId = new Map<string, Model>();
    for (const name of router.table.publicNames) byId.set(name, { id: name, object: "model", created: this.startedAt, owned_by: "chatgate" });
    const lists = await Promise.allSettled(router.all.map((p) => p.models({ signal })));
    const failed = lists.find((l): l is PromiseRejectedResult => l.status === "rejected");
    if (failed !== undefined && lists.every((l) => l.status === "rejected")) throw failed.reason;
    lists.forEach((list, i) => {
      if (list.status === "rejected") return;
      const provider = router.all[i]!;
      const prefix = provider.implicit ? "" : `${provider.id}/`;
      for (const model of list.value) {
        const id = prefix + model.id;
        if (!byId.has(id)) byId.set(id, { ...model, id, owned_by: provider.implicit ? model.owned_by : provider.id });
      }
    });
    return [...byId.values()];
  }

  async model(id: string, signal: AbortSignal): Promise<Model> {
    const model = (await this.models(signal)).find((m) => m.id === id);
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

  private begin(api: ApiRoute, stream: boolean, call: ChatCall, keyId: string | null): Run {
    const run = new Run(this.finishes, this.stats, this.now, api, stream, call.body.model, this.forget, call.requestId ?? null, keyId);
    this.live.add(run);
    return run;
  }

  private chain(signal: AbortSignal, run: Run): Chain {
    run.deadlineAt = this.now() + this.timeoutMs;
    return { signal, deadlineAt: run.deadlineAt, attempts: run.attempts };
  }

  /** What is left of the request's overall deadline, for the next attempt. */
  private left(run: Run): number {
    return Math.max(1, run.deadlineAt - this.now());
  }
}
