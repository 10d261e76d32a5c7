// The content blocks of a Messages stream as EventTranslator queues them, and the events that
// start and feed one.
import type { ContentBlock, StreamEvent } from "../providers/anthropic/wire.ts";
import { toolUseId } from "./to-message.ts";

export type Kind = "text" | "thinking" | "tool_use";

/**
 * A content block of the answer: held (its deltas kept) while a block before it is open, then
 * started and streamed live, until it is closed and dropped from the queue.
 */
export interface Block {
  kind: Kind;
  /** Its deltas that came while it was held, in order. */
  held: string[];
  /** A tool call's id and name (either may come after its first chunk) and its arguments so far. */
  id?: string;
  name?: string;
  args: string;
  /** Its content_block_start went out: from then on its deltas stream live. */
  open?: boolean;
}

export const event = (e: StreamEvent): string => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;

const JSON_SPACE = " \t\n\r";

/** Whether the open block may be closed for the next: not a tool call whose arguments may go on. */
export function closable(block: Block): boolean {
  return block.kind !== "tool_use" || wholeObject(block.args);
}

/** Whether a tool call's arguments are a whole JSON object (or array), which nothing but whitespace can follow. */
function wholeObject(args: string): boolean {
  // The cheap test first: while calls interleave this runs at every fragment of the open one.
  let end = args.length - 1;
  while (end >= 0 && JSON_SPACE.includes(args[end]!)) end--;
  if (args[end] !== "}" && args[end] !== "]") return false;
  try {
    const value: unknown = JSON.parse(args);
    return value !== null && typeof value === "object";
  } catch {
    return false;
  }
}

/** The block as content_block_start carries it: its content comes in deltas. */
export function emptyBlock(block: Block): ContentBlock {
  switch (block.kind) {
    case "text":
      return { type: "text", text: "" };
    case "thinking":
      return { type: "thinking", thinking: "", signature: "" };
    case "tool_use":
      return { type: "tool_use", id: toolUseId(block.id), name: block.name ?? "", input: {} };
  }
}

export function deltaEvent(index: number, kind: Kind, piece: string): string {
  switch (kind) {
    case "text":
      return event({ type: "content_block_delta", index, delta: { type: "text_delta", text: piece } });
    case "thinking":
      return event({ type: "content_block_delta", index, delta: { type: "thinking_delta", thinking: piece } });
    case "tool_use":
      return event({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: piece } });
  }
}
