// The webhook channels of the running config: each hook's conversations, rate limit and signature
// check, and the one call a message makes through the gateway. No Elysia: src/http/hooks-route.ts
// is the HTTP edge.
import { HOOK_NAME } from "../config/file-schema.ts";
import type { HookSpec } from "../config/hook-spec.ts";
import { GatewayError, notFound } from "../errors.ts";
import type { Client, Gateway } from "../gateway/gateway.ts";
import type { Served } from "../gateway/run.ts";
import { requestHeaders } from "../keys/rate-headers.ts";
import type { RequestTrace } from "../obs/trace-context.ts";
import type { ChatRequest } from "../schema.ts";
import { MemoryCounters, type Counters, type MaybePromise, type WindowCount } from "../state/counters.ts";
import { Limiter, type LimitDecision } from "../state/limiter.ts";
import type { HookMessage, HookResponse } from "./hook-body.ts";
import { SenderQueue } from "./sender-queue.ts";
import { Sessions } from "./sessions.ts";
import { ReplayGuard, verifySignature } from "./signature.ts";

const MINUTE_MS = 60_000;
/** Only a name that could be a hook's is echoed back. */
const PLAIN_NAME = new RegExp(HOOK_NAME);

/** Unknown hook: said before anything about keys or signatures, so it reveals no more than the URL did. */
export const hookNotFound = (name: string) =>
  notFound(PLAIN_NAME.test(name) ? `No hook named '${name}' is configured.` : "No such hook is configured.", "hook_not_found");

const hookRateLimited = (name: string, limit: number, retryAfterMs: number) =>
  new GatewayError({
    status: 429, type: "requests", code: "rate_limit_exceeded", retryAfterMs,
    message: `Rate limit reached for hook ${name}: ${limit} requests per minute. Please try again in ${Math.ceil(retryAfterMs / 1000)}s.`,
  });

/** What /status shows of a channel: never its secret. */
export interface ChannelStatus {
  name: string;
  model: string;
  /** Conversations that have not expired: one per sender, and per client key on a hook called with keys. */
  sessions: number;
}

/** What one message needs from its HTTP request. */
export interface MessageContext {
  requestId: string | undefined;
  signal: AbortSignal;
  /** The client key a hook without a secret was called with; null for a signed hook (or no client keys). */
  client: Client | null;
  /** While tracing is on: the request's trace, so the model call carries its `traceparent`. */
  trace?: RequestTrace;
}

/**
 * Whose conversation a message belongs to: the sender's, and on a hook called with client keys the
 * key's too, so two keys that send the same `from` never see, extend or reset each other's
 * conversation. A signed hook (and a hook of a gateway without client keys) has no key: the sender
 * alone. Also the sender queue's key, so one key's messages never wait behind another's.
 */
export const conversationOf = (client: Client | null, from: string): string => JSON.stringify(client === null ? [from] : [client.id, from]);

/** One hook of one config generation; its sessions carry over a reload that keeps its memory settings. */
export class Channel {
  readonly route: `/hooks/${string}`;

  constructor(
    readonly spec: HookSpec,
    readonly sessions: Sessions,
    /** Serialises each sender's messages; goes with the sessions it guards. */
    readonly queue: SenderQueue,
    /** The hook's rpm; undefined without one. */
    readonly limiter: Limiter<MaybePromise<WindowCount>> | undefined,
    private readonly replays: ReplayGuard,
    private readonly gateway: Gateway,
    private readonly now: () => number,
  ) {
    this.route = `/hooks/${spec.name}`;
  }

  get signed(): boolean {
    return this.spec.secret !== undefined;
  }

  /**
   * A signed hook: the signature and timestamp checked against the raw body, and the signature held
   * against replays (401 otherwise). Returns what gives the signature back if the request then fails.
   */
  authenticate(body: Uint8Array, headers: Headers): () => void {
    if (this.spec.secret === undefined) return () => {};
    return this.replays.take(this.spec.name, verifySignature(this.spec.secret, body, headers, this.now()));
  }

  /** The hook's own rpm, with its rate-limit headers; 429 when over. */
  admit(headers: Record<string, unknown>): void | Promise<void> {
    if (this.limiter === undefined) return;
    const decision = this.limiter.hit(`hook:${this.spec.name}:${this.spec.rpm}`);
    const apply = (d: LimitDecision) => {
      requestHeaders(headers, d);
      if (!d.allowed) throw hookRateLimited(this.spec.name, d.limit, d.resetMs);
    };
    return decision instanceof Promise ? decision.then(apply) : apply(decision);
  }

  /** Answers a message: a reset forgets the sender; a chat asks the model with the sender's last exchanges as context. */
  async answer(message: HookMessage, context: MessageContext): Promise<{ response: HookResponse; served?: Served }> {
    const { from } = message;
    const conversation = conversationOf(context.client, from);
    // A reset waits its turn too: run at once, it was undone by a message still being answered,
    // whose exchange was then remembered and sent with the sender's next message.
    if (message.action === "reset") {
      return this.queue.run(conversation, async () => {
        this.sessions.reset(conversation);
        return { response: { reply: null, model: this.spec.model, session: { from, turns: 0 }, usage: null } };
      });
    }
    // One message of a sender at a time: each is asked with the exchanges before it.
    return this.queue.run(conversation, async () => {
      const body = this.request(conversation, message.text);
      const answer = await this.gateway.complete({ body, raw: JSON.stringify(body), requestId: context.requestId, trace: context.trace }, context.signal, this.route, context.client);
      const choice = answer.completion.choices[0]?.message;
      const reply = choice?.content ?? choice?.refusal ?? "";
      const turns = this.sessions.add(conversation, { user: message.text, assistant: reply });
      const usage = answer.completion.usage ?? null;
      return { response: { reply, model: answer.completion.model || answer.served.model, session: { from, turns }, usage }, served: answer.served };
    });
  }

  /** The system message, the conversation's remembered exchanges, then the new text. */
  private request(conversation: string, text: string): ChatRequest {
    const messages: ChatRequest["messages"] = [];
    if (this.spec.system !== undefined) messages.push({ role: "system", content: this.spec.system });
    for (const turn of this.sessions.history(conversation)) messages.push({ role: "user", content: turn.user }, { role: "assistant", content: turn.assistant });
    messages.push({ role: "user", content: text });
    return { model: this.spec.model, messages };
  }
}

export interface ChannelsOptions {
  gateway: Gateway;
  now: () => number;
  /** The shared (Redis) counters, when there are: a hook's rpm counts there, across instances. */
  shared?: Counters;
}

const sameMemory = (a: HookSpec, b: HookSpec) => a.turns === b.turns && a.ttlMs === b.ttlMs && a.maxSenders === b.maxSenders && a.maxBytes === b.maxBytes;

/**
 * Every configured hook, by name, as the running config has them. A reload (`update`) builds the
 * new set: a hook that stays keeps its conversations while its memory settings are unchanged, and
 * its rate-limit count while its rpm is; a request in flight finishes on the channel it started on.
 */
export class Channels {
  private byName = new Map<string, Channel>();
  private readonly replays: ReplayGuard;

  constructor(private readonly options: ChannelsOptions) {
    this.replays = new ReplayGuard(options.now);
  }

  get(name: string): Channel | undefined {
    return this.byName.get(name);
  }

  update(specs: Readonly<Record<string, HookSpec>>): void {
    const { gateway, now, shared } = this.options;
    const next = new Map<string, Channel>();
    for (const spec of Object.values(specs)) {
      const old = this.byName.get(spec.name);
      const keep = old !== undefined && sameMemory(old.spec, spec);
      const sessions = keep ? old.sessions : new Sessions(spec, now);
      const queue = keep ? old.queue : new SenderQueue();
      let limiter = old !== undefined && old.spec.rpm === spec.rpm ? old.limiter : undefined;
      if (spec.rpm !== undefined) limiter ??= new Limiter<MaybePromise<WindowCount>>(shared ?? new MemoryCounters({ limit: spec.rpm, maxKeys: 1 }), spec.rpm, MINUTE_MS, now);
      next.set(spec.name, new Channel(spec, sessions, queue, limiter, this.replays, gateway, now));
    }
    this.byName = next;
  }

  status(): ChannelStatus[] {
    return [...this.byName.values()].map((c) => ({ name: c.spec.name, model: c.spec.model, sessions: c.sessions.active() }));
  }
}
