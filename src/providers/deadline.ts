import type { GatewayError } from "../errors.ts";
import type { Stoppable } from "./provider.ts";
import type { IdleWatch } from "./sse-passthrough.ts";
import { timerDelay } from "../timer-delay.ts";

/**
 * The abort signal of one upstream call: fired by the client's request signal (a disconnect) or by
 * our own timer, which `touch()` restarts (the idle wait of a stream) via `Timer.refresh()` rather
 * than a new timer per chunk. One controller, one listener and one timer cost ~2.5 µs a call,
 * where `AbortSignal.any([signal, AbortSignal.timeout(ms)])` measured ~11 µs on this stack.
 * `clear()` must run when the call ends, so the listener does not outlive it.
 *
 * A stream waits `ms` for its first event, then `thenMs` between events: the first `touch()`
 * swaps the timer once; later ones only refresh it.
 */
export class Deadline implements IdleWatch, Stoppable {
  timedOut = false;
  /** Set when the gateway stopped the call (a shutdown): the error it ends with. */
  stoppedWith: GatewayError | undefined;
  /** Whether `touch()` was called: the stream's first event arrived. */
  touched = false;
  private readonly controller = new AbortController();
  private timer: Timer;
  private readonly onClientAbort: () => void;
  /** The stream is handed to a client that has not taken it yet (`suspend`): no upstream wait to time. */
  private suspended = false;
  private readonly fire = () => {
    if (this.suspended) return;
    this.timedOut = true;
    this.controller.abort(new DOMException("The upstream did not answer in time.", "TimeoutError"));
  };

  constructor(
    private readonly client: AbortSignal,
    private readonly ms: number,
    private readonly thenMs = ms,
  ) {
    const controller = this.controller;
    this.onClientAbort = () => controller.abort(client.reason);
    if (client.aborted) controller.abort(client.reason);
    else client.addEventListener("abort", this.onClientAbort, { once: true });
    this.timer = setTimeout(this.fire, timerDelay(ms));
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  stop(reason: GatewayError): void {
    this.stoppedWith = reason;
    this.controller.abort(reason);
  }

  /**
   * Stops timing while the stream's reader waits on its client (suspended at a `yield`): a slow
   * client holds back the upstream read, which is not the upstream idling. The client's own stall
   * allowance (src/http/sse.ts) bounds that wait; `resume()` restarts this one. A boolean rather
   * than clearing the timer: this runs once per piece handed over.
   */
  suspend(): void {
    this.suspended = true;
  }

  /** The client took what it was given: the wait for the upstream's next event starts now. */
  resume(): void {
    this.suspended = false;
    this.timer.refresh();
  }

  touch(): void {
    if (!this.touched) {
      this.touched = true;
      if (this.thenMs !== this.ms) {
        clearTimeout(this.timer);
        this.timer = setTimeout(this.fire, timerDelay(this.thenMs));
        return;
      }
    }
    this.timer.refresh();
  }

  clear(): void {
    clearTimeout(this.timer);
    this.client.removeEventListener("abort", this.onClientAbort);
  }
}
