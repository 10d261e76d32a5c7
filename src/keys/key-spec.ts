// A client key as the rest of chatgate reads it once the file and the environment are resolved:
// its id, limits and models — never the key (Config.apiKeyDigests holds the digests).
import { Type, type Static } from "@sinclair/typebox";

/** Ids appear in logs, the ledger and error messages: plain, short, no secret. */
export const KEY_ID = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";
export const KEY_ID_HINT = "expected 1-64 letters, digits, '.', '-' or '_', starting with a letter or digit";

/** The ids `api_keys:` and CHATGATE_API_KEYS entries get, by position: reserved for them. */
export const PLAIN_KEY_ID = /^key-\d+$/;
export const plainKeyId = (index: number): string => `key-${index + 1}`;

export const Budget = Type.Object({
  /** Most USD the key may spend per period, priced as the usage ledger prices requests. */
  usd: Type.Number({ exclusiveMinimum: 0 }),
  /** The UTC calendar day or month. */
  period: Type.Union([Type.Literal("day"), Type.Literal("month")]),
});
export type Budget = Static<typeof Budget>;

export const ClientKeySpec = Type.Object({
  /** Matches KEY_ID; unique. `key-N` for the N-th plain key (api_keys, CHATGATE_API_KEYS). */
  id: Type.String(),
  /** Requests per clock minute; absent: the global per-client limit (CHATGATE_RATE_LIMIT_MAX) applies instead. */
  rpm: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Tokens (prompt + completion) per clock minute, reserved at admission and settled to the real usage. */
  tpm: Type.Optional(Type.Integer({ minimum: 1 })),
  budget: Type.Optional(Budget),
  /** The model names this key may use; absent: every one. Others are 404 model_not_found to it. */
  models: Type.Optional(Type.Array(Type.String())),
});
export type ClientKeySpec = Static<typeof ClientKeySpec>;
