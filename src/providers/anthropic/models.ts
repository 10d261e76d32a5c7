import { badGateway } from "../../errors.ts";
import { withQuery } from "../endpoint.ts";
import type { ListedModel } from "../provider.ts";
import type { ModelList } from "./wire.ts";

/** Pages read at most: at 1000 models a page, far beyond any account's list. */
const MAX_PAGES = 5;

/**
 * Anthropic's model list (`GET /v1/models`, paginated by `after_id`, 20 a page unless `limit`
 * says more) as OpenAI model objects owned by the provider, `created` from `created_at`, each with
 * Anthropic's own object for the list in Anthropic's shape.
 */
export async function fetchModels(
  url: string,
  provider: string,
  get: (url: string) => Promise<Response>,
  read: (res: Response) => Promise<string>,
): Promise<ListedModel[]> {
  const models: ListedModel[] = [];
  let after: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const query: string = after === null ? "limit=1000" : `limit=1000&after_id=${encodeURIComponent(after)}`;
    const list = parseList(await read(await get(withQuery(url, query))), provider);
    for (const item of list.data) {
      if (!item || typeof item.id !== "string") continue;
      const created = Date.parse(item.created_at);
      models.push({ id: item.id, object: "model", created: Number.isNaN(created) ? 0 : Math.floor(created / 1000), owned_by: provider, anthropic: item });
    }
    if (list.has_more !== true || typeof list.last_id !== "string") break;
    after = list.last_id;
  }
  return models;
}

function parseList(text: string, provider: string): ModelList {
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    throw badGateway(`Provider '${provider}' answered /v1/models with a body that is not valid JSON.`);
  }
  if (!list || typeof list !== "object" || !Array.isArray((list as { data?: unknown }).data)) {
    throw badGateway(`Provider '${provider}' answered /v1/models with JSON that is not a model list.`);
  }
  return list as ModelList;
}

/** A dated model id (`claude-sonnet-4-5-20250929`): its name before the date. */
const DATED = /^(.+)-\d{8}$/;

/**
 * The names a fetched list lets a client call: every id, and the alias Anthropic's API takes for
 * each dated one though its list never shows it, which goes upstream as it is: the name before the
 * date for a model named by major and minor version (`claude-sonnet-4-5`, `claude-opus-4-1`), that
 * name and `-0` for one named by its major alone (`claude-sonnet-4-0`), `-latest` for the older
 * naming, the family last (`claude-3-5-haiku-latest`).
 */
export function callableNames(ids: readonly string[]): string[] {
  const names = new Set(ids);
  for (const id of ids) {
    const base = DATED.exec(id)?.[1];
    if (base === undefined) continue;
    if (/-\d+-\d+$/.test(base)) names.add(base);
    else if (/-\d+$/.test(base)) names.add(`${base}-0`);
    else names.add(`${base}-latest`);
  }
  return [...names];
}
