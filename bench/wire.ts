// OpenAI chat-completions wire shapes shared by the mock upstream (which produces them) and the
// load generator (which builds requests and checks answers), so both sides agree byte for byte.

export const MODEL = "bench-model";
export const CONTENT_CHUNKS = 20;
/** role + 20 content + finish + usage; `[DONE]` comes on top. */
export const STREAM_EVENTS = CONTENT_CHUNKS + 3;
/** Default answer: 20 pieces of 11 characters, which makes the non-stream body ~800 B. */
export const DEFAULT_ANSWER_BYTES = 220;
const FILLER = " lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor";

/** Knobs the mock reads from the request body: gateways forward unknown body fields, not headers. */
export interface BenchKnobs {
  delay_ms?: number;
  answer_bytes?: number;
}

/**
 * The answer, cut into CONTENT_CHUNKS pieces. Each starts with a unique marker (" tok07") so the
 * client can check order with indexOf instead of parsing every event.
 */
export function answerPieces(answerBytes: number): string[] {
  const per = Math.max(6, Math.floor(answerBytes / CONTENT_CHUNKS));
  const pieces: string[] = [];
  for (let i = 0; i < CONTENT_CHUNKS; i++) {
    const marker = ` tok${String(i).padStart(2, "0")}`;
    const need = per - marker.length;
    pieces.push(marker + FILLER.repeat(Math.ceil(need / FILLER.length) + 1).slice(i % 7, (i % 7) + need));
  }
  return pieces;
}

export function pieceMarker(i: number): string {
  return ` tok${String(i).padStart(2, "0")}`;
}

/** A user prompt of about `promptBytes` characters (plain ASCII so its length is its char count). */
export function promptText(promptBytes: number): string {
  const unit = "Summarise the benchmark. ";
  return unit.repeat(Math.max(1, Math.ceil(promptBytes / unit.length))).slice(0, Math.max(1, promptBytes));
}

export interface RequestMessage {
  role: string;
  content: string;
}

export function requestBody(opts: { model?: string; stream: boolean; promptBytes: number; knobs: BenchKnobs }): string {
  const messages: RequestMessage[] = [
    { role: "system", content: "You are a benchmark." },
    { role: "user", content: promptText(opts.promptBytes) },
  ];
  const body: Record<string, unknown> = { model: opts.model ?? MODEL, messages };
  if (opts.stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  body.bench = opts.knobs;
  return JSON.stringify(body);
}

/** The mock reports the prompt's character count as prompt_tokens: a cheap check that the body arrived whole. */
export function promptChars(messages: readonly RequestMessage[]): number {
  let n = 0;
  for (const m of messages) n += typeof m.content === "string" ? m.content.length : 0;
  return n;
}

export function expectedPromptChars(promptBytes: number): number {
  return "You are a benchmark.".length + promptText(promptBytes).length;
}

const ID = "chatcmpl-bench000000000000000000001";
const CREATED = 1700000000;
const FINGERPRINT = "fp_bench0001";

function usage(prompt: number): Record<string, unknown> {
  return {
    prompt_tokens: prompt,
    completion_tokens: CONTENT_CHUNKS,
    total_tokens: prompt + CONTENT_CHUNKS,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

/** Non-stream `chat.completion`, ~800 B with the default answer, in OpenAI's field order. */
export function completionJson(answerBytes: number, prompt: number): string {
  return JSON.stringify({
    id: ID,
    object: "chat.completion",
    created: CREATED,
    model: MODEL,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: answerPieces(answerBytes).join(""), refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: "stop",
      },
    ],
    usage: usage(prompt),
    service_tier: "default",
    system_fingerprint: FINGERPRINT,
  });
}

function chunk(choices: unknown[], usageValue: unknown): string {
  const obj = {
    id: ID,
    object: "chat.completion.chunk",
    created: CREATED,
    model: MODEL,
    service_tier: "default",
    system_fingerprint: FINGERPRINT,
    choices,
    usage: usageValue,
  };
  return `data: ${JSON.stringify(obj)}\n\n`;
}

/** The 23 SSE events plus `[DONE]`, exactly as OpenAI frames them with include_usage. */
export function streamEvents(answerBytes: number, prompt: number): string[] {
  const events: string[] = [];
  const choice = (delta: Record<string, unknown>, finish: string | null) => ({
    index: 0,
    delta,
    logprobs: null,
    finish_reason: finish,
  });
  events.push(chunk([choice({ role: "assistant", content: "", refusal: null }, null)], null));
  for (const piece of answerPieces(answerBytes)) events.push(chunk([choice({ content: piece }, null)], null));
  events.push(chunk([choice({}, "stop")], null));
  events.push(chunk([], usage(prompt)));
  events.push("data: [DONE]\n\n");
  return events;
}
