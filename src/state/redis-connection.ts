import { RedisClient } from "bun";
import { timerDelay } from "../timer-delay.ts";
import { credentialsRefusal } from "./redis-refusal.ts";

/** What a feature does while Redis does not answer: let requests through, or refuse them (503). */
export type OnRedisError = "fail_open" | "fail_closed";

export interface RedisConnectionOptions {
  /** `redis://[user:pass@]host:port[/db]` (CHATGATE_REDIS_URL). */
  url: string;
  /** Longest wait for one command's answer (default 100 ms); a slower answer counts as a failure. */
  timeoutMs?: number;
  /** Told once when Redis stops answering and once when it answers again (default: stderr). */
  warn?: (line: string) => void;
  /** Least time between two connection attempts while Redis is down (default 250 ms). */
  reconnectMs?: number;
}

/** Why a command did not get an answer in time (or at all). */
export class RedisUnavailable extends Error {
  /**
   * Whether the command went out before it failed: then Redis may have run it, or may still run it
   * (a slow Redis runs what waits in its socket once it catches up). False: it never left.
   */
  sent = false;

  constructor(message: string) {
    super(message);
    this.name = "RedisUnavailable";
  }
}

/**
 * Bun's RedisClient with what the limits and the cache need around it: each command waits at most
 * `timeoutMs` (a slow Redis must not become a slow gateway), failures flip one up/down state that
 * is logged once per outage and read by /metrics, and the connection is re-made by us while down.
 *
 * Reconnecting is ours, not Bun's `autoReconnect`: that gives up after `maxRetries` and then never
 * tries again, and an idle timeout never reconnects (Bun's RedisOptions docs). Commands are not
 * queued while disconnected (`enableOfflineQueue: false`): a limit check that waited for Redis to
 * come back would hold the request for the whole outage. Instead a command while down fails at
 * once and starts one connection attempt, at most one per `reconnectMs`.
 */
export class RedisConnection {
  readonly client: RedisClient;
  /** Commands that failed or timed out since start (chatgate_redis_errors_total). */
  errors = 0;
  /** Whether the last command got its answer (chatgate_redis_up); true until a command fails. */
  up = true;
  /** Where the down/up lines go (serve.ts points it at the log once the logger is ready). */
  warn: (line: string) => void;
  private readonly timeoutMs: number;
  private readonly reconnectMs: number;
  private connecting: Promise<void> | undefined;
  private lastAttempt = 0;
  private readonly url: string;
  private readonly connectionTimeoutMs: number;
  /** The outage line while it waits for the credentials probe: "answering again" goes out after it, never before. */
  private outageLine: Promise<void> | undefined;
  /** Closed for good (`close`): nothing is sent any more. */
  closed = false;

  constructor(options: RedisConnectionOptions) {
    this.timeoutMs = options.timeoutMs ?? 100;
    this.reconnectMs = options.reconnectMs ?? 250;
    this.warn = options.warn ?? ((line) => console.error(line));
    this.url = options.url;
    this.connectionTimeoutMs = Math.max(this.timeoutMs, 1_000);
    this.client = new RedisClient(options.url, {
      autoReconnect: false,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      connectionTimeout: this.connectionTimeoutMs,
    });
    // Nothing to do on close: the next command finds the client disconnected and reconnects.
    // Nor at start: the first command connects, so an outage is reported through the log that
    // serve.ts sets up after the app is built, not before it.
    this.client.onclose = () => {};
  }

  /**
   * Sends one command and waits at most `timeoutMs` for its answer. Rejects with RedisUnavailable
   * when Redis is down, slow or refuses (a script error too: to the caller all are "no answer"),
   * telling whether the command went out (`sent`).
   */
  async send(command: string, args: string[]): Promise<unknown> {
    if (!this.client.connected) this.connect();
    // Not connected and no attempt under way (one failed a moment ago): fail now, not after the bound.
    if (!this.client.connected && this.connecting === undefined) throw this.failed(new RedisUnavailable("not connected"));
    let timer: ReturnType<typeof setTimeout> | undefined;
    let sent = false;
    const timeout = new Promise<never>((_, reject) => {
      // The answer may be waiting in the socket while a busy event loop ran this timer first:
      // give the loop's I/O one more turn (setImmediate runs after it) before calling it late.
      timer = setTimeout(() => setImmediate(() => reject(new RedisUnavailable(`no answer within ${this.timeoutMs} ms`))), timerDelay(this.timeoutMs));
    });
    try {
      // A connection being made (at start, or after an outage) is waited for, within the same bound.
      if (this.connecting !== undefined) await Promise.race([this.connecting, timeout]);
      if (!this.client.connected) throw new RedisUnavailable("not connected");
      const answering = this.client.send(command, args);
      sent = true;
      const answer = await Promise.race([answering, timeout]);
      this.answered();
      return answer;
    } catch (err) {
      if (isNoScript(err)) throw err;
      const failure = this.failed(err);
      failure.sent = sent;
      throw failure;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Connects now rather than at the first command (serve.ts, once `warn` goes to the log), so the first burst does not wait for it. */
  open(): void {
    this.connect();
  }

  /** Closes the connection for good (shutdown): no reconnect afterwards. */
  close(): void {
    this.closed = true;
    this.client.close();
  }

  private connect(): void {
    const now = Date.now();
    if (this.closed || this.connecting !== undefined || now - this.lastAttempt < this.reconnectMs) return;
    this.lastAttempt = now;
    this.connecting = this.client
      .connect()
      .then(() => this.answered())
      .catch((err: unknown) => void this.failed(err, true))
      .finally(() => (this.connecting = undefined));
  }

  private answered(): void {
    if (this.up) return;
    this.up = true;
    const line = "chatgate: redis is answering again";
    if (this.outageLine === undefined) this.warn(line);
    else void this.outageLine.then(() => this.warn(line));
  }

  /** `connecting`: the failure is Bun's handshake's, whose "Connection closed" may hide a refused password (redis-refusal.ts). */
  private failed(err: unknown, connecting = false): RedisUnavailable {
    this.errors++;
    const message = err instanceof Error ? err.message : String(err);
    if (this.up) {
      this.up = false;
      if (connecting && isConnectionClosed(err)) this.warnAfterProbe(message);
      else this.warn(outageLine(message));
    }
    return err instanceof RedisUnavailable ? err : new RedisUnavailable(message);
  }

  private warnAfterProbe(message: string): void {
    const line = credentialsRefusal(this.url, this.connectionTimeoutMs).then((refusal) =>
      this.warn(refusal === undefined ? outageLine(message) : refusedLine(refusal)),
    );
    this.outageLine = line;
    void line.finally(() => {
      if (this.outageLine === line) this.outageLine = undefined;
    });
  }
}

function outageLine(message: string): string {
  return `chatgate: redis is not answering (${message}); limits and budgets follow their on_error policy until it is back`;
}

/** The server's own words name the problem; the URL (and its password) is left out, as everywhere. */
function refusedLine(refusal: string): string {
  const what = refusal.startsWith("NOAUTH") ? "requires a password, and its URL gives none" : "refused the credentials in its URL";
  return `chatgate: redis ${what} (${refusal}); limits and budgets follow their on_error policy until it accepts them`;
}

/** Bun's RedisClient's error when the server closed the connection (also how it reports a refused AUTH). */
function isConnectionClosed(err: unknown): boolean {
  return err instanceof Error && (err as Error & { code?: string }).code === "ERR_REDIS_CONNECTION_CLOSED";
}

/** Redis lost its scripts (a restart, SCRIPT FLUSH): the caller sends the script itself. */
export function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith("NOSCRIPT");
}
