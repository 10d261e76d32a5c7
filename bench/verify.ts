// Checks that what came back through a target is what the mock sent. Each returns null when the
// answer is right, or a short reason. "light" checks order and completeness with string search
// (cheap enough for throughput runs, where the checker shares a core); "full" parses every event.
import { CONTENT_CHUNKS, STREAM_EVENTS, pieceMarker } from "./wire.ts";

export type VerifyLevel = "light" | "full";

export interface Expectation {
  pieces: string[];
  promptChars: number;
}

interface Delta {
  role?: string;
  content?: string | null;
}
interface ChunkChoice {
  delta?: Delta;
  finish_reason?: string | null;
}
interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
}
interface Chunk {
  object?: string;
  choices?: ChunkChoice[];
  usage?: Usage | null;
}
interface Completion {
  object?: string;
  choices?: { message?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: Usage | null;
}

const DONE = "data: [DONE]\n\n";

export function verifyCompletion(text: string, exp: Expectation): string | null {
  let c: Completion;
  try {
    c = JSON.parse(text) as Completion;
  } catch {
    return `non-stream: not JSON: ${text.slice(0, 80)}`;
  }
  if (c.object !== "chat.completion") return `non-stream: object ${String(c.object)}`;
  const choice = c.choices?.[0];
  if (choice?.message?.content !== exp.pieces.join("")) return "non-stream: content differs";
  if (choice.finish_reason !== "stop") return `non-stream: finish_reason ${String(choice.finish_reason)}`;
  if (c.usage?.prompt_tokens !== exp.promptChars) return `non-stream: prompt arrived as ${c.usage?.prompt_tokens} chars`;
  return null;
}

function countOf(text: string, needle: string, limit: number): number {
  let n = 0;
  for (let at = text.indexOf(needle); at !== -1 && n <= limit; at = text.indexOf(needle, at + needle.length)) n++;
  return n;
}

export function verifyStreamLight(text: string, exp: Expectation): string | null {
  if (!text.endsWith(DONE)) return `stream: does not end with [DONE]: …${JSON.stringify(text.slice(-60))}`;
  const events = countOf(text, "data: ", STREAM_EVENTS + 5);
  if (events !== STREAM_EVENTS + 1) return `stream: ${events} events, expected ${STREAM_EVENTS + 1}`;
  let pos = 0;
  for (let i = 0; i < CONTENT_CHUNKS; i++) {
    const at = text.indexOf(pieceMarker(i), pos);
    if (at === -1) return `stream: content piece ${i} missing or out of order`;
    pos = at + 1;
  }
  if (!text.includes(`"prompt_tokens":${exp.promptChars}`)) return "stream: usage chunk missing or prompt altered";
  return null;
}

export function verifyStreamFull(text: string, exp: Expectation): string | null {
  if (!text.endsWith(DONE)) return `stream: does not end with [DONE]: …${JSON.stringify(text.slice(-60))}`;
  const blocks = text.split("\n\n");
  blocks.pop(); // the empty tail after the final separator
  const data: string[] = [];
  for (const block of blocks.slice(0, STREAM_EVENTS + 50)) {
    const lines = block.split("\n").filter((l) => !l.startsWith(":")); // SSE comments are allowed
    if (lines.length === 0) continue;
    if (lines.length !== 1 || !lines[0]?.startsWith("data: ")) return `stream: unexpected event ${JSON.stringify(block.slice(0, 60))}`;
    data.push(lines[0].slice(6));
  }
  if (data.length !== STREAM_EVENTS + 1) return `stream: ${data.length} events, expected ${STREAM_EVENTS + 1}`;
  const chunks: Chunk[] = [];
  for (const d of data.slice(0, STREAM_EVENTS)) {
    try {
      chunks.push(JSON.parse(d) as Chunk);
    } catch {
      return `stream: event is not JSON: ${d.slice(0, 60)}`;
    }
  }
  if (chunks.some((c) => c.object !== "chat.completion.chunk")) return "stream: wrong chunk object";
  if (chunks[0]?.choices?.[0]?.delta?.role !== "assistant") return "stream: first event is not the role chunk";
  for (let i = 0; i < CONTENT_CHUNKS; i++) {
    if (chunks[i + 1]?.choices?.[0]?.delta?.content !== exp.pieces[i]) return `stream: content piece ${i} wrong or out of order`;
  }
  if (chunks[CONTENT_CHUNKS + 1]?.choices?.[0]?.finish_reason !== "stop") return "stream: finish chunk missing";
  const last = chunks[CONTENT_CHUNKS + 2];
  if (last?.choices?.length !== 0 || last.usage?.prompt_tokens !== exp.promptChars || last.usage.completion_tokens !== CONTENT_CHUNKS) {
    return "stream: usage chunk missing or wrong";
  }
  return null;
}
