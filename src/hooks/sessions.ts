/** One exchange of a webhook conversation: what the sender wrote and what the model answered. */
export interface Turn {
  user: string;
  assistant: string;
}

export interface SessionLimits {
  /** Exchanges kept per sender; the oldest goes first. 0 keeps none. */
  turns: number;
  /** A sender's exchanges are forgotten this long after the last one. */
  ttlMs: number;
  /** Senders remembered at once. */
  maxSenders: number;
  /** UTF-8 bytes of remembered text at once, over every sender. */
  maxBytes: number;
}

interface Session {
  turns: Turn[];
  bytes: number;
  expiresAt: number;
}

const bytesOf = (turn: Turn): number => Buffer.byteLength(turn.user) + Buffer.byteLength(turn.assistant);

/**
 * The conversations of one webhook channel, in memory: per sender (the key channels.ts
 * `conversationOf` makes of `from`, with the client key on a hook called with keys), the last `turns`
 * exchanges, forgotten `ttlMs` after the last one. Bounded in senders and in bytes: past either
 * bound the least recently active senders are forgotten first (Map order is activity order: a
 * sender is moved to the end when it speaks), and a sender whose own exchanges alone exceed the
 * byte bound keeps only the newest that fit. Time is `now`, injected.
 */
export class Sessions {
  private readonly sessions = new Map<string, Session>();
  private bytes = 0;

  constructor(
    readonly limits: SessionLimits,
    private readonly now: () => number,
  ) {}

  /** The sender's exchanges, oldest first; none when it has none or they expired. */
  history(from: string): readonly Turn[] {
    const session = this.live(from);
    return session === undefined ? [] : session.turns;
  }

  /** Adds an exchange to the sender's conversation; returns how many exchanges it holds now. */
  add(from: string, turn: Turn): number {
    const { turns: keep } = this.limits;
    if (keep === 0) return 0;
    const session = this.live(from) ?? { turns: [], bytes: 0, expiresAt: 0 };
    this.sessions.delete(from);
    session.turns.push(turn);
    session.bytes += bytesOf(turn);
    this.bytes += bytesOf(turn);
    while (session.turns.length > keep) this.drop(session);
    session.expiresAt = this.now() + this.limits.ttlMs;
    this.sessions.set(from, session);
    this.bound(session, from);
    return session.turns.length;
  }

  /** Forgets the sender's conversation. */
  reset(from: string): void {
    const session = this.sessions.get(from);
    if (session === undefined) return;
    this.bytes -= session.bytes;
    this.sessions.delete(from);
  }

  /** Senders with a conversation that has not expired (the expired ones are forgotten now). */
  active(): number {
    const now = this.now();
    for (const [from, session] of this.sessions) if (session.expiresAt <= now) this.forget(from, session);
    return this.sessions.size;
  }

  /** Bytes of remembered text: what `maxBytes` bounds. */
  get size(): { senders: number; bytes: number } {
    return { senders: this.sessions.size, bytes: this.bytes };
  }

  private live(from: string): Session | undefined {
    const session = this.sessions.get(from);
    if (session === undefined || session.expiresAt > this.now()) return session;
    this.forget(from, session);
    return undefined;
  }

  private forget(from: string, session: Session): void {
    this.bytes -= session.bytes;
    this.sessions.delete(from);
  }

  private drop(session: Session): void {
    const gone = bytesOf(session.turns.shift()!);
    session.bytes -= gone;
    this.bytes -= gone;
  }

  /**
   * Back within both bounds: first `newest`'s own oldest exchanges while it alone is over the byte
   * bound (an exchange too large to keep costs no one else their history; a conversation left with
   * none is forgotten), then the least recently active senders, then `newest`'s oldest again.
   */
  private bound(newest: Session, from: string): void {
    const { maxSenders, maxBytes } = this.limits;
    while (newest.bytes > maxBytes && newest.turns.length > 0) this.drop(newest);
    if (newest.turns.length === 0) return this.forget(from, newest);
    for (const [sender, session] of this.sessions) {
      if (this.sessions.size <= maxSenders && this.bytes <= maxBytes) return;
      if (session === newest) break;
      this.forget(sender, session);
    }
    while (this.bytes > maxBytes && newest.turns.length > 0) this.drop(newest);
  }
}
