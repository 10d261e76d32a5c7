import { Deadline } from "./deadline.ts";
import type { CallOptions } from "./provider.ts";
import { readCapped } from "./read-body.ts";
import { fromUpstreamException, fromUpstreamResponse, upstreamTooLarge, type Redact } from "./upstream-error.ts";

/** An OpenAI-compatible upstream as a whole-answer call sees it. */
export interface TextUpstream {
  id: string;
  fetch: typeof fetch;
  redact: Redact;
  /** Largest answer read; larger is a 502. */
  maxBytes: number;
  /** Longest wait for the whole answer; the request's own deadline may cut it shorter. */
  totalMs: number;
}

/**
 * POSTs `body` and returns the upstream's whole answer as text, every failure classified the one
 * way (a 429 with its Retry-After, a 5xx retryable, our timeout, the client gone, our key never
 * echoed), so retries, fallback and cooldown treat chat and embeddings calls alike.
 */
export async function postForText(
  up: TextUpstream,
  url: string,
  headers: Record<string, string>,
  body: string | Uint8Array,
  { signal, deadlineMs, calls }: CallOptions,
): Promise<string> {
  const totalMs = Math.min(up.totalMs, deadlineMs ?? Number.POSITIVE_INFINITY);
  const deadline = new Deadline(signal, totalMs);
  calls?.track(deadline);
  try {
    const res = await up.fetch(url, { method: "POST", headers, body, signal: deadline.signal, redirect: "manual", timeout: false });
    if (!res.ok) throw await fromUpstreamResponse(up.id, res, up.redact);
    const text = await readCapped(res, up.maxBytes);
    if (text === undefined) throw upstreamTooLarge(up.id, "an answer", up.maxBytes);
    return text;
  } catch (err) {
    throw fromUpstreamException(up.id, err, deadline.timedOut, signal, `no answer within ${totalMs} ms`, deadline.stoppedWith);
  } finally {
    deadline.clear();
  }
}
