// Checks of Anthropic-shaped answers (direct and passthrough in the translated scenarios), with
// the same contract as verify.ts: null when right, else a short reason; "light" by string search,
// "full" parsing every event, its name and its payload.
import type { Expectation } from "./verify.ts";
import { ANTHROPIC_EVENTS, MESSAGE_STOP } from "./wire-anthropic.ts";
import { CONTENT_CHUNKS, pieceMarker } from "./wire.ts";

interface Usage {
  input_tokens?: number;
  output_tokens?: number;
}
interface Message {
  type?: string;
  content?: { type?: string; text?: string }[];
  stop_reason?: string | null;
  usage?: Usage;
}
interface Event {
  type?: string;
  message?: Message;
  index?: number;
  content_block?: { type?: string; text?: string };
  delta?: { type?: string; text?: string; stop_reason?: string | null };
  usage?: Usage;
}

/** The event names of the whole stream, in order. */
const NAMES = [
  "message_start",
  "ping",
  "content_block_start",
  ...Array.from({ length: CONTENT_CHUNKS }, () => "content_block_delta"),
  "content_block_stop",
  "message_delta",
  "message_stop",
];

export function verifyMessage(text: string, exp: Expectation): string | null {
  let m: Message;
  try {
    m = JSON.parse(text) as Message;
  } catch {
    return `message: not JSON: ${text.slice(0, 80)}`;
  }
  if (m.type !== "message") return `message: type ${String(m.type)}`;
  if (m.content?.length !== 1 || m.content[0]?.type !== "text" || m.content[0].text !== exp.pieces.join("")) return "message: content differs";
  if (m.stop_reason !== "end_turn") return `message: stop_reason ${String(m.stop_reason)}`;
  if (m.usage?.input_tokens !== exp.promptChars) return `message: prompt arrived as ${m.usage?.input_tokens} chars`;
  return null;
}

function countOf(text: string, needle: string, limit: number): number {
  let n = 0;
  for (let at = text.indexOf(needle); at !== -1 && n <= limit; at = text.indexOf(needle, at + needle.length)) n++;
  return n;
}

export function verifyEventsLight(text: string, exp: Expectation): string | null {
  if (!text.endsWith(MESSAGE_STOP)) return `events: do not end with message_stop: …${JSON.stringify(text.slice(-60))}`;
  const events = countOf(text, "event: ", ANTHROPIC_EVENTS + 5);
  if (events !== ANTHROPIC_EVENTS) return `events: ${events} events, expected ${ANTHROPIC_EVENTS}`;
  let pos = 0;
  for (let i = 0; i < CONTENT_CHUNKS; i++) {
    const at = text.indexOf(pieceMarker(i), pos);
    if (at === -1) return `events: content piece ${i} missing or out of order`;
    pos = at + 1;
  }
  if (!text.includes(`"input_tokens":${exp.promptChars},`)) return "events: message_start usage missing or prompt altered";
  return null;
}

export function verifyEventsFull(text: string, exp: Expectation): string | null {
  if (!text.endsWith(MESSAGE_STOP)) return `events: do not end with message_stop: …${JSON.stringify(text.slice(-60))}`;
  const blocks = text.split("\n\n");
  blocks.pop(); // the empty tail after the final separator
  if (blocks.length !== ANTHROPIC_EVENTS) return `events: ${blocks.length} events, expected ${ANTHROPIC_EVENTS}`;
  const events: Event[] = [];
  for (const [i, block] of blocks.entries()) {
    const lines = block.split("\n");
    const name = NAMES[i] as string;
    if (lines.length !== 2 || lines[0] !== `event: ${name}` || !lines[1]?.startsWith("data: ")) return `events: event ${i} is not ${name}: ${JSON.stringify(block.slice(0, 60))}`;
    try {
      events.push(JSON.parse(lines[1].slice(6)) as Event);
    } catch {
      return `events: data of event ${i} is not JSON: ${lines[1].slice(0, 60)}`;
    }
    if (events[i]?.type !== name) return `events: event ${i} named ${name} has type ${String(events[i]?.type)}`;
  }
  if (events[0]?.message?.usage?.input_tokens !== exp.promptChars) return "events: message_start usage missing or prompt altered";
  if (events[2]?.content_block?.type !== "text") return "events: content block is not text";
  for (let i = 0; i < CONTENT_CHUNKS; i++) {
    const d = events[i + 3]?.delta;
    if (d?.type !== "text_delta" || d.text !== exp.pieces[i]) return `events: content piece ${i} wrong or out of order`;
  }
  const end = events[CONTENT_CHUNKS + 4];
  if (end?.delta?.stop_reason !== "end_turn" || end.usage?.output_tokens !== CONTENT_CHUNKS) return "events: message_delta wrong";
  return null;
}
