// Deterministic mock of an OpenAI-compatible upstream, and of Anthropic's Messages API beside it,
// run as its own process so it can be pinned beside the load generator. Prints one line
// `{"port":N}` when listening.
import { ANTHROPIC_MODEL, type AnthropicRequest, anthropicPromptChars, messageEvents, messageJson } from "./wire-anthropic.ts";
import {
  type BenchKnobs,
  DEFAULT_ANSWER_BYTES,
  MODEL,
  type RequestMessage,
  completionJson,
  promptChars,
  streamEvents,
} from "./wire.ts";

/** The key a gateway must send upstream; a wrong one is answered 401 so a mis-wired target shows as errors. */
export const UPSTREAM_KEY = "sk-bench-upstream";
const MAX_DELAY_MS = 1000;
const MAX_ANSWER_BYTES = 1 << 20;

interface ChatRequest {
  model?: string;
  messages?: RequestMessage[];
  stream?: boolean;
  bench?: BenchKnobs;
}

// Bodies are built once per (answer size, prompt size): the mock should cost the shared core as
// little as possible, so the load generator beside it is not starved.
type Wire = "openai" | "anthropic";
const cache = new Map<string, { json: string; events: string[] }>();
function answers(wire: Wire, answerBytes: number, prompt: number): { json: string; events: string[] } {
  const key = `${wire}:${answerBytes}:${prompt}`;
  let hit = cache.get(key);
  if (!hit) {
    if (cache.size > 256) cache.clear();
    hit =
      wire === "openai"
        ? { json: completionJson(answerBytes, prompt), events: streamEvents(answerBytes, prompt) }
        : { json: messageJson(answerBytes, prompt), events: messageEvents(answerBytes, prompt) };
    cache.set(key, hit);
  }
  return hit;
}

// Unpaced (delay 0), the events are yielded back to back and Bun sends them in one or a few
// writes, as a fast upstream's buffered answer arrives; paced, each event is its own write after
// the delay, as real tokens are. The role chunk always goes out at once: it is the first chunk.
async function* paced(events: string[], delayMs: number, signal: AbortSignal): AsyncGenerator<string> {
  for (let i = 0; i < events.length; i++) {
    if (signal.aborted) return;
    yield events[i] as string;
    if (delayMs > 0 && i < events.length - 1) await Bun.sleep(delayMs);
  }
}

function clamp(v: unknown, lo: number, hi: number, dflt: number): number {
  return typeof v === "number" && Number.isFinite(v) ? Math.min(hi, Math.max(lo, Math.floor(v))) : dflt;
}

const unauthorized = (req: Request) =>
  req.headers.get("authorization") === `Bearer ${UPSTREAM_KEY}`
    ? null
    : Response.json({ error: { message: "bad upstream key", type: "invalid_request_error" } }, { status: 401 });

const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" };
const anthropicError = (status: number, type: string, message: string) =>
  Response.json({ type: "error", error: { type, message } }, { status });

async function chat(req: Request): Promise<Response> {
  let body: ChatRequest;
  try {
    body = (await req.json()) as ChatRequest;
  } catch {
    return Response.json({ error: { message: "invalid json", type: "invalid_request_error" } }, { status: 400 });
  }
  if (body.model !== MODEL || !Array.isArray(body.messages)) {
    return Response.json({ error: { message: "unexpected request", type: "invalid_request_error" } }, { status: 400 });
  }
  const answerBytes = clamp(body.bench?.answer_bytes, 0, MAX_ANSWER_BYTES, DEFAULT_ANSWER_BYTES);
  const delayMs = clamp(body.bench?.delay_ms, 0, MAX_DELAY_MS, 0);
  const a = answers("openai", answerBytes, promptChars(body.messages));
  if (!body.stream) return new Response(a.json, { headers: { "content-type": "application/json" } });
  return new Response(paced(a.events, delayMs, req.signal), { headers: SSE_HEADERS });
}

/**
 * Anthropic's side: POST /v1/messages with x-api-key and anthropic-version, answered with a
 * `message` or its event stream. Takes no knobs: chatgate forwards no unknown field to Anthropic
 * (which refuses them), so translated scenarios always get the default answer, unpaced.
 */
async function messages(req: Request): Promise<Response> {
  if (req.headers.get("x-api-key") !== UPSTREAM_KEY) return anthropicError(401, "authentication_error", "invalid x-api-key");
  if (!req.headers.get("anthropic-version")) return anthropicError(400, "invalid_request_error", "anthropic-version: header is required");
  let body: AnthropicRequest;
  try {
    body = (await req.json()) as AnthropicRequest;
  } catch {
    return anthropicError(400, "invalid_request_error", "invalid json");
  }
  if (body.model !== ANTHROPIC_MODEL || !Array.isArray(body.messages) || typeof body.max_tokens !== "number") {
    return anthropicError(400, "invalid_request_error", "unexpected request");
  }
  const a = answers("anthropic", DEFAULT_ANSWER_BYTES, anthropicPromptChars(body));
  if (!body.stream) return new Response(a.json, { headers: { "content-type": "application/json" } });
  return new Response(paced(a.events, 0, req.signal), { headers: SSE_HEADERS });
}

const MODELS = JSON.stringify({
  object: "list",
  data: [{ id: MODEL, object: "model", created: 1700000000, owned_by: "bench" }],
});

if (import.meta.main) {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: Number(process.env.PORT ?? 0),
    // Paced streams of 500 clients stay open for seconds; Bun's default 10 s idle limit is close.
    idleTimeout: 120,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/health") return Response.json({ status: "ok" });
      if (req.method === "POST" && path === "/v1/messages") return messages(req);
      const denied = unauthorized(req);
      if (denied) return denied;
      if (req.method === "POST" && path === "/v1/chat/completions") return chat(req);
      if (req.method === "GET" && path === "/v1/models") {
        return new Response(MODELS, { headers: { "content-type": "application/json" } });
      }
      return Response.json({ error: { message: "not found", type: "invalid_request_error" } }, { status: 404 });
    },
  });
  console.log(JSON.stringify({ port: server.port }));
  // Orphaned by a killed parent, exit instead of lingering (parent pid becomes 1 or a subreaper).
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 1000).unref();
}
