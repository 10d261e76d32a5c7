import type { CompletionUsage } from "openai/resources/completions";
import { badGateway, toGatewayError, type GatewayError } from "../errors.ts";
import { countsAgainstTarget, resumeDecision } from "../policy.ts";
import type { ChatCall, Provider, StreamSeen } from "../providers/provider.ts";
import { concatAll } from "../providers/sse-frames.ts";
import { countTexts } from "../usage/count-texts.ts";
import { encodingFor, type Encoding } from "../usage/encoding.ts";
import { Estimate, streamUsage, withCounts } from "../usage/estimate.ts";
import { promptTokens } from "../usage/prompt.ts";
import type { TargetHealth } from "./health.ts";
import { reportedCompletion, Seam, summedUsage, type Part } from "./resume-seam.ts";
import { continuationCall, readTranscript, refusesContinuation, type Transcript } from "./resume-transcript.ts";
import { Continuers, targetKey, type ContinuerDeps } from "./resume-targets.ts";
import type { Route, Target } from "./route-table.ts";
import type { Run } from "./run.ts";

export { resumableRequest } from "./resume-transcript.ts";

/** Bytes of a stream kept to read back what the client got; past this the stream is not resumed. */
const MAX_RECORDED_BYTES = 4 * 1024 * 1024;
/** No continuation starts with less than this left of the request's deadline. */
const MIN_TIME_LEFT_MS = 1_000;

/** What resuming needs from the router, shared by every stream. */
export interface ResumeDeps extends ContinuerDeps {
  health: TargetHealth;
  now: () => number;
  log: (line: string) => void;
}

/** One stream's resume: its route, the request, and the attempt that answered. */
export interface ResumeScope {
  route: Route;
  call: ChatCall;
  target: Target;
  signal: AbortSignal;
  run: Run;
  /** The stream's `seen`: resuming keeps it current (usage summed, done when the last part ends). */
  seen: StreamSeen;
}

/**
 * A committed stream that, when it breaks, asks a target that can continue for the rest of the
 * answer and carries on as the same stream (see README, "Stream resume"). Until a break it only
 * keeps references to the chunks that went out (no parse, no copy); the transcript is read from
 * them once, at the break. Ends with the failure when no continuation is possible.
 */
export class ResumingStream implements AsyncIterator<Uint8Array, void> {
  /** The first attempt's chunks as sent, until the first break (undefined: past the cap, or already read). */
  private sent: Uint8Array[] | undefined;
  private sentBytes: number;
  private inner: AsyncIterator<Uint8Array, void>;
  private transcript: Transcript | undefined;
  /** The continuation in progress; undefined while the first attempt streams. */
  private seam: Seam | undefined;
  private readonly broken: Part[] = [];
  private current: { target: Target; seen: StreamSeen; call: ChatCall };
  private resumes = 0;
  /** The break that made this stream resume first: the error the client gets when none can go on. */
  private original: GatewayError | undefined;
  /** Which targets may continue this stream, from how each broke in it. */
  private readonly continuers: Continuers;
  /**
   * The counts of the parts that broke without reporting theirs, made while the continuation is
   * asked for. Only what carries usage waits on them (the usage chunk, the finish record): the
   * continuation's text goes out at once, though the first count may take a second (it starts the
   * counting process).
   */
  private counted: Promise<unknown> = Promise.resolve();
  private countsIn = true;
  /** What a broken part's text is counted with: the first target's encoding, for every part. */
  private readonly encoding: Encoding;

  constructor(
    first: Uint8Array,
    rest: AsyncIterator<Uint8Array, void>,
    private readonly scope: ResumeScope,
    private readonly deps: ResumeDeps,
  ) {
    this.sent = [first];
    this.sentBytes = first.length;
    this.inner = rest;
    this.current = { target: scope.target, seen: scope.seen, call: scope.call };
    this.encoding = encodingFor(scope.target.model);
    this.continuers = new Continuers(scope.route, deps);
  }

  async next(): Promise<IteratorResult<Uint8Array, void>> {
    for (;;) {
      let result: IteratorResult<Uint8Array, void>;
      try {
        result = await this.inner.next();
      } catch (err) {
        return { done: false, value: await this.resume(toGatewayError(err)) };
      }
      if (result.done) {
        if (this.seam !== undefined) {
          await this.counted;
          this.finish();
        }
        return result;
      }
      if (this.seam !== undefined) {
        let out = this.seam.push(result.value);
        if (this.seam.holding) {
          await this.counted;
          out = concatAll([out], this.seam.release());
        }
        if (out.length > 0) return { done: false, value: out };
        continue;
      }
      if (this.sent !== undefined) {
        this.sentBytes += result.value.length;
        if (this.sentBytes > MAX_RECORDED_BYTES) this.sent = undefined;
        else this.sent.push(result.value);
      }
      return result;
    }
  }

  return(): Promise<IteratorResult<Uint8Array, void>> {
    return this.inner.return?.() ?? Promise.resolve({ done: true, value: undefined });
  }

  /** The part streaming now broke with `failure`: continue elsewhere, or throw it. */
  private async resume(failure: GatewayError): Promise<Uint8Array> {
    const { scope, deps } = this;
    const where = resumeDecision({ upstreamStatus: failure.upstreamStatus, code: failure.code });
    if (where === "stop" || scope.signal.aborted) throw failure;
    // When nothing more can be tried, the client is told of the break that started it all.
    const original = (this.original ??= failure);
    const transcript = this.readBack();
    if (transcript === undefined || !transcript.continuable || this.resumes >= scope.route.maxResumes) throw original;
    // The attempt that streamed is recorded as what ended it.
    const broke = this.current.target;
    const attempt = scope.run.attempts.findLast((a) => a.provider === broke.provider && a.model === broke.model);
    if (attempt !== undefined) Object.assign(attempt, { status: failure.upstreamStatus ?? failure.status, reason: failure.code ?? failure.type });
    // What the part's upstream reported before it broke (rarely anything: usage comes last).
    const reported = this.current.seen.usage;
    if (attempt !== undefined && reported !== undefined && !this.current.seen.completionUnknown) attempt.usage = reported;
    const health = { upstreamStatus: failure.upstreamStatus, code: failure.code, status: failure.status };
    if (countsAgainstTarget(health)) deps.health.failed(broke, `${failure.upstreamStatus ?? failure.status} ${failure.code ?? failure.type}`);
    const seen = this.current.seen;
    const part: Part = { usage: seen.usage, promptOnly: seen.completionUnknown, contentChunks: this.seam?.contentChunks ?? transcript.contentChunks, text: this.seam?.added ?? transcript.text };
    this.broken.push(part);
    // The part's completion must be counted: the counting process counts it while the continuation
    // is asked for and streams; the usage chunk and the finish record wait for the count.
    if (!reportedCompletion(part)) {
      const counted = Promise.all([this.counted, countTexts(this.encoding, [part.text]).then(([tokens]) => void (part.tokens = tokens))]);
      this.counted = counted;
      this.countsIn = false;
      void counted.then(() => {
        if (this.counted === counted) this.countsIn = true;
      });
    }
    this.continuers.broke(broke, where === "same");
    for (const target of this.continuers.after(broke)) {
      if (scope.run.deadlineAt - deps.now() < MIN_TIME_LEFT_MS || scope.signal.aborted) break;
      if (deps.health.take(target) === "no") continue;
      const opened = await this.open(target, transcript);
      if (opened !== undefined) return opened;
    }
    throw original;
  }

  /** The transcript so far: read from the first attempt's chunks once, then kept by the seams. */
  private readBack(): Transcript | undefined {
    if (this.seam !== undefined) {
      const t = this.transcript!;
      return { ...t, text: this.seam.text, continuable: t.continuable && !this.seam.other };
    }
    if (this.sent === undefined) return undefined;
    this.transcript = readTranscript(this.sent);
    this.sent = undefined;
    return this.transcript;
  }

  /** Asks `target` for the rest; returns the client's next bytes (the seam), or undefined when it cannot. */
  private async open(target: Target, transcript: Transcript): Promise<Uint8Array | undefined> {
    const { scope, deps } = this;
    const provider = deps.providers.get(target.provider) as Provider;
    const text = this.seam?.text ?? transcript.text;
    const call = continuationCall(scope.call, text, this.continuers.style(target)!);
    const started = deps.now();
    const spanId = scope.run.trace?.attempt();
    const left = Math.max(1, scope.run.deadlineAt - started);
    let iterator: AsyncIterator<Uint8Array, void> | undefined;
    try {
      const events = await provider.stream(call, { signal: scope.signal, model: target.model, deadlineMs: left, calls: scope.run, resumable: true });
      iterator = events[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (first.done) throw badGateway(`Provider '${provider.id}' ended its continuation before its first event.`, "upstream_stream_truncated");
      scope.run.attempts.push({ provider: target.provider, model: target.model, status: 200, reason: "resumed", durationMs: deps.now() - started, startedAt: started, spanId });
      deps.health.succeeded(target);
      this.resumes++;
      scope.run.resumed = true;
      this.current = { target, seen: events.seen, call };
      const includeUsage = scope.call.body.stream_options?.include_usage === true;
      const seam = new Seam(transcript.id, transcript.created, text, includeUsage, this.broken, `${target.provider}/${target.model}`);
      if (!this.countsIn) {
        seam.countPending = true;
        void this.counted.then(() => (seam.countPending = false));
      }
      this.seam = seam;
      this.inner = iterator;
      const out = seam.push(first.value);
      if (!seam.holding) return out;
      await this.counted;
      return concatAll([out], seam.release());
    } catch (thrown) {
      await iterator?.return?.().catch(() => {});
      const err = toGatewayError(thrown);
      scope.run.attempts.push({ provider: target.provider, model: target.model, status: err.upstreamStatus ?? err.status, reason: err.code ?? err.type, durationMs: deps.now() - started, startedAt: started, spanId });
      if (refusesContinuation(err)) {
        deps.unable.add(targetKey(target));
        deps.health.released(target);
        deps.log(`chatgate: ${targetKey(target)} refused a continuation (${err.message}); stream resume skips it from now on`);
      } else if (countsAgainstTarget({ upstreamStatus: err.upstreamStatus, code: err.code, status: err.status })) {
        deps.health.failed(target, `${err.upstreamStatus ?? err.status} ${err.code ?? err.type}`);
      } else deps.health.released(target);
      return undefined;
    }
  }

  /** The last part ended: the stream's own `seen` now speaks for the whole answer. */
  private finish(): void {
    const { seen } = this.scope;
    const last = this.current.seen;
    // The continuation that ended the answer reported its own part's usage: its attempt row's.
    const attempt = this.scope.run.attempts.at(-1);
    if (attempt !== undefined && last.usage !== undefined && !last.completionUnknown) attempt.usage = last.usage;
    seen.done = last.done;
    seen.usage = summedUsage(this.broken, last.usage);
  }

  /**
   * The whole answer's usage, for its finish record: the stream's own until a break. After one,
   * the parts summed: exact when every part reported its counts, else an Estimate that counts
   * what each part that did not report delivered (the last part too, when it broke or the client
   * left, its prompt being the continuation request it was sent).
   */
  usage(): CompletionUsage | Estimate | undefined {
    const { seen, call } = this.scope;
    if (this.seam === undefined) return streamUsage(seen, call.body, this.scope.target.model);
    const current = this.current;
    const last = current.seen.usage !== undefined && !current.seen.completionUnknown ? current.seen.usage : undefined;
    const exact = this.broken.every((p) => p.usage !== undefined && !p.promptOnly);
    if (last !== undefined && exact) return summedUsage(this.broken, last);
    const text = this.seam.added;
    return new Estimate(this.encoding, (count) => {
      const prompt = current.seen.usage?.prompt_tokens || promptTokens(count, current.call.body, this.encoding);
      // A part that broke just now (no continuation opened) may not have its count back yet.
      const broken = this.broken.map((p) => (reportedCompletion(p) || p.tokens !== undefined ? p : { ...p, tokens: count(p.text) }));
      return summedUsage(broken, last ?? withCounts(prompt, count(text), current.seen.usage))!;
    });
  }
}

