// The systemd modules' pure parts: the socket address, the watchdog interval, the status line.
import { describe, expect, test } from "bun:test";
import type { TargetState } from "../src/gateway/health.ts";
import { watchdogIntervalMs } from "../src/systemd/service-notifier.ts";
import { sockaddrUn } from "../src/systemd/notify-socket.ts";
import { statusLine } from "../src/systemd/status-line.ts";

describe("sockaddrUn", () => {
  test("a path is AF_UNIX (1, little-endian u16) then the path and its NUL terminator", () => {
    expect([...sockaddrUn("/run/systemd/notify")]).toEqual([1, 0, ...Buffer.from("/run/systemd/notify\0")]);
  });

  test("an @abstract name starts with a NUL, has no terminator, and its length counts exactly its bytes", () => {
    expect([...sockaddrUn("@sd-notify")]).toEqual([1, 0, 0, ...Buffer.from("sd-notify")]);
  });

  test("refuses a relative path and one longer than sun_path, as sd_notify does", () => {
    expect(() => sockaddrUn("run/notify")).toThrow(/absolute path or @abstract/);
    expect(() => sockaddrUn(`/${"x".repeat(107)}`)).toThrow(/longer than 108 bytes/);
    expect(sockaddrUn(`/${"x".repeat(106)}`)).toHaveLength(110);
  });
});

describe("watchdogIntervalMs", () => {
  test("is half of WATCHDOG_USEC, in milliseconds", () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "30000000" }, 42)).toBe(15_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "200000", WATCHDOG_PID: "42" }, 42)).toBe(100);
  });

  test("a period longer than a timer can wait pings as seldom as a timer can, never every millisecond", () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "10000000000000" }, 42)).toBe(2 ** 31 - 1);
  });

  test("is off when unset, malformed, or meant for another process", () => {
    expect(watchdogIntervalMs({}, 42)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "0" }, 42)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "soon" }, 42)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "200000", WATCHDOG_PID: "41" }, 42)).toBeUndefined();
  });
});

describe("statusLine", () => {
  const target = (provider: string, state: TargetState["state"]): TargetState => ({ provider, model: "m", state, failures_in_a_row: 3, cooling_until: null, last_error: "upstream_5xx" });

  test("counts the requests that ended and those in flight, and says when every target is healthy", () => {
    expect(statusLine({ total: 4, inFlightJson: 2, inFlightStreams: 1, targets: [target("a", "healthy")], draining: false })).toBe(
      "1 request served; in flight: 2 JSON, 1 stream; all targets healthy",
    );
    // Regression: a request still in flight was counted as served too.
    expect(statusLine({ total: 1, inFlightJson: 0, inFlightStreams: 1, targets: [], draining: true })).toStartWith("Stopping: 0 requests served; in flight: 0 JSON, 1 stream");
  });

  test("names the targets cooling down (three, then a count), never their errors, and marks a drain", () => {
    const targets = ["a", "b", "c", "d", "e"].map((p) => target(p, "cooling_down")).concat(target("f", "probe_due"));
    const line = statusLine({ total: 9, inFlightJson: 0, inFlightStreams: 0, targets, draining: true });
    expect(line).toBe("Stopping: 9 requests served; in flight: 0 JSON, 0 streams; cooling down: a/m, b/m, c/m and 2 more");
    expect(line).not.toContain("upstream_5xx");
  });
});
