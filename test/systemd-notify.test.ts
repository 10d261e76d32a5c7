// The systemd notify protocol as systemd sees it: a real unix datagram socket bound where
// $NOTIFY_SOCKET points, and the compiled binary talking to it.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnBinary } from "./support/binary.ts";
import { notifyListener, type Datagram } from "./support/notify-listener.ts";
import { spawnGateway } from "./support/process.ts";

const ROOT = join(import.meta.dir, "..");

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const socketPath = () => {
  const dir = mkdtempSync(join(tmpdir(), "chatgate-notify-"));
  dirs.push(dir);
  return join(dir, "notify.sock");
};

/** Watchdog every 100 ms: half of WATCHDOG_USEC. */
const WATCHDOG = { WATCHDOG_USEC: "200000" };

describe("under systemd (NOTIFY_SOCKET set), the compiled binary", () => {
  test("sends READY=1 with a STATUS= line once it listens, WATCHDOG=1 every half WATCHDOG_USEC, and STOPPING=1 on SIGTERM", async () => {
    await using listener = await notifyListener(socketPath());
    await using gw = await spawnBinary({ CHATGATE_MOCK: "1", NOTIFY_SOCKET: listener.address, ...WATCHDOG });

    const ready = await listener.next(/^READY=1$/m);
    expect(listener.received[0]).toBe(ready);
    expect(ready.msg).toMatch(/^STATUS=0 requests served; in flight: 0 JSON, 0 streams; all targets healthy$/m);
    // Ready means listening: the port answers as soon as the datagram is in.
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);

    const pings: Datagram[] = [];
    for (let from = 0; pings.length < 4; ) {
      const ping = await listener.next(/^WATCHDOG=1$/, from, 1_000);
      pings.push(ping);
      from = listener.received.indexOf(ping) + 1;
    }
    const span = pings.at(-1)!.t - pings[0]!.t;
    expect(span).toBeLessThan(0.6);
    for (let i = 1; i < pings.length; i++) expect(pings[i]!.t - pings[i - 1]!.t).toBeLessThan(0.25);

    gw.proc.kill("SIGTERM");
    const stopping = await listener.next(/^STOPPING=1$/m);
    expect(stopping.msg).toMatch(/^STATUS=Stopping: /m);
    expect(await gw.exited).toBe(0);
    expect(gw.output()).not.toContain("cannot notify systemd");
  });

  test("speaks to an abstract-namespace socket (@name) too", async () => {
    await using listener = await notifyListener(`@chatgate-test-${process.pid}-${crypto.randomUUID()}`);
    await using gw = await spawnBinary({ CHATGATE_MOCK: "1", NOTIFY_SOCKET: listener.address, ...WATCHDOG });
    expect((await listener.next(/^READY=1$/m)).msg).toContain("STATUS=");
    await listener.next(/^WATCHDOG=1$/);
    gw.proc.kill("SIGTERM");
    await listener.next(/^STOPPING=1$/m);
    expect(await gw.exited).toBe(0);
  });

  test("counts requests served in its STATUS= line, and sends no WATCHDOG=1 when WATCHDOG_USEC is unset", async () => {
    await using listener = await notifyListener(socketPath());
    await using gw = await spawnBinary({ CHATGATE_MOCK: "1", NOTIFY_SOCKET: listener.address });
    await listener.next(/^READY=1$/m);
    const answer = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "mock", messages: [{ role: "user", content: "hi" }] }) });
    expect(answer.status).toBe(200);
    gw.proc.kill("SIGTERM");
    expect((await listener.next(/^STOPPING=1$/m)).msg).toMatch(/^STATUS=Stopping: 1 request served;/m);
    expect(listener.received.some((d) => d.msg.includes("WATCHDOG=1"))).toBe(false);
  });

  test("keeps serving, and warns once on stderr, when nothing listens on NOTIFY_SOCKET", async () => {
    await using gw = await spawnBinary({ CHATGATE_MOCK: "1", NOTIFY_SOCKET: socketPath(), ...WATCHDOG });
    await gw.waitForOutput(/cannot notify systemd \(sendto .*notify\.sock: No such file or directory/);
    await Bun.sleep(300);
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
    expect(gw.output().match(/cannot notify systemd/g)).toHaveLength(1);
  });
});

describe("without NOTIFY_SOCKET", () => {
  test("the compiled binary sends nothing, even with WATCHDOG_USEC set, and prints its usual banner", async () => {
    await using listener = await notifyListener(socketPath());
    await using gw = await spawnBinary({ CHATGATE_MOCK: "1", ...WATCHDOG });
    await Bun.sleep(400);
    expect(listener.received).toEqual([]);
    expect(gw.logs()[0]!.msg).toMatch(/^chatgate \S+ listening on http:\/\/127\.0\.0\.1:\d+ \(built-in mock model\)$/);
    expect(gw.output()).not.toContain("systemd");
  });

  test("the gateway never loads the systemd modules (a preload records every module under src/systemd/)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chatgate-preload-"));
    dirs.push(dir);
    const preload = join(dir, "record-loads.ts");
    await Bun.write(
      preload,
      `Bun.plugin({ setup(build) { build.onLoad({ filter: /[\\/]src[\\/]systemd[\\/]/ }, async (args) => {
        console.error("LOADED " + args.path);
        return { contents: await Bun.file(args.path).text(), loader: "ts" };
      }); } });\n`,
    );
    const run = async (env: Record<string, string>) => {
      // BUN_CONFIG_MAX_HTTP_REQUESTS set: no start-up re-exec, so the preload stays in this process.
      await using gw = await spawnGateway([process.execPath, "--preload", preload, "src/main.ts"], { CHATGATE_MOCK: "1", BUN_CONFIG_MAX_HTTP_REQUESTS: "256", ...env }, ROOT);
      await Bun.sleep(200);
      return gw.output();
    };
    expect(await run({})).not.toContain("LOADED");
    // The control: the same preload does see the modules when systemd asks for them.
    await using listener = await notifyListener(socketPath());
    expect(await run({ NOTIFY_SOCKET: listener.address })).toMatch(/LOADED .*service-notifier\.ts/);
  });
});
