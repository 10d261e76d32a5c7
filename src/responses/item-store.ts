import type { ResponseOutputItem } from "openai/resources/responses/responses";

/** How many output items, and how many bytes of them, are kept, and for how long. */
export interface ItemLimits {
  entries: number;
  bytes: number;
  ttlMs: number;
}

export const ITEM_LIMITS: ItemLimits = { entries: 10_000, bytes: 16 * 1024 * 1024, ttlMs: 60 * 60 * 1000 };

/**
 * The output items (messages, function calls, reasoning) of answers given with `store` on, by id, so a later
 * request may name them instead of sending them again (`item_reference`): what the Vercel AI SDK's
 * OpenAI model does by default with an earlier step's text. In this instance's memory only,
 * bounded by count and bytes (the oldest go first), each kept for `ttlMs`; a request naming one
 * that is gone is a 400 saying so. Nothing else of a response is kept (no previous_response_id).
 */
export class ResponseItems {
  private readonly items = new Map<string, { item: ResponseOutputItem; bytes: number; until: number }>();
  private bytes = 0;

  constructor(
    private readonly now: () => number,
    private readonly limits: ItemLimits = ITEM_LIMITS,
  ) {}

  keep(output: readonly ResponseOutputItem[]): void {
    const until = this.now() + this.limits.ttlMs;
    for (const item of output) {
      if ((item.type !== "message" && item.type !== "function_call" && item.type !== "reasoning") || typeof item.id !== "string") continue;
      const bytes = JSON.stringify(item).length;
      if (bytes > this.limits.bytes) continue;
      this.drop(item.id);
      this.items.set(item.id, { item, bytes, until });
      this.bytes += bytes;
    }
    // A Map iterates in insertion order: the first entries are the oldest.
    for (const [id] of this.items) {
      if (this.items.size <= this.limits.entries && this.bytes <= this.limits.bytes) break;
      this.drop(id);
    }
  }

  find(id: string): ResponseOutputItem | undefined {
    const entry = this.items.get(id);
    if (entry === undefined) return undefined;
    if (entry.until > this.now()) return entry.item;
    this.drop(id);
    return undefined;
  }

  private drop(id: string): void {
    const entry = this.items.get(id);
    if (entry === undefined) return;
    this.items.delete(id);
    this.bytes -= entry.bytes;
  }
}
