import type { Server } from "bun";

/**
 * Bun's idle timeout closes a connection that neither reads nor writes for a while: right for an
 * idle keep-alive connection or a stalled upload, wrong for a request that waits on its provider
 * (a long JSON answer, a stream before its first event or between events), which chatgate's own
 * timeouts bound. `hold` lifts it for a request while it is being answered; `release` restores
 * it, so the keep-alive connection after the answer is closed when idle again.
 */
export class ConnectionTimeouts {
  constructor(
    private readonly server: () => Server<unknown> | null | undefined,
    private readonly idleSeconds: number,
  ) {}

  hold(request: Request): void {
    this.server()?.timeout(request, 0);
  }

  release(request: Request): void {
    this.server()?.timeout(request, this.idleSeconds);
  }

  /** Closes a connection whose client stopped reading soon, rather than after the idle timeout. */
  closeSoon(request: Request): void {
    this.server()?.timeout(request, 1);
  }
}
