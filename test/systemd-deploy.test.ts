// deploy/: install.sh into a staging root (DESTDIR, no root needed), and the unit as systemd reads it.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary } from "./support/binary.ts";

const ROOT = join(import.meta.dir, "..");
const UNIT = join(ROOT, "deploy", "chatgate.service");
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "chatgate-deploy-"));
  dirs.push(dir);
  return dir;
};

async function install(env: Record<string, string>, args: string[]) {
  const proc = Bun.spawn(["/bin/sh", join(ROOT, "deploy", "install.sh"), ...args], { env: { PATH: "/usr/bin:/bin", ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

/** A stand-in binary: install.sh copies whatever it is given. */
function fakeBinary(dir: string): string {
  const path = join(dir, "chatgate-built");
  writeFileSync(path, "#!/bin/sh\necho chatgate\n", { mode: 0o755 });
  return path;
}

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe("deploy/install.sh", () => {
  test("puts the binary, unit, env template and configs under DESTDIR and PREFIX, and names the next steps", async () => {
    const dest = tempDir();
    const result = await install({ DESTDIR: dest, PREFIX: "/opt/chatgate" }, [fakeBinary(tempDir())]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);

    expect(mode(join(dest, "opt/chatgate/bin/chatgate"))).toBe("755");
    const unit = readFileSync(join(dest, "etc/systemd/system/chatgate.service"), "utf8");
    // The unit names the installed path without the staging root.
    expect(unit).toContain("\nExecStart=/opt/chatgate/bin/chatgate --config /etc/chatgate/chatgate.yaml\n");
    expect(readFileSync(join(dest, "etc/chatgate/chatgate.yaml"), "utf8")).toBe(readFileSync(join(ROOT, "chatgate.example.yaml"), "utf8"));
    expect(existsSync(join(dest, "etc/chatgate/chatgate.example.yaml"))).toBe(true);
    // The env file holds the keys: root-only.
    expect(mode(join(dest, "etc/chatgate/chatgate.env"))).toBe("600");
    expect(readFileSync(join(dest, "etc/chatgate/chatgate.env"), "utf8")).toBe(readFileSync(join(ROOT, "deploy/chatgate.env"), "utf8"));

    expect(result.stdout).toContain("systemctl daemon-reload");
    expect(result.stdout).toContain("systemctl enable --now chatgate");
    expect(result.stdout).toContain("/etc/chatgate/chatgate.env");
    expect(result.stdout).toContain("journalctl -u chatgate");
  });

  test("under a restrictive umask the directories it makes stay readable to the service's dynamic user, and a path with # or & is written as given", async () => {
    const dest = tempDir();
    const proc = Bun.spawn(["/bin/sh", "-c", `umask 077; exec /bin/sh "$0" "$@"`, join(ROOT, "deploy", "install.sh"), fakeBinary(tempDir())], {
      env: { PATH: "/usr/bin:/bin", DESTDIR: dest, PREFIX: "/opt/a#b&c" }, stdout: "pipe", stderr: "pipe",
    });
    expect(await proc.exited).toBe(0);
    expect([mode(join(dest, "etc/chatgate")), mode(join(dest, "etc/chatgate/chatgate.yaml")), mode(join(dest, "etc/chatgate/chatgate.env"))]).toEqual(["755", "644", "600"]);
    expect(readFileSync(join(dest, "etc/systemd/system/chatgate.service"), "utf8")).toContain("\nExecStart=/opt/a#b&c/bin/chatgate --config /etc/chatgate/chatgate.yaml\n");
  });

  test("never overwrites an existing chatgate.env or chatgate.yaml, and says it kept them", async () => {
    const dest = tempDir();
    const binary = fakeBinary(tempDir());
    expect((await install({ DESTDIR: dest }, [binary])).code).toBe(0);
    writeFileSync(join(dest, "etc/chatgate/chatgate.env"), "OPENAI_API_KEY=sk-mine\n");
    writeFileSync(join(dest, "etc/chatgate/chatgate.yaml"), "providers: []\n");

    const again = await install({ DESTDIR: dest }, [binary]);
    expect(again.code).toBe(0);
    expect(readFileSync(join(dest, "etc/chatgate/chatgate.env"), "utf8")).toBe("OPENAI_API_KEY=sk-mine\n");
    expect(readFileSync(join(dest, "etc/chatgate/chatgate.yaml"), "utf8")).toBe("providers: []\n");
    expect(again.stdout).toMatch(/kept .*chatgate\.env/);
    expect(again.stdout).toMatch(/kept .*chatgate\.yaml/);
    // The default PREFIX, and the unit as shipped.
    expect(readFileSync(join(dest, "etc/systemd/system/chatgate.service"), "utf8")).toBe(readFileSync(UNIT, "utf8"));
    expect(existsSync(join(dest, "usr/local/bin/chatgate"))).toBe(true);
  });

  test("refuses, naming the build command, when there is no binary to install", async () => {
    const result = await install({ DESTDIR: tempDir() }, [join(tempDir(), "missing")]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("npm run build");
  });
});

describe("deploy/chatgate.service", () => {
  test("asks for what the gateway implements: notify from the main process, watchdog, HUP reload, no start-up re-exec", () => {
    const unit = readFileSync(UNIT, "utf8");
    for (const line of ["Type=notify", "NotifyAccess=main", "WatchdogSec=30", "ExecReload=/bin/kill -HUP $MAINPID", "EnvironmentFile=-/etc/chatgate/chatgate.env", "Environment=BUN_CONFIG_MAX_HTTP_REQUESTS=65535", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"])
      expect(unit).toContain(`\n${line}\n`);
    // JavaScriptCore's JIT and bun:ffi (the notify socket) need W+X memory.
    expect(unit).not.toMatch(/^MemoryDenyWriteExecute=/m);
  });

  const analyze = Bun.which("systemd-analyze");
  test.skipIf(!analyze)(`passes systemd-analyze verify${analyze ? "" : " (skipped: systemd-analyze is not installed)"}`, async () => {
    // verify checks that ExecStart's binary exists: point it at the real build, in a unit of the same name.
    const dir = tempDir();
    const unit = join(dir, "chatgate.service");
    writeFileSync(unit, readFileSync(UNIT, "utf8").replace("ExecStart=/usr/local/bin/chatgate ", `ExecStart=${await compiledBinary()} `));
    const proc = Bun.spawn([analyze!, "verify", unit], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(out + err).toBe("");
    expect(code).toBe(0);
    // compiledBinary() builds the binary when the source is newer.
  }, 60_000);
});
