import type { ListedModel, Provider } from "../providers/provider.ts";
import type { Route } from "./route-table.ts";
import type { Router } from "./router.ts";

/**
 * What a caller can use: the public model names (owned by chatgate, `created` at start), then each
 * provider's models as `provider/model` — or by their plain name for the env-only set-up's
 * providers, as before there was a config file. A provider whose list fails is left out; only when
 * every one fails is that an error.
 */
export async function listModels(router: Router, created: number, signal: AbortSignal): Promise<ListedModel[]> {
  const byId = new Map<string, ListedModel>();
  for (const name of router.table.publicNames) byId.set(name, { id: name, object: "model", created, owned_by: "chatgate" });
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

/**
 * The models a caller can use; `allowed` (a client key's models) keeps only those. A key may be
 * given a provider's model by its plain name (`gpt-4o-mini`), which the full list shows as
 * `provider/model` only: listed under the name the key uses, as the provider that answers it lists it.
 */
export async function modelsFor(router: Router, created: number, signal: AbortSignal, allowed?: ReadonlySet<string>): Promise<ListedModel[]> {
  const all = await listModels(router, created, signal);
  if (allowed === undefined) return all;
  const mine = all.filter((m) => allowed.has(m.id));
  for (const name of allowed) {
    if (mine.some((m) => m.id === name)) continue;
    const listed = listedAs(router, all, name);
    if (listed !== undefined) mine.push({ ...listed, id: name });
  }
  return mine;
}

/** The entry of the full list for a plain name the router resolves: that of its first target's model. */
function listedAs(router: Router, all: readonly ListedModel[], name: string): ListedModel | undefined {
  const first = resolved(router, name)?.targets[0];
  const provider = first && router.providers.get(first.provider);
  return provider && entryOf(all, provider, first!.model);
}

/** A provider's model as the full list shows it: by plain name for the env-only set-up's providers, else `provider/model`. */
const entryOf = (all: readonly ListedModel[], provider: Provider, model: string): ListedModel | undefined => {
  const id = provider.implicit ? model : `${provider.id}/${model}`;
  return all.find((m) => m.id === id);
};

function resolved(router: Router, name: string): Route | undefined {
  try {
    return router.resolve(name);
  } catch {
    return undefined;
  }
}

/**
 * `GET /v1/models/{id}`: exactly the list's entry when the id is listed, so both answers agree on
 * `created` and `owned_by`; else a name only callable (see callableModel); else undefined. A key's
 * `allowed` models are checked first: any other is not there for it.
 */
export async function modelFor(router: Router, created: number, signal: AbortSignal, id: string, allowed?: ReadonlySet<string>): Promise<ListedModel | undefined> {
  if (allowed !== undefined && !allowed.has(id)) return undefined;
  const all = await listModels(router, created, signal);
  return all.find((m) => m.id === id) ?? callableModel(router, all, id, created);
}

/**
 * A name the list leaves out that a chat request would still be answered for: a provider's model
 * by its plain name, an alias its list implies (Anthropic's undated names), or any name on the
 * mock. Not a name merely passed on to a provider that decides for itself: that may not exist.
 *
 * One rule keeps it in step with the list: it is the list's entry of the model that serves it,
 * under the name asked (`gpt-4o` answers as `oai/gpt-4o` is listed, as a key's list shows it).
 * A name with no entry to copy (an alias, any name on the mock) takes `owned_by` as the list shows
 * its provider's models and `created` of the gateway's start, as the public names do: it is a
 * name chatgate answers for, and no upstream told when it was made.
 */
function callableModel(router: Router, all: readonly ListedModel[], id: string, created: number): ListedModel | undefined {
  const route = resolved(router, id);
  const target = route?.targets.length === 1 ? route.targets[0]! : undefined;
  const provider = target && router.providers.get(target.provider);
  const names = provider?.listedModels();
  if (provider === undefined || (provider.type !== "mock" && !names?.includes(target!.model))) return undefined;
  const listed = entryOf(all, provider, target!.model);
  if (listed !== undefined) return { ...listed, id };
  const sibling = names?.map((name) => entryOf(all, provider, name)).find((m) => m !== undefined);
  return { id, object: "model", created, owned_by: sibling?.owned_by ?? provider.id };
}
