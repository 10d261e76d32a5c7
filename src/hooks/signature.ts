// Signed webhook bodies: `x-chatgate-signature: sha256=<hex>`, the HMAC-SHA256 of the raw body
// under the hook's secret, and `x-chatgate-timestamp: <unix seconds>` within five minutes of now.
// A signature is taken once within that window: the same body again is a replay.
import { GatewayError } from "../errors.ts";

export const SIGNATURE_HEADER = "x-chatgate-signature";
export const TIMESTAMP_HEADER = "x-chatgate-timestamp";
/** How far a timestamp may be from chatgate's clock, either way, and how long a signature is remembered. */
export const WINDOW_MS = 5 * 60_000;

const refused = (code: string, message: string) => new GatewayError({ status: 401, type: "authentication_error", code, message });

const HOW = `Sign the raw body: '${SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of the body under the hook's secret>', with '${TIMESTAMP_HEADER}: <unix seconds>'.`;
const missing = () => refused("missing_signature", `This hook takes signed requests only. ${HOW}`);
const invalid = () => refused("invalid_signature", `The signature does not match the body. ${HOW}`);
const expired = () => refused("signature_expired", `The ${TIMESTAMP_HEADER} header must be the time of sending in unix seconds, within 5 minutes of chatgate's clock.`);
const replayed = () => refused("signature_replayed", "This signed body was already received within the last 5 minutes; a body is accepted once (to send the same text again, make the bodies differ, e.g. with an \"id\").");

const SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;
const SECONDS = /^\d{1,12}$/;

/**
 * Checks the headers against the raw body: the timestamp first (no HMAC for a stale request), then
 * the signature, compared in constant time over the 32 bytes. Throws the 401 that names what is
 * wrong; returns the signature's digest (what the replay guard remembers).
 */
export function verifySignature(secret: string, body: Uint8Array, headers: Headers, now: number): Buffer {
  const signature = headers.get(SIGNATURE_HEADER);
  const timestamp = headers.get(TIMESTAMP_HEADER);
  if (signature === null || timestamp === null) throw missing();
  if (!SECONDS.test(timestamp.trim()) || Math.abs(Number(timestamp.trim()) * 1000 - now) > WINDOW_MS) throw expired();
  const given = SIGNATURE.exec(signature.trim());
  if (given === null) throw invalid();
  // Bun's hasher and Web Crypto's timingSafeEqual: node:crypto stays unloaded.
  const expected = new Bun.CryptoHasher("sha256", secret).update(body).digest();
  const presented = Buffer.from(given[1]!, "hex");
  if (!crypto.timingSafeEqual(expected, presented)) throw invalid();
  return expected;
}

/**
 * The signatures taken within the window, so a captured request sent again is refused. A signature
 * is held while its request runs and kept when it succeeds; a request that fails gives it back, so
 * the sender's retry of a failed delivery is not taken for a replay. Only verified signatures are
 * held (forging one needs the secret), and at most `max`: past it, the oldest is forgotten first.
 */
export class ReplayGuard {
  /** Signature → when it may be taken again; Map order is arrival order, and every entry lives WINDOW_MS, so the oldest is first. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly now: () => number,
    private readonly max = 100_000,
  ) {}

  /** Holds `digest` for this request; throws the 401 when it is held already. Returns what gives it back. */
  take(scope: string, digest: Buffer): () => void {
    const now = this.now();
    const key = `${scope}:${digest.toString("base64")}`;
    const until = this.seen.get(key);
    if (until !== undefined && until > now) throw replayed();
    this.seen.delete(key);
    this.sweep(now);
    this.seen.set(key, now + WINDOW_MS);
    return () => void this.seen.delete(key);
  }

  get size(): number {
    return this.seen.size;
  }

  private sweep(now: number): void {
    for (const [key, until] of this.seen) {
      if (until > now && this.seen.size < this.max) return;
      this.seen.delete(key);
    }
  }
}
