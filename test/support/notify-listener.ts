// The service manager's end of sd_notify for tests: a real unix datagram socket, bound by a small
// Python listener (Bun has no unix datagram API), recording every message with its arrival time.
/** The service manager's end: binds argv[1] (a path, or @name: abstract), prints "bound", then a JSON line per datagram. */
const LISTENER = `
import json, socket, sys, time
a = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\\0" + a[1:] if a.startswith("@") else a)
print("bound", flush=True)
while True:
    print(json.dumps({"t": time.monotonic(), "msg": s.recv(4096).decode()}), flush=True)
`;

export interface Datagram {
  /** Seconds on the listener's monotonic clock. */
  t: number;
  msg: string;
}

export async function notifyListener(address: string) {
  const proc = Bun.spawn([Bun.which("python3") ?? "/usr/bin/python3", "-u", "-c", LISTENER, address], { stdout: "pipe", stderr: "inherit" });
  const received: Datagram[] = [];
  const bound = Promise.withResolvers<void>();
  let wake = () => {};
  void (async () => {
    let buffered = "";
    for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      for (let at = buffered.indexOf("\n"); at >= 0; at = buffered.indexOf("\n")) {
        const line = buffered.slice(0, at);
        buffered = buffered.slice(at + 1);
        if (line === "bound") bound.resolve();
        else received.push(JSON.parse(line) as Datagram);
      }
      wake();
    }
  })();
  void proc.exited.then(() => bound.reject(new Error("the notify listener exited before binding")));
  await bound.promise;
  /** The first datagram (from index `from`) whose text matches, as it arrives. */
  const next = async (pattern: RegExp, from = 0, timeoutMs = 5_000): Promise<Datagram> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = received.slice(from).find((d) => pattern.test(d.msg));
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no datagram matching ${pattern}; got ${JSON.stringify(received.map((d) => d.msg))}`);
      const arrived = new Promise<void>((resolve) => (wake = resolve));
      await Promise.race([arrived, Bun.sleep(50)]);
    }
  };
  const stop = async () => {
    proc.kill();
    await proc.exited;
  };
  /** Stops reading (the socket's queue fills, as a busy service manager's does) until `resume()`. */
  const pause = () => proc.kill("SIGSTOP");
  const resume = () => proc.kill("SIGCONT");
  return { address, received, next, pause, resume, stop, [Symbol.asyncDispose]: stop };
}

