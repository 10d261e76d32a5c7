import type { IdleWatch } from "./sse-passthrough.ts";

/**
 * Aborts `controller` when nothing happens for `ms`. `touch()` restarts the wait with
 * `Timer.refresh()`, which re-arms the same timer instead of allocating one per chunk.
 */
export class IdleTimer implements IdleWatch {
  timedOut = false;
  private readonly timer: Timer;

  constructor(ms: number, controller: AbortController) {
    this.timer = setTimeout(() => {
      this.timedOut = true;
      controller.abort(new DOMException("idle timeout", "TimeoutError"));
    }, ms);
  }

  touch(): void {
    this.timer.refresh();
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}
