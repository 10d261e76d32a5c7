import type { Model } from "../schema.ts";
import type { Route } from "./route-table.ts";
import type { Router } from "./router.ts";

/**
 * What a caller can use: the public model names (owned by chatgate, `created` at start), then each
 * provider's models as `provider/model` — or by their plain name for the env-only set-up's
 * providers, as before there was a config file. A provider whose list fails is left out; only when
 * every one fails is that an error.
 */
export async function listModels(router: Router, created: number, signal: AbortSignal): Promise<Model[]> {
  const byId = new Map<string, Model>();
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
export async function modelsFor(router: Router, created: number, signal: AbortSignal, allowed?: ReadonlySet<string>): Promise<Model[]> {
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

/** The entry of the full list for a plain name the router resolves: `provider/name` of its first target's provider. */
function listedAs(router: Router, all: readonly Model[], name: string): Model | undefined {
  let route: Route;
  try {
    route = router.resolve(name);
  } catch {
    return undefined;
  }
  const first = route.targets[0];
  return first && all.find((m) => m.id === `${first.provider}/${first.model}`);
}

/**
 * A name the list leaves out that a chat request would still be answered for: a provider's model
 * by its plain name, an alias its list implies (Anthropic's undated names), or any name on the
 * mock. Not a name merely passed on to a provider that decides for itself: that may not exist.
 */
export function callableModel(router: Router, id: string, created: number): Model | undefined {
  let route: Route;
  try {
    route = router.resolve(id);
  } catch {
    return undefined;
  }
  const target = route.targets.length === 1 ? route.targets[0]! : undefined;
  const provider = target && router.providers.get(target.provider);
  if (provider === undefined || (provider.type !== "mock" && !provider.listedModels()?.includes(target!.model))) return undefined;
  return { id, object: "model", created, owned_by: provider.id };
}
