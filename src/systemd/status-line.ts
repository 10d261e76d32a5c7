import type { TargetState } from "../gateway/health.ts";

/** What the one-line summary reads: the counters behind /status and the targets' health. */
export interface StatusInputs {
  total: number;
  inFlightJson: number;
  inFlightStreams: number;
  targets: readonly TargetState[];
  draining: boolean;
  /** The last SIGHUP's config was refused: the one from before is still in force. */
  reloadRejected?: boolean;
}

/** Targets named in full before the rest are only counted: `systemctl status` shows one line. */
const NAMED_TARGETS = 3;

/**
 * The `STATUS=` text `systemctl status chatgate` shows, e.g. "12 requests served; in flight: 0 JSON,
 * 2 streams; cooling down: openai/gpt-4.1". Never a key or an error message (those may quote an
 * upstream): counts and `provider/model` names only. One line, as the protocol requires.
 */
export function statusLine(s: StatusInputs): string {
  const cooling = s.targets.filter((t) => t.state === "cooling_down").map((t) => `${t.provider}/${t.model}`);
  const named = cooling.slice(0, NAMED_TARGETS).join(", ") + (cooling.length > NAMED_TARGETS ? ` and ${cooling.length - NAMED_TARGETS} more` : "");
  // `total` counts every request taken, those still in flight too: served are the ones that ended.
  const served = Math.max(0, s.total - s.inFlightJson - s.inFlightStreams);
  const parts = [
    `${s.draining ? "Stopping: " : ""}${s.reloadRejected ? "Reload rejected (old config in force; see the log): " : ""}${served} request${served === 1 ? "" : "s"} served`,
    `in flight: ${s.inFlightJson} JSON, ${s.inFlightStreams} stream${s.inFlightStreams === 1 ? "" : "s"}`,
    cooling.length > 0 ? `cooling down: ${named}` : "all targets healthy",
  ];
  return parts.join("; ").replace(/[\r\n]+/g, " ");
}
