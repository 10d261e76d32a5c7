import type { Static } from "@sinclair/typebox";
import { invalidRequest } from "../errors.ts";
import type { ListedModel } from "../providers/provider.ts";
import type { AnthropicModel, AnthropicModelList } from "./schema.ts";

/**
 * A model as Anthropic lists it (its Models API reference; the current SDKs require `lifecycle`
 * and, in TypeScript, every field present). A model an Anthropic provider listed keeps every field
 * the provider gave it (display name, lifecycle and its dates, limits, capabilities) under
 * chatgate's id; any other model, or a field the provider left out, takes what chatgate knows:
 * its id for a display name, `created` as an RFC 3339 time, `active` (a model chatgate lists is
 * one it serves), and null for what no one said (Anthropic's own value when it does not know).
 */
export function anthropicModel(model: ListedModel): Static<typeof AnthropicModel> {
  const known = {
    type: "model" as const,
    id: model.id,
    display_name: model.id,
    created_at: new Date(model.created * 1000).toISOString().replace(".000Z", "Z"),
    lifecycle: "active" as const,
    deprecated_at: null,
    retires_at: null,
    line: null,
    max_input_tokens: null,
    max_tokens: null,
    capabilities: null,
  };
  return { ...known, ...model.anthropic, id: model.id, type: "model" };
}

/** The query of Anthropic's `GET /v1/models`: a page size and a cursor either way. */
export interface ModelListQuery {
  limit?: string;
  after_id?: string;
  before_id?: string;
}

/** Anthropic's page size: 20 unless asked, from 1 to 1000. */
export const DEFAULT_PAGE = 20;
export const MAX_PAGE = 1000;

function pageLimit(limit: string | undefined): number {
  if (limit === undefined || limit === "") return DEFAULT_PAGE;
  const n = /^\d+$/.test(limit) ? Number(limit) : NaN;
  if (!(n >= 1 && n <= MAX_PAGE)) throw invalidRequest(`limit: must be an integer from 1 to ${MAX_PAGE}.`, "limit");
  return n;
}

/** Where the model a cursor names is in the list; a 400 naming the parameter when it is not there. */
function cursorAt(models: readonly ListedModel[], id: string, param: "after_id" | "before_id"): number {
  const at = models.findIndex((m) => m.id === id);
  if (at === -1) throw invalidRequest(`${param}: no model '${id}' in the list.`, param);
  return at;
}

/**
 * One page of the model list as Anthropic answers `GET /v1/models`: `limit` models (20 unless
 * asked, 1 to 1000), from the start, right after `after_id` or right before `before_id`;
 * `first_id`/`last_id` name the page's ends, and `has_more` says whether there are more models in
 * the direction of travel (after the page; before it when paging back with `before_id`), as the
 * SDKs' auto-pagination reads them. An unknown cursor, both cursors, or a limit out of range is a 400.
 */
export function anthropicModelList(models: readonly ListedModel[], query: ModelListQuery = {}): Static<typeof AnthropicModelList> {
  const limit = pageLimit(query.limit);
  const after = query.after_id || undefined;
  const before = query.before_id || undefined;
  if (after !== undefined && before !== undefined) throw invalidRequest("before_id: give after_id or before_id, not both.", "before_id");
  let start: number;
  let end: number;
  let hasMore: boolean;
  if (before !== undefined) {
    end = cursorAt(models, before, "before_id");
    start = Math.max(0, end - limit);
    hasMore = start > 0;
  } else {
    start = after === undefined ? 0 : cursorAt(models, after, "after_id") + 1;
    end = Math.min(models.length, start + limit);
    hasMore = end < models.length;
  }
  const page = models.slice(start, end);
  return { data: page.map(anthropicModel), has_more: hasMore, first_id: page[0]?.id ?? null, last_id: page.at(-1)?.id ?? null };
}
