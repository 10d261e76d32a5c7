// systemd's notify protocol (sd_notify(3)), spoken by the main process itself: the unit says
// NotifyAccess=main, and chatgate's start-up re-exec keeps the PID. serve.ts imports this module
// only when $NOTIFY_SOCKET is set, so a gateway run any other way never loads it.
import { monotonicUsec } from "./monotonic.ts";
import { openNotifySocket, type NotifySocket, type SendFailure } from "./notify-socket.ts";
import { statusLine, type StatusInputs } from "./status-line.ts";
import { timerDelay } from "../timer-delay.ts";

/** How often `systemctl status` gets a fresh summary line. */
export const STATUS_EVERY_MS = 10_000;

/** What the gateway tells the service manager after start-up. */
export interface ServiceNotifier {
  /** A SIGTERM/SIGINT drain has begun: `STOPPING=1`, so systemd shows "deactivating" at once. */
  stopping(): void;
  /** A SIGHUP reload begins: `RELOADING=1` with `MONOTONIC_USEC=`, before the config is read. */
  reloading(): void;
  /** The reload is over, applied or rejected: `READY=1` and a STATUS= saying which, until the next one. */
  reloaded(ok: boolean): void;
}

/**
 * The watchdog interval: half of `WATCHDOG_USEC`, as sd_watchdog_enabled(3) advises, or undefined
 * when systemd asked for no watchdog or asked another process (`WATCHDOG_PID`) for it.
 */
export function watchdogIntervalMs(env: Record<string, string | undefined>, pid: number): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isSafeInteger(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return timerDelay(Math.max(1, Math.floor(usec / 2_000)));
}

/**
 * Sends `READY=1` with a status line now (the caller calls this once listening), refreshes the
 * status every STATUS_EVERY_MS, and pings `WATCHDOG=1` every half watchdog period from a timer on
 * the event loop itself, so a blocked loop stops the pings and systemd restarts the process. A
 * failed send never stops the gateway: the first failure is reported; a ping or a status line the
 * manager's full queue refused is followed by the next, a state change is sent again (StateQueue).
 */
export function startServiceNotifier(
  env: Record<string, string | undefined>,
  status: () => Omit<StatusInputs, "draining" | "reloadRejected">,
  warn: (line: string) => void,
): ServiceNotifier {
  let warned = false;
  const complain = (why: string) => {
    if (warned) return;
    warned = true;
    warn(`chatgate: cannot notify systemd (${why}); the gateway runs on, further failures are not reported`);
  };
  let socket: NotifySocket | undefined;
  try {
    socket = openNotifySocket(env.NOTIFY_SOCKET ?? "");
  } catch (err) {
    complain(err instanceof Error ? err.message : String(err));
  }
  // A ping or a status line lost to a full queue is followed by the next; a state change is not.
  const send = (message: string) => {
    const failure = socket?.send(message);
    if (failure !== undefined && !failure.full) complain(failure.text);
  };
  const states = new StateQueue((message) => socket?.send(message), complain);
  let draining = false;
  let reloadRejected = false;
  const line = () => `STATUS=${statusLine({ ...status(), draining, reloadRejected })}`;

  states.send(`READY=1\n${line()}`);
  setInterval(() => send(line()), STATUS_EVERY_MS).unref();
  const watchdogMs = watchdogIntervalMs(env, process.pid);
  if (watchdogMs !== undefined) setInterval(() => send("WATCHDOG=1"), watchdogMs).unref();

  return {
    stopping() {
      draining = true;
      states.send(`STOPPING=1\n${line()}`);
    },
    reloading() {
      states.send(`RELOADING=1\nMONOTONIC_USEC=${monotonicUsec()}`);
    },
    reloaded(ok) {
      reloadRejected = !ok;
      states.send(`READY=1\n${line()}`);
    },
  };
}

/** How often state changes held back by a full queue are tried again. */
const STATE_RETRY_MS = 50;
/** State changes held at most; past it the oldest go (the latest state is what the manager needs). */
const MAX_HELD_STATES = 64;

/**
 * State changes (READY, RELOADING, STOPPING) go out in order, each until the manager's queue takes
 * it: a lost READY=1 after a RELOADING=1 left the unit "reloading" until the next reload.
 */
class StateQueue {
  private readonly held: string[] = [];
  private timer: Timer | undefined;

  constructor(
    private readonly sendNow: (message: string) => SendFailure | undefined,
    private readonly complain: (why: string) => void,
  ) {}

  send(message: string): void {
    this.held.push(message);
    if (this.held.length > MAX_HELD_STATES) this.held.shift();
    if (this.timer === undefined) this.flush();
  }

  private readonly flush = (): void => {
    this.timer = undefined;
    while (this.held.length > 0) {
      const failure = this.sendNow(this.held[0]!);
      if (failure?.full) {
        this.timer = setTimeout(this.flush, STATE_RETRY_MS);
        this.timer.unref();
        return;
      }
      if (failure !== undefined) this.complain(failure.text);
      this.held.shift();
    }
  };
}
