// Signed webhook bodies: `x-chatgate-signature: sha256=<hex>`, the HMAC-SHA256 of the raw body
// under the hook's secret, and `x-chatgate-timestamp: <unix seconds>` within five minutes of now.
// A signature is taken once for as long as its timestamp is accepted: the same body again is a replay.
import { GatewayError } from "../errors.ts";

export const SIGNATURE_HEADER = "x-chatgate-signature";
export const TIMESTAMP_HEADER = "x-chatgate-timestamp";
/** How far a timestamp may be from chatgate's clock, either way (a signature is remembered at least this long). */
export const WINDOW_MS = 5 * 60_000;

const refused = (code: string, message: string) => new GatewayError({ status: 401, type: "authentication_error", code, message });

const HOW = `Sign the raw body: '${SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of the body under the hook's secret>', with '${TIMESTAMP_HEADER}: <unix seconds>'.`;
const missing = () => refused("missing_signature", `This hook takes signed requests only. ${HOW}`);
const invalid = () => refused("invalid_signature", `The signature does not match the body. ${HOW}`);
const expired = () => refused("signature_expired", `The ${TIMESTAMP_HEADER} header must be the time of sending in unix seconds, within 5 minutes of chatgate's clock.`);
const replayed = () => refused("signature_replayed", "This signed body was already received and is still remembered; a body is accepted once (to send the same text again, make the bodies differ, e.g. with an \"id\").");
const full = (max: number, retryAfterMs: number) =>
  new GatewayError({
    status: 429, type: "requests", code: "too_many_signed_requests", retryAfterMs,
    message: `This gateway remembers at most ${max} signed requests at once (each until its timestamp is out of the 5-minute window), and that many are remembered now. Please try again in ${Math.ceil(retryAfterMs / 1000)}s.`,
  });

const SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;
const SECONDS = /^\d{1,12}$/;

/** A verified signature: its digest, and the time its timestamp says, in ms. */
export interface Signed {
  digest: Buffer;
  at: number;
}

/**
 * Checks the headers against the raw body: the timestamp first (no HMAC for a stale request), then
 * the signature, compared in constant time over the 32 bytes. Throws the 401 that names what is
 * wrong; returns the signature's digest and timestamp (what the replay guard remembers, and until when).
 */
export function verifySignature(secret: string, body: Uint8Array, headers: Headers, now: number): Signed {
  const signature = headers.get(SIGNATURE_HEADER);
  const timestamp = headers.get(TIMESTAMP_HEADER);
  if (signature === null || timestamp === null) throw missing();
  const at = Number(timestamp.trim()) * 1000;
  if (!SECONDS.test(timestamp.trim()) || Math.abs(at - now) > WINDOW_MS) throw expired();
  const given = SIGNATURE.exec(signature.trim());
  if (given === null) throw invalid();
  // Bun's hasher and Web Crypto's timingSafeEqual: node:crypto stays unloaded.
  const expected = new Bun.CryptoHasher("sha256", secret).update(body).digest();
  const presented = Buffer.from(given[1]!, "hex");
  if (!crypto.timingSafeEqual(expected, presented)) throw invalid();
  return { digest: expected, at };
}

/**
 * The signatures taken, so a captured request sent again is refused. A signature is remembered
 * until the later of its timestamp + WINDOW_MS and its receipt + WINDOW_MS: the first is as long as
 * the same request (same timestamp) would pass the timestamp check, which for a timestamp ahead of
 * chatgate's clock is up to twice the window after receipt; the second keeps refusing the body
 * with a fresh timestamp for the window after receipt. A signature is held while its request runs
 * and kept when it succeeds; a request that fails gives it back, so the sender's retry of a failed
 * delivery is not taken for a replay. Only verified signatures are held (forging one needs the
 * secret), and at most `max`. A signature still remembered is never forgotten to make room: with
 * `max` remembered and none out of its window, a new signed request is refused (429, retryable)
 * rather than let an earlier one be replayed.
 */
export class ReplayGuard {
  /** Signature → the last instant (ms) it is refused as a replay. Map order is arrival order, not expiry order. */
  private readonly seen = new Map<string, number>();
  /** No remembered signature expires before this: at most the earliest `until` in `seen`. */
  private nextExpiry = Infinity;

  constructor(
    private readonly now: () => number,
    private readonly max = 100_000,
  ) {}

  /** Holds the signature for this request; throws the 401 when it is held already (the 429 when full). Returns what gives it back. */
  take(scope: string, signed: Signed): () => void {
    const now = this.now();
    const key = `${scope}:${signed.digest.toString("base64")}`;
    const until = this.seen.get(key);
    if (until !== undefined && now <= until) throw replayed();
    this.seen.delete(key);
    this.sweep(now);
    if (this.seen.size >= this.max) throw full(this.max, Math.max(1000, this.nextExpiry - now + 1));
    // The timestamp passes the check through at + WINDOW_MS inclusive (it is at most WINDOW_MS off).
    const remembered = Math.max(now, signed.at) + WINDOW_MS;
    this.seen.set(key, remembered);
    this.nextExpiry = Math.min(this.nextExpiry, remembered);
    return () => void this.seen.delete(key);
  }

  get size(): number {
    return this.seen.size;
  }

  /**
   * Forgets the signatures out of their window: the oldest arrivals first, up to the first still
   * remembered; when that leaves the guard full, every expired one wherever it is (a later arrival
   * may expire first: its timestamp was further behind). Never one still remembered.
   */
  private sweep(now: number): void {
    for (const [key, until] of this.seen) {
      if (until >= now) break;
      this.seen.delete(key);
    }
    if (this.seen.size < this.max || now <= this.nextExpiry) return;
    let next = Infinity;
    for (const [key, until] of this.seen) {
      if (until < now) this.seen.delete(key);
      else next = Math.min(next, until);
    }
    this.nextExpiry = next;
  }
}
