// A webhook channel as the rest of chatgate reads it once the file is resolved: camelCase,
// durations in ms, every default filled. Defaults live in file-schema.ts (HookEntry), not here.
import { Type, type Static } from "@sinclair/typebox";

export const HookSpec = Type.Object({
  /** Matches HOOK_NAME; the path segment of `POST /hooks/<name>`. */
  name: Type.String(),
  /** A public model name or provider/model, checked at load. */
  model: Type.String(),
  system: Type.Optional(Type.String()),
  /** The HMAC-SHA256 key of the signatures; undefined: the hook takes a client key. Never print it. */
  secret: Type.Optional(Type.String()),
  /** Exchanges kept per sender. */
  turns: Type.Integer({ minimum: 0 }),
  /** A sender's exchanges are forgotten this long after the last one. */
  ttlMs: Type.Integer({ minimum: 1 }),
  maxSenders: Type.Integer({ minimum: 1 }),
  maxBytes: Type.Integer({ minimum: 1 }),
  rpm: Type.Optional(Type.Integer({ minimum: 1 })),
});
export type HookSpec = Static<typeof HookSpec>;
