import type { Static } from "@sinclair/typebox";
import type { Model } from "../schema.ts";
import type { AnthropicModel, AnthropicModelList } from "./schema.ts";

/** A model as Anthropic lists it: its id for a display name, `created` as an RFC 3339 time. */
export function anthropicModel(model: Model): Static<typeof AnthropicModel> {
  return { type: "model", id: model.id, display_name: model.id, created_at: new Date(model.created * 1000).toISOString().replace(".000Z", "Z") };
}

/** The model list as Anthropic answers `GET /v1/models`: one page holding every model. */
export function anthropicModelList(models: readonly Model[]): Static<typeof AnthropicModelList> {
  return { data: models.map(anthropicModel), has_more: false, first_id: models[0]?.id ?? null, last_id: models.at(-1)?.id ?? null };
}
