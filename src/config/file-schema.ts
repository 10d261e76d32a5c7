// The config file's shape (snake_case, as written in YAML) and the only copy of every default it
// has. The annotated chatgate.example.yaml documents the same keys for operators.
// `errorMessage` is ours, not TypeBox's: schema-errors.ts prefers it to TypeBox's own wording.
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { DURATION_HINT, DURATION_PATTERN } from "./duration.ts";
import { KEY_ID, KEY_ID_HINT } from "../keys/key-spec.ts";

const Duration = (options: { default?: string } = {}) => Type.String({ pattern: DURATION_PATTERN, errorMessage: DURATION_HINT, ...options });
const NonEmpty = Type.String({ minLength: 1 });

/** Ids appear in `provider/model` names and in response headers, so they stay plain. */
export const PROVIDER_ID = "^[a-z0-9][a-z0-9_-]*$";
const ProviderId = Type.String({
  pattern: PROVIDER_ID,
  errorMessage: "expected lower-case letters, digits, '-' or '_', starting with a letter or digit",
});
const BaseUrl = (fallback: string) => Type.String({ pattern: "^https?://", errorMessage: "expected an http(s) URL", default: fallback });

// Timeouts left out fall back to the global ones: first_byte and idle to stream_idle_timeout
// (CHATGATE_STREAM_IDLE_TIMEOUT_MS), total to timeout (CHATGATE_TIMEOUT_MS). Those are settings,
// not constants, so they are filled in when the file is resolved, not here.
// `default: {}` on objects inside a record or an optional slot: Value.Default only descends into
// a value whose schema has a default of its own.
const Timeouts = Type.Object(
  { first_byte: Type.Optional(Duration()), idle: Type.Optional(Duration()), total: Type.Optional(Duration()) },
  { additionalProperties: false, default: {} },
);

/** How a target continues a partial answer (stream resume): see README, "Stream resume". */
export const CONTINUATIONS = ["none", "prefill", "prefix", "vllm"] as const;
const Continuation = (options: { default?: string } = {}) =>
  Type.Union(
    CONTINUATIONS.map((c) => Type.Literal(c)),
    { errorMessage: `expected one of ${CONTINUATIONS.join(", ")}`, ...options },
  );

/** Keys shared by the network providers. */
const network = {
  id: ProviderId,
  /** Sent as `Authorization: Bearer …` (openai) or `x-api-key` (anthropic); optional, as Azure uses `headers: {api-key: …}`. */
  api_key: Type.Optional(Type.String({ minLength: 1, errorMessage: "expected a non-empty key (leave api_key out for none)" })),
  /** Extra request headers, any names. */
  headers: Type.Record(Type.String(), Type.String({ errorMessage: "expected a string (put numbers in quotes)" }), { default: {} }),
  /** The models this provider serves; left out, its /models list is read instead. */
  models: Type.Optional(Type.Array(NonEmpty)),
  timeouts: Timeouts,
  /** Drop request fields the upstream cannot honour (named in x-chatgate-dropped-params) instead of a 400. */
  drop_params: Type.Boolean({ default: false }),
  /** Whether and how this provider continues a partial answer, for stream resume. */
  continuation: Continuation({ default: "none" }),
};

export const OpenAIEntry = Type.Object(
  { ...network, type: Type.Literal("openai"), base_url: BaseUrl("https://api.openai.com/v1") },
  { additionalProperties: false },
);

export const AnthropicEntry = Type.Object(
  {
    ...network,
    type: Type.Literal("anthropic"),
    /** chatgate calls {base_url}/v1/messages. */
    base_url: BaseUrl("https://api.anthropic.com"),
    anthropic_version: Type.String({ minLength: 1, default: "2023-06-01" }),
    /** Sent when the request names no max_tokens: Anthropic requires one. */
    max_tokens: Type.Integer({ minimum: 1, default: 4096 }),
  },
  { additionalProperties: false },
);

/** The built-in deterministic model: nothing to reach, so nothing to configure. */
export const MockEntry = Type.Object({ id: ProviderId, type: Type.Literal("mock") }, { additionalProperties: false });

export const PROVIDER_ENTRIES = [OpenAIEntry, AnthropicEntry, MockEntry] as const;
export const ProviderEntry = Type.Union([...PROVIDER_ENTRIES]);
export type ProviderEntry = Static<typeof ProviderEntry>;

const UsdPerMillion = Type.Number({ minimum: 0, errorMessage: "expected a price in USD per 1M tokens (a number, 0 or more)" });

/**
 * What a call to a target costs, in USD per 1M tokens: wins over the shipped price table for that
 * provider's model (a self-hosted model, a negotiated price, a model newer than the table).
 * `cached_input` left out: cached prompt tokens cost `input`.
 */
export const PriceEntry = Type.Object(
  { input: UsdPerMillion, output: UsdPerMillion, cached_input: Type.Optional(UsdPerMillion) },
  { additionalProperties: false },
);

export const TargetEntry = Type.Object(
  {
    provider: NonEmpty,
    model: NonEmpty,
    /** Share of first picks under `strategy: weighted`; 0 makes a target a fallback only. */
    weight: Type.Number({ minimum: 0, default: 1 }),
    /** This target's continuation style, overriding its provider's. */
    continuation: Type.Optional(Continuation()),
    /** This target's price for the usage ledger's cost, overriding the shipped table. */
    price: Type.Optional(PriceEntry),
  },
  { additionalProperties: false },
);

export const ModelEntry = Type.Object(
  {
    /** priority: targets in order; weighted: the first drawn by weight, the rest in order. */
    strategy: Type.Union([Type.Literal("priority"), Type.Literal("weighted")], { default: "priority" }),
    targets: Type.Array(TargetEntry, { minItems: 1 }),
    /** A committed stream that breaks is continued where it stopped, on a target that can. */
    resume: Type.Boolean({ default: false }),
    /** Continuations per stream at most. */
    max_resumes: Type.Integer({ minimum: 0, default: 2 }),
    /** This model's response cache: answers kept for `ttl` (`0s`: not cached), over the global `cache.ttl`. */
    cache: Type.Optional(Type.Object({ ttl: Duration() }, { additionalProperties: false })),
  },
  { additionalProperties: false, default: {} },
);
export type ModelEntry = Static<typeof ModelEntry>;

/**
 * A client key with an identity (`keys:`): its id in logs and the ledger, its own limits and the
 * models it may use. See README, "Client keys".
 */
export const KeyEntry = Type.Object(
  {
    id: Type.String({ pattern: KEY_ID, errorMessage: KEY_ID_HINT }),
    /** `sha256:<hex>` of the key (what `chatgate key new` prints), or `${VAR}` naming a variable that holds it. */
    key: Type.String({ pattern: "\\S", errorMessage: "expected sha256:<hex> of the key, or ${VAR} naming a variable that holds it" }),
    /** Requests per minute; left out, the global rate_limit applies. */
    rpm: Type.Optional(Type.Integer({ minimum: 1 })),
    /** Tokens per minute (prompt + completion). */
    tpm: Type.Optional(Type.Integer({ minimum: 1 })),
    /** Most USD spent per UTC day or month. */
    budget: Type.Optional(
      Type.Object(
        { usd: Type.Number({ exclusiveMinimum: 0, errorMessage: "expected an amount in USD above 0" }), period: Type.Union([Type.Literal("day"), Type.Literal("month")], { errorMessage: "expected day or month" }) },
        { additionalProperties: false },
      ),
    ),
    /** The model names this key may use (public names, or provider/model); left out: all. */
    models: Type.Optional(Type.Array(NonEmpty, { minItems: 1 })),
  },
  { additionalProperties: false },
);
export type KeyEntry = Static<typeof KeyEntry>;

/** What a hook's name may be: it is a path segment (`POST /hooks/<name>`) and appears in logs. */
export const HOOK_NAME = "^[a-z0-9_-]{1,64}$";

/**
 * A webhook channel (`POST /hooks/<name>`): messages `{text, from}` answered by `model`, with the
 * last `memory.turns` exchanges of each sender kept as context. See README, "Webhook channels".
 */
export const HookEntry = Type.Object(
  {
    /** A public model name, or provider/model. */
    model: NonEmpty,
    /** The system message that opens every conversation. */
    system: Type.Optional(Type.String()),
    /** The HMAC-SHA256 key senders sign bodies with (`${VAR}` keeps it out of the file); left out, the hook takes a client key instead. */
    secret: Type.Optional(Type.String({ minLength: 16, errorMessage: "expected a secret of at least 16 characters (or ${VAR} naming a variable that holds one)" })),
    memory: Type.Object(
      {
        /** Exchanges (a message and its reply) kept per sender; 0 keeps none. */
        turns: Type.Integer({ minimum: 0, maximum: 100, default: 10 }),
        /** A sender's exchanges are forgotten this long after the last one. */
        ttl: Duration({ default: "1h" }),
        /** Senders remembered at once; past it, the least recently active is forgotten. */
        max_senders: Type.Integer({ minimum: 1, default: 10_000 }),
        /** Bytes of remembered text (messages and replies, UTF-8) at once; past it, the least recently active senders are forgotten. */
        max_bytes: Type.Integer({ minimum: 1024, default: 16 * 1024 * 1024 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Requests per minute this hook takes, from every sender together; left out: no limit of its own. */
    rpm: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false, default: {} },
);
export type HookEntry = Static<typeof HookEntry>;

const optional = <T extends TSchema>(schema: T) => Type.Optional(schema);
const Count = (minimum: number) => Type.Integer({ minimum });

/**
 * The core settings, also settable by environment variable (which wins) and some by flag. No
 * defaults here: absent means "not set in the file", and the environment or the built-in value
 * (src/config.ts) applies. Sizes are bytes; durations have units.
 */
/** What limits or budgets do while Redis does not answer: let requests through, or refuse them (503). */
export const ON_REDIS_ERROR = ["fail_open", "fail_closed"] as const;
const OnRedisError = Type.Union(ON_REDIS_ERROR.map((p) => Type.Literal(p)));

const core = {
  host: optional(NonEmpty),
  port: optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  /** Client keys, as CHATGATE_API_KEYS: plain, or `sha256:<hex>` of the key. */
  api_keys: optional(Type.Array(Type.String({ pattern: "\\S", errorMessage: "expected a non-empty key" }))),
  allow_no_auth: optional(Type.Boolean()),
  rate_limit: optional(
    Type.Object({ max: optional(Count(0)), window: optional(Duration()) }, { additionalProperties: false }),
  ),
  trust_proxy: optional(Type.Boolean()),
  default_model: optional(NonEmpty),
  timeout: optional(Duration()),
  stream_idle_timeout: optional(Duration()),
  max_body_bytes: optional(Count(1)),
  shutdown_timeout: optional(Duration()),
  max_upstream_bytes: optional(Count(1)),
  auth_failure_limit: optional(Count(0)),
  stream_buffer_bytes: optional(Count(1)),
  stream_heartbeat: optional(Duration()),
  /** How long a client connection may sit idle (CHATGATE_IDLE_CONNECTION_TIMEOUT_S): whole seconds, 1s to 255s. */
  idle_connection_timeout: optional(Duration()),
  /**
   * The response cache for every model (CHATGATE_CACHE_TTL): `ttl` (absent or `0s`: off unless a
   * model turns it on), and the memory it may take: `max_entries` answers, `max_bytes` bytes.
   */
  cache: optional(
    Type.Object({ ttl: optional(Duration()), max_entries: optional(Count(1)), max_bytes: optional(Count(1024)) }, { additionalProperties: false }),
  ),
  mock: optional(Type.Boolean()),
  /**
   * Shared state for many instances (CHATGATE_REDIS_URL and CHATGATE_REDIS_*): limits, budgets and
   * the response cache live in this Redis; `timeout` bounds each command; `on_error` says what limits
   * (default fail_open) and budgets (default fail_closed: 503) do while it does not answer.
   */
  redis: optional(
    Type.Object(
      {
        url: optional(NonEmpty),
        timeout: optional(Duration()),
        on_error: optional(Type.Object({ limits: optional(OnRedisError), budgets: optional(OnRedisError) }, { additionalProperties: false })),
      },
      { additionalProperties: false },
    ),
  ),
};

export const FileConfig = Type.Object(
  {
    providers: Type.Array(ProviderEntry, { default: [] }),
    models: Type.Record(Type.String(), ModelEntry, { default: {} }),
    /** Attempts per target after the first. */
    retries: Type.Integer({ minimum: 0, maximum: 10, default: 2 }),
    /** Longest upstream Retry-After waited for; a longer one moves on to the next target. */
    max_retry_wait: Duration({ default: "10s" }),
    /** Failures in a row that put a target into cooldown; 0 turns cooldown off. */
    cooldown_after: Type.Integer({ minimum: 0, default: 3 }),
    cooldown: Duration({ default: "30s" }),
    /** Client keys with an id and, optionally, limits, a budget and a model list (besides `api_keys`). */
    keys: Type.Array(KeyEntry, { default: [] }),
    /**
     * Completion tokens a request naming no max_tokens / max_completion_tokens reserves against its
     * key's tpm and budget until it ends (then the real usage counts).
     */
    reserve_completion_tokens: Type.Integer({ minimum: 1, default: 1024 }),
    /** How long the usage ledger keeps a request's row; older rows are deleted daily. */
    retention: Duration({ default: "90d" }),
    /** Webhook channels by name: `POST /hooks/<name>`. */
    hooks: Type.Record(Type.String(), HookEntry, { default: {} }),
    ...core,
  },
  { additionalProperties: false },
);
export type FileConfig = Static<typeof FileConfig>;
