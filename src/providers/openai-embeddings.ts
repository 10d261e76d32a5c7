// OpenAI's embeddings API over fetch, for OpenAIProvider: loaded on the first embeddings call, so
// a gateway that only chats never loads it.
import { badGateway } from "../errors.ts";
import { Deadline } from "./deadline.ts";
import { readEmbeddings } from "./embeddings-usage.ts";
import { callHeaders, type CallOptions, type EmbeddingCall, type Embeddings } from "./provider.ts";
import { readCapped } from "./read-body.ts";
import { fromUpstreamException, fromUpstreamResponse, upstreamTooLarge, type Redact } from "./upstream-error.ts";

/** What an embeddings call needs of its provider. */
export interface EmbeddingsUpstream {
  id: string;
  /** `{baseUrl}/embeddings`. */
  url: string;
  headers: Record<string, string>;
  fetch: typeof fetch;
  redact: Redact;
  /** Largest answer read; larger is a 502. */
  maxBytes: number;
  /** Longest wait for the whole answer. */
  totalMs: number;
}

/** The client's bytes when the target's model is the one it asked for, else the request serialised once with it. */
export function embeddingsBody(call: EmbeddingCall, model: string): string | Uint8Array {
  return model === call.body.model ? call.raw : JSON.stringify({ ...call.body, model });
}

/**
 * Posts the call and returns the upstream's answer as its own text. Failures are classified as a
 * chat call's are (a 429 with its Retry-After, a 5xx retryable, our key never echoed), so retries,
 * fallback and cooldown treat them alike.
 */
export async function postEmbeddings(up: EmbeddingsUpstream, call: EmbeddingCall, { signal, model, deadlineMs, calls }: CallOptions): Promise<Embeddings> {
  const totalMs = Math.min(up.totalMs, deadlineMs ?? Number.POSITIVE_INFINITY);
  const deadline = new Deadline(signal, totalMs);
  calls?.track(deadline);
  let json: string;
  try {
    const res = await up.fetch(up.url, { method: "POST", headers: callHeaders(up.headers, call), body: embeddingsBody(call, model), signal: deadline.signal, redirect: "manual" });
    if (!res.ok) throw await fromUpstreamResponse(up.id, res, up.redact);
    const text = await readCapped(res, up.maxBytes);
    if (text === undefined) throw upstreamTooLarge(up.id, "an answer", up.maxBytes);
    json = text;
  } catch (err) {
    throw fromUpstreamException(up.id, err, deadline.timedOut, signal, `no answer within ${totalMs} ms`, deadline.stoppedWith);
  } finally {
    deadline.clear();
  }
  const read = readEmbeddings(json);
  if (read === undefined) throw badGateway(`Provider '${up.id}' answered with a body that is not an embeddings list.`);
  return { json, usage: read.usage };
}
