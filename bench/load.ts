// Load generator, run as its own process (pinned beside the upstream) with its spec as argv[2]; it
// prints one JSON LoadResult line. Written in Bun rather than wrk because the figures that matter
// here, time to first chunk, total stream time and a check of every stream's content, are out of
// wrk's reach, and on loopback Bun's fetch keeps a single-core target busy at these concurrencies.
import { type ClientSpec, clientRequest, verifierFor } from "./client.ts";
import { Histogram, type Summary } from "./stats.ts";
import type { Expectation, VerifyLevel } from "./verify.ts";
import { answerPieces, expectedPromptChars, DEFAULT_ANSWER_BYTES } from "./wire.ts";

/** Wire, model, key (empty: none sent), stream, prompt size and knobs come from ClientSpec. */
export interface LoadSpec extends ClientSpec {
  url: string;
  concurrency: number;
  /** No request starts after this; those in flight finish. */
  durationMs: number;
  /** Nor after this many have started. */
  maxRequests: number;
  verify: VerifyLevel;
  timeoutMs: number;
  /** Who generates the load: this file, or wrk (non-stream only). */
  tool: "bun" | "wrk";
}

export interface LoadResult {
  completed: number;
  errors: number;
  errorSamples: string[];
  wallMs: number;
  /** Whole request (non-stream) or whole stream. */
  latency: Summary;
  /** Time to the first body bytes of a stream. */
  ttfc: Summary | null;
  /** Most responses open at once: shows whether N concurrent streams really were held open. */
  maxOpen: number;
}

const MAX_ERRORS = 2000;
const MAX_READS_PER_STREAM = 100_000;

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const request = clientRequest(spec);
  const body = new TextEncoder().encode(request.body);
  const headers = request.headers;
  const verify = verifierFor(spec.wire, spec.stream, spec.verify);
  const exp: Expectation = {
    pieces: answerPieces(spec.knobs.answer_bytes ?? DEFAULT_ANSWER_BYTES),
    promptChars: expectedPromptChars(spec.promptBytes),
  };
  const latency = new Histogram();
  const ttfc = new Histogram();
  const errorSamples: string[] = [];
  let started = 0;
  let completed = 0;
  let errors = 0;
  let open = 0;
  let maxOpen = 0;
  const fail = (why: string) => {
    errors++;
    if (errorSamples.length < 5 && !errorSamples.includes(why)) errorSamples.push(why);
  };
  const t0 = performance.now();
  const deadline = t0 + spec.durationMs;

  const one = async (): Promise<void> => {
    const start = performance.now();
    const res = await fetch(spec.url, {
      method: "POST",
      headers,
      body,
      signal: AbortSignal.timeout(spec.timeoutMs),
    });
    if (res.status !== 200) return fail(`HTTP ${res.status}: ${(await res.text()).slice(0, 120)}`);
    open++;
    if (open > maxOpen) maxOpen = open;
    try {
      if (!spec.stream) {
        const text = await res.text();
        latency.record(performance.now() - start);
        const bad = verify(text, exp);
        return bad ? fail(bad) : void completed++;
      }
      const reader = res.body?.getReader();
      if (!reader) return fail("stream: no body");
      const decoder = new TextDecoder();
      let text = "";
      let first = true;
      for (let reads = 0; reads < MAX_READS_PER_STREAM; reads++) {
        const { done, value } = await reader.read();
        if (done) break;
        if (first && value.byteLength > 0) {
          ttfc.record(performance.now() - start);
          first = false;
        }
        text += decoder.decode(value, { stream: true });
      }
      latency.record(performance.now() - start);
      const bad = verify(text, exp);
      return bad ? fail(bad) : void completed++;
    } finally {
      open--;
    }
  };

  const worker = async (): Promise<void> => {
    while (performance.now() < deadline && started < spec.maxRequests && errors < MAX_ERRORS) {
      started++;
      try {
        await one();
      } catch (e) {
        fail(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
      }
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, worker));
  return {
    completed,
    errors,
    errorSamples,
    wallMs: performance.now() - t0,
    latency: latency.summary(),
    ttfc: spec.stream ? ttfc.summary() : null,
    maxOpen,
  };
}

if (import.meta.main) {
  const arg = process.argv[2];
  if (!arg) throw new Error("usage: bun bench/load.ts '<LoadSpec JSON>'");
  const result = await runLoad(JSON.parse(arg) as LoadSpec);
  console.log(JSON.stringify(result));
  process.exit(0);
}
