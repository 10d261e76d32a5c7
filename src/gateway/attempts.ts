import { ClientClosedError, GatewayError, ShuttingDownError, clientClosed, toGatewayError } from "../errors.ts";
import { classify, countsAgainstTarget, drawWeighted } from "../policy.ts";
import type { RequestTrace } from "../obs/trace-context.ts";
import type { CallTracker, Provider } from "../providers/provider.ts";
import type { Attempt } from "./finish.ts";
import type { TargetHealth } from "./health.ts";
import type { Providers, Route, Target } from "./route-table.ts";

/** What the attempt loop needs from outside: the clock, sleep and random source are injected. */
export interface AttemptDeps {
  providers: Providers;
  health: TargetHealth;
  /** Retries per target after its first attempt. */
  retries: number;
  maxRetryWaitMs: number;
  now: () => number;
  /** Resolves after `ms`, or rejects as soon as `signal` aborts. */
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  random: () => number;
}

/** One request's chain of attempts: where it must end by, and where its attempts are recorded. */
export interface Chain {
  signal: AbortSignal;
  /** Epoch ms by which the whole chain, waits included, must be over. */
  deadlineAt: number;
  attempts: Attempt[];
  /** The request's trace while tracing is on: each attempt gets its span id from it. */
  trace?: RequestTrace;
  /** Told of what the request waits on between attempts, so a shutdown out of drain time can end it. */
  calls?: CallTracker;
}

/** The targets in the order they are tried: weighted routes draw the first, the rest follow in order. */
export function targetOrder(route: Route, random: () => number): Target[] {
  if (route.strategy !== "weighted" || route.targets.length < 2) return route.targets;
  const first = drawWeighted(route.targets.map((t) => t.weight), random);
  return [route.targets[first]!, ...route.targets.filter((_, i) => i !== first)];
}

/**
 * Tries a route's targets until one answers: the same target again after a failure the policy
 * says is passing (after Retry-After or a jittered backoff), the next one when it says so or the
 * retries are spent, and the client's own error at once. Targets cooling down are skipped; when
 * every target is cooling down, a 503 comes at once with no upstream call.
 */
export async function firstSuccess<T>(route: Route, chain: Chain, deps: AttemptDeps, call: (provider: Provider, target: Target) => Promise<T>): Promise<{ value: T; target: Target }> {
  let last: GatewayError | undefined;
  let tried = 0;
  for (const target of targetOrder(route, deps.random)) {
    const provider = deps.providers.get(target.provider);
    if (provider === undefined) continue;
    for (let retriesUsed = 0; ; retriesUsed++) {
      // No attempt starts after the request's deadline: the last error stands.
      if (last !== undefined && deps.now() >= chain.deadlineAt) throw summarise(last, chain.attempts);
      if (deps.health.take(target) === "no") break;
      tried++;
      const started = deps.now();
      const spanId = chain.trace?.attempt();
      try {
        const value = await call(provider, target);
        deps.health.succeeded(target);
        chain.attempts.push({ provider: target.provider, model: target.model, status: 200, reason: "ok", durationMs: deps.now() - started, startedAt: started, spanId });
        return { value, target };
      } catch (thrown) {
        const err = toGatewayError(thrown);
        const failure = { upstreamStatus: err.upstreamStatus, code: err.code, retryAfterMs: err.retryAfterMs, status: err.status };
        chain.attempts.push({ provider: target.provider, model: target.model, status: err.upstreamStatus ?? err.status, reason: err.code ?? err.type, durationMs: deps.now() - started, startedAt: started, spanId });
        // The caller's own 4xx from the upstream still proves the target answers: it breaks a run of
        // failures. One refused before it was sent, a client gone or a shutdown say nothing of it.
        if (countsAgainstTarget(failure)) deps.health.failed(target, `${err.upstreamStatus ?? err.status} ${err.code ?? err.type}`);
        else if (err instanceof ClientClosedError || err instanceof ShuttingDownError || err.upstreamStatus === undefined) deps.health.released(target);
        else deps.health.succeeded(target);
        last = err;
        // The client left while this attempt failed: its request ends as the client's abort.
        if (chain.signal.aborted) throw err instanceof ShuttingDownError ? err : clientClosed();
        const decision = classify(failure, { retriesUsed, retries: deps.retries, maxRetryWaitMs: deps.maxRetryWaitMs, random: deps.random });
        if (decision.action === "stop") throw summarise(err, chain.attempts);
        if (decision.action === "next" || deps.now() + decision.delayMs >= chain.deadlineAt) break;
        await wait(decision.delayMs, chain, deps);
        if (chain.signal.aborted) throw clientClosed();
      }
    }
  }
  if (last === undefined) throw tried === 0 ? allCoolingDown(route, deps.health) : new GatewayError({ status: 502, type: "server_error", code: "upstream_error", message: "No target answered." });
  throw summarise(last, chain.attempts);
}

/**
 * A wait between attempts, which the client's leaving ends, and so does a shutdown out of drain
 * time: the wait is the request's call in flight then (`chain.calls`), and the request ends with
 * the shutdown's error (a 503), not as a client's abort when the server closes its connection.
 */
async function wait(ms: number, chain: Chain, deps: AttemptDeps): Promise<void> {
  const waiting = new AbortController();
  let stoppedBy: GatewayError | undefined;
  const left = () => waiting.abort();
  chain.signal.addEventListener("abort", left, { once: true });
  chain.calls?.track({ stop: (reason) => ((stoppedBy = reason), waiting.abort()) });
  try {
    await deps.sleep(ms, waiting.signal).catch(() => {});
  } finally {
    chain.signal.removeEventListener("abort", left);
  }
  if (stoppedBy !== undefined && !chain.signal.aborted) throw stoppedBy;
}

/** The last attempt's error, its message listing every attempt when there was more than one. */
function summarise(err: GatewayError, attempts: readonly Attempt[]): GatewayError {
  if (attempts.length < 2) return err;
  const list = attempts.map((a) => `${a.provider}/${a.model}: ${a.status} ${a.reason}`).join("; ");
  return err.with({ message: `${err.message} (${attempts.length} attempts: ${list})` });
}

/** Every target is cooling down: a 503 whose Retry-After is when the first of them may be asked again. */
const allCoolingDown = (route: Route, health: TargetHealth) =>
  new GatewayError({
    status: 503, type: "server_error", code: "targets_cooling_down", retryable: true,
    retryAfterMs: Math.max(1_000, Math.min(...route.targets.map((t) => health.availableIn(t)))),
    message: `Every target of model '${route.name}' is cooling down after repeated failures; try again shortly.`,
  });
