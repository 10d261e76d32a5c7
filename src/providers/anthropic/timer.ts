import type { GatewayError } from "../../errors.ts";
import type { Stoppable } from "../provider.ts";
import { timerDelay } from "../../timer-delay.ts";
/** How long an Anthropic call may take, in its three phases. */
export interface Timeouts {
  /** Until the response headers and the stream's first whole event. */
  firstByteMs: number;
  /** Between whole events once the stream has started. */
  idleMs: number;
  /** The whole call, however lively: also the only bound on a non-streamed answer. */
  totalMs: number;
}

/**
 * The abort signal of one upstream call, with one timer for all three limits: armed for the first
 * byte, re-armed once for the idle wait at the first event, then restarted per event with
 * `Timer.refresh()` (no new timer per event) until the idle wait would run past the total, when
 * it is armed a last time for what is left. Like providers/deadline.ts, one controller, one
 * listener and one timer per call; `clear()` must run when the call ends.
 */
export class CallTimer implements Stoppable {
  /** Which limit fired, in words for the 504; undefined while none has. */
  expired: string | undefined;
  /** Set when the gateway stopped the call (a shutdown): the error it ends with. */
  stoppedWith: GatewayError | undefined;
  private readonly controller = new AbortController();
  private readonly onClientAbort: () => void;
  private readonly endAt: number;
  /** What the armed timer bounds: the first byte, the idle wait, or (last) what is left of the total. */
  private phase: "first" | "idle" | "last";
  private timer: Timer;
  /** Handed to a client that has not taken it yet (`suspend`): the idle wait is not timed. */
  private suspended = false;

  constructor(private readonly client: AbortSignal, private readonly limits: Timeouts) {
    const controller = this.controller;
    this.onClientAbort = () => controller.abort(client.reason);
    if (client.aborted) controller.abort(client.reason);
    else client.addEventListener("abort", this.onClientAbort, { once: true });
    this.endAt = Date.now() + limits.totalMs;
    this.phase = limits.firstByteMs < limits.totalMs ? "first" : "last";
    this.timer = this.arm(Math.min(limits.firstByteMs, limits.totalMs));
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  stop(reason: GatewayError): void {
    this.stoppedWith = reason;
    this.controller.abort(reason);
  }

  /** A whole event arrived. */
  touch(): void {
    if (this.phase === "last") return;
    const left = this.endAt - Date.now();
    if (this.phase === "idle" && left > this.limits.idleMs) {
      this.timer.refresh();
      return;
    }
    clearTimeout(this.timer);
    this.phase = left > this.limits.idleMs ? "idle" : "last";
    this.timer = this.arm(Math.min(this.limits.idleMs, left));
  }

  /**
   * The stream's reader waits on its client (at a `yield`): a slow client holds back the upstream
   * read, which is not the upstream idling (as providers/deadline.ts). Only the idle wait stops;
   * `resume()` restarts it, and checks the total then.
   */
  suspend(): void {
    this.suspended = true;
  }

  /** The client took what it was given: the wait for the next event starts now. */
  resume(): void {
    this.suspended = false;
    this.touch();
  }

  clear(): void {
    clearTimeout(this.timer);
    this.client.removeEventListener("abort", this.onClientAbort);
  }

  private arm(ms: number): Timer {
    return setTimeout(() => {
      if (this.suspended && this.phase === "idle") return;
      const { firstByteMs, idleMs, totalMs } = this.limits;
      this.expired = this.phase === "first" ? `no first event within ${firstByteMs} ms`
        : this.phase === "idle" ? `no event for ${idleMs} ms`
        : `no complete answer within ${totalMs} ms`;
      this.controller.abort(new DOMException("The upstream did not answer in time.", "TimeoutError"));
    }, timerDelay(Math.max(0, ms)));
  }
}
