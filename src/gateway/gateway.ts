import { badGateway, modelNotFound } from "../errors.ts";
import type { ChatCall, Completion, StreamSeen } from "../providers/provider.ts";
import type { Model } from "../schema.ts";
import type { Chain } from "./attempts.ts";
import type { Router } from "./router.ts";

/** A stream the gateway has committed to: its first event has arrived. */
export interface OpenStream {
  first: Uint8Array;
  rest: AsyncIterator<Uint8Array, void, undefined>;
  seen: StreamSeen;
  /** The first read already held the stream's end (`[DONE]` or an error event): `rest` has nothing more. */
  complete: boolean;
}

/** What the HTTP layer calls: no Elysia here, only requests in and typed answers out. */
export class Gateway {
  /** Unix seconds at start: the `created` of the public model names. */
  private readonly startedAt: number;

  constructor(
    private readonly router: Router,
    private readonly now: () => number = Date.now,
    private readonly timeoutMs = 600_000,
  ) {
    this.startedAt = Math.floor(now() / 1000);
  }

  async complete(call: ChatCall, signal: AbortSignal): Promise<Completion> {
    const route = this.router.resolve(call.body.model);
    const chain = this.chain(signal);
    const { value } = await this.router.run(route, chain, (provider, target) => provider.complete(call, { signal, model: target.model }));
    return value;
  }

  /**
   * Opens a stream and pulls its first event before returning, so everything that can fail
   * before the client sees a byte still fails with a real HTTP status (and may be retried).
   */
  async stream(call: ChatCall, signal: AbortSignal): Promise<OpenStream> {
    const route = this.router.resolve(call.body.model);
    const chain = this.chain(signal);
    const { value } = await this.router.run(route, chain, async (provider, target) => {
      const events = await provider.stream(call, { signal, model: target.model });
      const rest = events[Symbol.asyncIterator]();
      const first = await rest.next();
      if (first.done) throw badGateway(`Provider '${provider.id}' ended its stream before its first event.`, "upstream_stream_truncated");
      const seen = events.seen;
      return { first: first.value, rest, seen, complete: seen.done || seen.errorEvent };
    });
    return value;
  }

  /**
   * What a caller can use: the public model names (owned by chatgate), then each provider's models
   * as `provider/model` — or by their plain name for the env-only set-up's providers, as before
   * there was a config file. A provider whose list fails is left out; only when every
   * one fails is that an error.
   */
  async models(signal: AbortSignal): Promise<Model[]> {
    const byId = new Map<string, Model>();
    for (const name of this.router.table.publicNames) byId.set(name, { id: name, object: "model", created: this.startedAt, owned_by: "chatgate" });
    const lists = await Promise.allSettled(this.router.all.map((p) => p.models({ signal })));
    const failed = lists.find((l): l is PromiseRejectedResult => l.status === "rejected");
    if (failed !== undefined && lists.every((l) => l.status === "rejected")) throw failed.reason;
    lists.forEach((list, i) => {
      if (list.status === "rejected") return;
      const provider = this.router.all[i]!;
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

  private chain(signal: AbortSignal): Chain {
    return { signal, deadlineAt: this.now() + this.timeoutMs, attempts: [] };
  }
}
