// The answer a client was sent, as the text a tokenizer counts: content, refusal, reasoning and
// tool calls (name and arguments), from streamed chunks or a JSON completion.
import { forEachChunk } from "../providers/chunk-events.ts";
import type { ChatCompletion } from "openai/resources/chat/completions";
import type { CountText } from "./tokenizer.ts";

/**
 * Bytes of chunks a stream keeps, by reference, for an estimate: about 550 of OpenAI's chunks
 * (~230 bytes, one token each), which is the whole of most answers. Keeping costs one array slot
 * a chunk; nothing is parsed unless the answer ends without usage.
 */
export const KEEP_BYTES = 128 * 1024;

type Loose = Record<string, unknown>;

/**
 * What a stream delivered, kept until it ends so that an answer the upstream reported no usage
 * for (cut, aborted, a provider without usage) can be counted. Providers add every piece they
 * hand out. Past KEEP_BYTES only the bytes are counted: reading the rest as it passes measured
 * ~2 µs a chunk (as much again as passing it on), and keeping it all would hold a long answer's
 * whole stream in memory, so the tail is estimated at the tokens per byte of the kept head (for
 * chunks of one shape, as a stream's are, within a few %).
 */
export class Delivered {
  private chunks: Uint8Array[] = [];
  private kept = 0;
  private past = 0;

  add(chunk: Uint8Array): void {
    if (this.kept < KEEP_BYTES) {
      this.chunks.push(chunk);
      this.kept += chunk.length;
    } else {
      this.past += chunk.length;
    }
  }

  /** The text of the kept chunks: the whole answer unless it went past KEEP_BYTES. */
  text(): string {
    return streamedText(this.chunks);
  }

  /** The answer's tokens: the kept chunks' text counted, and what went past them by its bytes. */
  tokens(count: CountText): number {
    const head = count(this.text());
    return this.past === 0 || this.kept === 0 ? head : Math.round((head * (this.kept + this.past)) / this.kept);
  }
}

/**
 * The answer's text in whole SSE events of `chat.completion.chunk`s (every choice's, in order), or
 * of Anthropic's events, as a native /v1/messages stream passes them on.
 */
export function streamedText(chunks: readonly Uint8Array[]): string {
  let out = "";
  forEachChunk(
    chunks,
    (chunk) => {
      for (const choice of chunk.choices) out += messageText(choice?.delta);
    },
    (event) => (out += anthropicText(event)),
  );
  return out;
}

/** What an Anthropic event adds to the answer: text, thinking and tool input deltas, and a tool's name. */
function anthropicText(event: Loose): string {
  if (event.type === "content_block_delta") {
    const delta = loose(event.delta);
    return str(delta.text) + str(delta.thinking) + str(delta.partial_json);
  }
  return event.type === "content_block_start" ? str(loose(event.content_block).name) : "";
}

const loose = (value: unknown): Loose => (value !== null && typeof value === "object" ? (value as Loose) : {});

/** The text of a JSON answer's choices. */
export function completionText(completion: ChatCompletion): string {
  let out = "";
  for (const choice of completion.choices ?? []) out += messageText(choice?.message);
  return out;
}

/** What a message or delta adds to the answer: every field the model's tokens went into. */
function messageText(message: unknown): string {
  if (message === null || typeof message !== "object") return "";
  const m = message as Loose;
  // Some providers send the thinking under both names: counted once.
  let out = str(m.content) + str(m.refusal) + (str(m.reasoning_content) || str(m.reasoning));
  const calls = m.tool_calls;
  if (Array.isArray(calls)) for (const call of calls as Loose[]) out += functionText(call?.function);
  out += functionText(m.function_call);
  return out;
}

function functionText(fn: unknown): string {
  if (fn === null || typeof fn !== "object") return "";
  return str((fn as Loose).name) + str((fn as Loose).arguments);
}

const str = (value: unknown): string => (typeof value === "string" ? value : "");
