// What the rest of chatgate reads about providers and routes once the file and the environment
// are resolved: camelCase, durations in ms, every default filled, secrets as given (never print
// them: check-config masks them). Defaults live in file-schema.ts, not here.
import { Type, type Static } from "@sinclair/typebox";
import { PriceEntry } from "./file-schema.ts";

const Timeouts = Type.Object({
  /** Longest wait for the upstream's first byte (JSON) or first event (stream). */
  firstByteMs: Type.Integer({ minimum: 1 }),
  /** Longest silence between stream events. */
  idleMs: Type.Integer({ minimum: 1 }),
  /** Longest a whole non-streamed answer may take. */
  totalMs: Type.Integer({ minimum: 1 }),
});

/** How a target continues a partial answer: none, or the request shape its API accepts (see README, "Stream resume"). */
export const Continuation = Type.Union([Type.Literal("none"), Type.Literal("prefill"), Type.Literal("prefix"), Type.Literal("vllm")]);
export type Continuation = Static<typeof Continuation>;

const common = {
  /** Matches /^[a-z0-9][a-z0-9_-]*$/; unique; the `provider` of `provider/model`. */
  id: Type.String(),
  /** True when made by the environment (OPENAI_API_KEY / OPENAI_BASE_URL, CHATGATE_MOCK, --mock, `mock: true`) rather than listed under `providers:`. */
  implicit: Type.Boolean(),
};

const network = {
  ...common,
  /** No trailing slash. */
  baseUrl: Type.String(),
  apiKey: Type.Optional(Type.String()),
  headers: Type.Record(Type.String(), Type.String()),
  /** Models it serves; undefined: read its /models list. */
  models: Type.Optional(Type.Array(Type.String())),
  timeouts: Timeouts,
  dropParams: Type.Boolean(),
  continuation: Continuation,
};

export const OpenAISpec = Type.Object({ ...network, type: Type.Literal("openai") });
export const AnthropicSpec = Type.Object({
  ...network,
  type: Type.Literal("anthropic"),
  /** Sent as `anthropic-version`. */
  anthropicVersion: Type.String(),
  /** max_tokens sent when the request has none (Anthropic requires one). */
  maxTokens: Type.Integer({ minimum: 1 }),
});
export const MockSpec = Type.Object({ ...common, type: Type.Literal("mock") });

export const ProviderSpec = Type.Union([OpenAISpec, AnthropicSpec, MockSpec]);
export type ProviderSpec = Static<typeof ProviderSpec>;

export const RouteTarget = Type.Object({
  /** A ProviderSpec id. */
  provider: Type.String(),
  /** The model name sent upstream. */
  model: Type.String(),
  /** Share of first picks under `weighted` (0: fallback only); 1 under `priority`. */
  weight: Type.Number({ minimum: 0 }),
  /** Overrides the provider's continuation style for this target. */
  continuation: Type.Optional(Continuation),
  /** USD per 1M tokens for the usage ledger, overriding the shipped price table (src/cost/prices.ts PriceOverride). */
  price: Type.Optional(PriceEntry),
});

/** A public model name's targets. Public names never contain `/` (that addresses `provider/model`). */
export const ModelRoute = Type.Object({
  strategy: Type.Union([Type.Literal("priority"), Type.Literal("weighted")]),
  targets: Type.Array(RouteTarget),
  /** Stream resume on: a committed stream that breaks is continued on a target that can. */
  resume: Type.Boolean(),
  maxResumes: Type.Integer({ minimum: 0 }),
  /** The model's own response-cache TTL (`cache.ttl`; 0: not cached); absent: the global one. */
  cacheTtlMs: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type ModelRoute = Static<typeof ModelRoute>;
