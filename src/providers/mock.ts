import type { ChatCompletion, ChatCompletionChunk, ChatCompletionTokenLogprob } from "openai/resources/chat/completions";
import type { CompletionUsage } from "openai/resources/completions";
import type { ChatRequest, Model } from "../schema.ts";
import { StreamSeen, type CallOptions, type ChatCall, type Completion, type EmbeddingCall, type Embeddings, type EventStream, type ModelsOptions, type Provider } from "./provider.ts";
import { DONE_EVENT, sseJson } from "../sse-encode.ts";

export const MOCK_MODELS: readonly string[] = ["mock"];
const CREATED = 1_735_689_600; // fixed: the mock's models never change
const FINGERPRINT = "fp_chatgate_mock";
const GREETING = "Hello! I am chatgate's built-in mock model. Send me a message and I will echo it back.";

interface Answer {
  /** One entry per streamed chunk: the mock's tokens are words with their trailing space. */
  pieces: string[];
  finish: "stop" | "length";
  /** The stop sequence the answer ended at, when one did (finish `stop`). */
  stopSequence?: string;
  usage: CompletionUsage;
}

/**
 * A choice naming the stop sequence that ended it as vLLM does (`stop_reason`), so the Messages
 * route can report Anthropic's `stop_sequence`; left out when none did, as OpenAI's shape has no
 * such field.
 */
type Stopped<T> = T & { stop_reason?: string };

function textOf(content: ChatRequest["messages"][number]["content"]): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part) => (part.type === "text" && typeof part.text === "string" ? part.text : ""))
    .filter(Boolean)
    .join(" ");
}

/**
 * The text as words, each with the white space after it (the first also with any before it), so
 * the pieces join back to the text. `\S+\s*` fails at once where a word cannot start, which keeps
 * the scan linear; a leading `\s*` made a long run of white space quadratic.
 */
function words(text: string): string[] {
  const pieces = text.match(/\S+\s*/g);
  if (pieces === null) return [];
  const lead = text.length - text.trimStart().length;
  if (lead > 0) pieces[0] = text.slice(0, lead) + pieces[0];
  return pieces;
}

/** The most words the mock answers per choice (a model's output limit): a longer echo ends with finish_reason `length`. */
export const MAX_ANSWER_WORDS = 4096;

/** The mock's whole behaviour: echo the last user message, honouring stop and max tokens. */
export function mockAnswer(body: ChatRequest): Answer {
  const lastUser = [...body.messages].reverse().find((m) => m.role === "user");
  let reply = (lastUser ? textOf(lastUser.content) : "").trim() || GREETING;
  let finish: Answer["finish"] = "stop";
  // The first sequence to occur ends the answer (the first listed, of two at one place).
  let stopSequence: string | undefined;
  let end = reply.length;
  const stops = body.stop == null ? [] : Array.isArray(body.stop) ? body.stop : [body.stop];
  for (const stop of stops) {
    const at = stop === "" ? -1 : reply.indexOf(stop);
    if (at !== -1 && at < end) (end = at), (stopSequence = stop);
  }
  const stopped = stopSequence !== undefined;
  if (stopped) reply = reply.slice(0, end);
  let pieces = words(reply);
  // A model's output is bounded; so is the mock's, or a 16 MB prompt echoed to n: 128 choices was a 2 GB answer.
  const max = Math.min(body.max_completion_tokens ?? body.max_tokens ?? MAX_ANSWER_WORDS, MAX_ANSWER_WORDS);
  // A stop sequence right after the last token allowed is never generated: the limit ends the answer.
  if (pieces.length > max || (stopped && pieces.length === max)) {
    pieces = pieces.slice(0, max);
    finish = "length";
    stopSequence = undefined;
  }
  const n = body.n ?? 1;
  const prompt = body.messages.reduce((sum, m) => sum + words(textOf(m.content)).length, 0);
  const completion = pieces.length * n;
  return { pieces, finish, stopSequence, usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } };
}

const utf8 = new TextEncoder();

/** A token's log probability as OpenAI reports it: the mock's answer is certain, so 0 (probability 1), its only candidate. */
function tokenLogprob(token: string, top: number | null | undefined): ChatCompletionTokenLogprob {
  const bytes = Array.from(utf8.encode(token));
  return { token, logprob: 0, bytes, top_logprobs: top ? [{ token, logprob: 0, bytes }] : [] };
}

let counter = 0;
const nextId = () => `chatcmpl-mock${Date.now().toString(36)}${(counter++).toString(36)}`;

/** The built-in deterministic model: no network, real OpenAI shapes, exact usage. */
export class MockProvider implements Provider {
  readonly type = "mock";
  readonly host = null;
  /** Its answers never break, so it has nothing to continue. */
  readonly continuation = "none";

  /** `anyModel`: alone, the mock answers any model name, so apps that hard-code one work on a laptop as is. */
  constructor(
    readonly id = "mock",
    private readonly anyModel = false,
    readonly implicit = true,
  ) {}

  servesAnyModel(): boolean {
    return this.anyModel;
  }

  listedModels(): readonly string[] {
    return MOCK_MODELS;
  }

  async models(_options: ModelsOptions): Promise<Model[]> {
    return MOCK_MODELS.map((id) => ({ id, object: "model", created: CREATED, owned_by: "chatgate" }));
  }

  async complete(call: ChatCall, { model }: CallOptions): Promise<Completion> {
    const body = await judged(call);
    const answer = mockAnswer(body);
    const content = answer.pieces.join("");
    const completion: ChatCompletion = {
      id: nextId(),
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model,
      system_fingerprint: FINGERPRINT,
      choices: Array.from({ length: body.n ?? 1 }, (_, index) => {
        const choice: Stopped<ChatCompletion.Choice> = {
          index,
          message: { role: "assistant", content, refusal: null },
          logprobs: body.logprobs === true ? { content: answer.pieces.map((piece) => tokenLogprob(piece, body.top_logprobs)), refusal: null } : null,
          finish_reason: answer.finish,
        };
        if (answer.stopSequence !== undefined) choice.stop_reason = answer.stopSequence;
        return choice;
      }),
      usage: answer.usage,
    };
    return { completion, json: JSON.stringify(completion) };
  }

  async stream(call: ChatCall, { model }: CallOptions): Promise<EventStream> {
    const body = await judged(call);
    const answer = mockAnswer(body);
    const seen = new StreamSeen();
    const events = mockEvents(body, model, answer, seen);
    return { seen, [Symbol.asyncIterator]: () => events };
  }

  /** Deterministic unit vectors for any model name it is routed (src/providers/mock-embeddings.ts, loaded on first use). */
  async embed({ body }: EmbeddingCall, { model }: CallOptions): Promise<Embeddings> {
    const { mockEmbeddings } = await import("./mock-embeddings.ts");
    return mockEmbeddings(body, model);
  }
}

/**
 * The body, once judged as OpenAI would judge it: the mock has no upstream to refuse what OpenAI
 * refuses. A translated body was judged by its own API's route, and may hold what that API takes.
 */
async function judged(call: ChatCall): Promise<ChatRequest> {
  if (call.translated !== true) (judge ??= (await import("./mock-judge.ts")).judgeLikeOpenAI)(call.body);
  return call.body;
}
/** Loaded on the mock's first call (its schema is built as the module loads): a gateway in front of real providers never loads it. */
let judge: typeof import("./mock-judge.ts").judgeLikeOpenAI | undefined;

async function* mockEvents(body: ChatRequest, model: string, answer: Answer, seen: StreamSeen): AsyncGenerator<Uint8Array> {
  const includeUsage = body.stream_options?.include_usage === true;
  const n = body.n ?? 1;
  const base = { id: nextId(), object: "chat.completion.chunk" as const, created: Math.floor(Date.now() / 1000), model, system_fingerprint: FINGERPRINT };
  const event = (choices: ChatCompletionChunk["choices"], usage?: CompletionUsage): Uint8Array => {
    const chunk: ChatCompletionChunk = includeUsage ? { ...base, choices, usage: usage ?? null } : { ...base, choices };
    return sseJson(chunk);
  };
  const each = (make: (index: number) => ChatCompletionChunk["choices"][number]) => Array.from({ length: n }, (_, i) => make(i));
  for (let index = 0; index < n; index++) {
    yield event([{ index, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]);
  }
  for (const piece of answer.pieces) {
    const logprobs = body.logprobs === true ? { content: [tokenLogprob(piece, body.top_logprobs)], refusal: null } : null;
    for (const choice of each((index) => ({ index, delta: { content: piece }, logprobs, finish_reason: null }))) {
      yield event([choice]);
    }
  }
  for (const choice of each((index) => {
    const last: Stopped<ChatCompletionChunk.Choice> = { index, delta: {}, logprobs: null, finish_reason: answer.finish };
    if (answer.stopSequence !== undefined) last.stop_reason = answer.stopSequence;
    return last;
  })) {
    yield event([choice]);
  }
  if (includeUsage) yield event([], answer.usage);
  seen.usage = answer.usage;
  seen.done = true;
  yield DONE_EVENT;
}
