// A request's answer once the gateway has it: a stream committed to (its finish record written
// when it ends, its answer stored when it ends whole), or a JSON answer from the response cache.
import type { CompletionUsage } from "openai/resources/completions";
import { sameModelThroughout, type CacheUse, type ResponseCache } from "../cache/response-cache.ts";
import type { CachedAnswer } from "../cache/stored-answer.ts";
import type { GatewayError } from "../errors.ts";
import type { ChatCall } from "../providers/provider.ts";
import { sharedUsage, type Estimate } from "../usage/estimate.ts";
import type { Outcome } from "./finish.ts";
import type { Answer, OpenStream } from "./gateway.ts";
import type { Route } from "./route-table.ts";
import type { Run } from "./run.ts";

/** What a stream needs to store its answer when it ends. */
export interface StreamStoring {
  cache: ResponseCache;
  use: CacheUse;
  call: ChatCall;
  /** The upstream model the stream committed on: a continuation on another model is not stored. */
  model: string;
}

/**
 * A stream whose first event is in hand, upstream's or the cache's. With `storing`, its chunks
 * are kept as they pass and, if it ends complete (and no continuation changed the model), its
 * answer is stored.
 */
export function committed(run: Run, opened: Omit<OpenStream, "served" | "end">, storing?: StreamStoring, reported: () => CompletionUsage | Estimate | undefined = () => opened.seen.usage): OpenStream {
  run.firstByte();
  const usage = sharedUsage(reported);
  const seen = opened.seen;
  const recorder = storing && storing.cache.recorder(opened.first, opened.rest);
  if (recorder !== undefined) opened.rest = recorder;
  // A committed stream's status is the 200 already sent; the outcome says how it ended.
  const end = (outcome: Outcome, error?: GatewayError) => {
    // An upstream that broke its stream is the attempt's failure, recorded as a resumed stream's
    // broken part is; a stall of the client's or a shutdown leaves the attempt as it was.
    const last = run.attempts.at(-1);
    if (outcome === "truncated" && last !== undefined && error !== undefined && (error.upstreamStatus !== undefined || error.code?.startsWith("upstream_"))) {
      Object.assign(last, { status: error.upstreamStatus ?? error.status, reason: error.code ?? error.type });
    }
    run.finish(200, outcome, usage.get, error ? (error.code ?? error.type) : null);
    if (recorder === undefined || outcome !== "ok" || !sameModelThroughout(run.attempts, storing!.model)) return;
    storing!.cache.saveStream(storing!.use, recorder, storing!.call, seen.usage, run.served()!, opened.dropped);
  };
  return { ...opened, served: run.served()!, end, usage: usage.settled };
}

/**
 * The stored answer for `use`, if there is one; the run says whether it was a hit or a miss.
 * A stored answer counts only if one of the route's targets produced it: after a reload (or on an
 * instance sharing Redis with another config) that points the model elsewhere, an answer of the
 * old target is a miss, and the fresh answer replaces it.
 */
export async function lookup(run: Run, cache: ResponseCache, use: CacheUse, route: Route): Promise<CachedAnswer | undefined> {
  let stored = await cache.lookup(use);
  if (stored !== undefined && !route.targets.some((t) => t.provider === stored!.provider && t.model === stored!.model)) stored = undefined;
  if (stored === undefined) run.cache = "miss";
  else run.hit(stored);
  return stored;
}

/** A JSON request answered from the cache: no upstream call, its record says so. */
export function storedAnswer(run: Run, stored: CachedAnswer): Answer {
  run.firstByte();
  run.finish(200, "ok", () => stored.completion.usage ?? undefined);
  return { completion: stored.completion, json: stored.json, dropped: stored.dropped, served: run.served()! };
}
