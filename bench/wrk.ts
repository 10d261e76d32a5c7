// wrk as the load generator for non-stream scenarios: in C it keeps a single-core target
// saturated where Bun's fetch client, sharing its core with the upstream, falls ~30 % short at
// c64. A Lua response() hook checks every answer's content, so wrk's figures are checked ones.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { answerNeedles, clientRequest } from "./client.ts";
import type { LoadResult, LoadSpec } from "./load.ts";
import { DEFAULT_ANSWER_BYTES, answerPieces, expectedPromptChars } from "./wire.ts";

/** wrk on PATH, installing it with apt-get when running as root; false (with the reason logged) otherwise. */
export function ensureWrk(log: (msg: string) => void): boolean {
  if (Bun.which("wrk")) return true;
  if (process.getuid?.() !== 0 || !Bun.which("apt-get")) {
    log("wrk is not installed and this is not root with apt-get: non-stream runs use the Bun load generator");
    return false;
  }
  log("wrk is missing: apt-get install -y wrk");
  const install = () =>
    Bun.spawnSync(["apt-get", "install", "-y", "-qq", "wrk"], { stdout: "ignore", stderr: "pipe", timeout: 180_000, env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } }).success;
  if (!install()) {
    Bun.spawnSync(["apt-get", "update", "-qq"], { stdout: "ignore", stderr: "ignore", timeout: 180_000 });
    install();
  }
  if (Bun.which("wrk")) return true;
  log("installing wrk failed: non-stream runs use the Bun load generator");
  return false;
}

interface WrkJson {
  requests: number;
  duration_us: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
  bad: number;
  sample: string;
}

function script(spec: LoadSpec): string {
  const { body, headers } = clientRequest({ ...spec, stream: false });
  const content = answerPieces(spec.knobs.answer_bytes ?? DEFAULT_ANSWER_BYTES).join("");
  const [prompt, finish] = answerNeedles(spec.wire, expectedPromptChars(spec.promptBytes));
  const headerLines = Object.entries(headers).map(([k, v]) => `wrk.headers["${k}"] = "${v}"`);
  // Thread-local counters are summed in done() through the thread handles kept in setup().
  return `wrk.method = "POST"
wrk.body = [==[${body}]==]
${headerLines.join("\n")}
local threads = {}
function setup(thread) table.insert(threads, thread) end
bad = 0
sample = ""
function response(status, headers, body)
  if status ~= 200 or not string.find(body, [==[${content}]==], 1, true) or not string.find(body, [==[${prompt}]==], 1, true)
     or not string.find(body, [==[${finish}]==], 1, true) then
    bad = bad + 1
    if sample == "" then sample = "HTTP " .. status .. ": " .. string.sub(body, 1, 120) end
  end
end
function done(summary, latency, requests)
  local b, s = 0, ""
  for _, t in ipairs(threads) do
    b = b + t:get("bad")
    if s == "" then s = t:get("sample") end
  end
  s = string.gsub(s, '[^%w %.:,_%-]', '?')
  local e = summary.errors
  io.write(string.format('\\nWRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50":%.1f,"p99":%.1f,"mean":%.1f,"max":%.1f,"bad":%d,"sample":"%s"}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max, b, s))
end
`;
}

export interface WrkRun {
  cmd: string[];
  parse(stdout: string): LoadResult;
  cleanup(): void;
}

/** The wrk command for a non-stream spec, and the parser of its output into a LoadResult. */
export function wrkRun(spec: LoadSpec): WrkRun {
  const dir = mkdtempSync(join(tmpdir(), "chatgate-bench-"));
  const file = join(dir, "post.lua");
  writeFileSync(file, script(spec));
  const seconds = Math.max(1, Math.round(spec.durationMs / 1000)); // wrk counts whole seconds
  return {
    cmd: ["wrk", "-t1", `-c${spec.concurrency}`, `-d${seconds}s`, `--timeout`, `${Math.ceil(spec.timeoutMs / 1000)}s`, "-s", file, spec.url],
    parse(stdout: string): LoadResult {
      const line = stdout.split("\n").find((l) => l.startsWith("WRKJSON "));
      if (!line) throw new Error(`wrk printed no result: ${stdout.slice(-300)}`);
      const w = JSON.parse(line.slice(8)) as WrkJson;
      const socketErrors = w.connect + w.read + w.write + w.timeout;
      const samples: string[] = [];
      if (w.sample) samples.push(w.sample);
      if (socketErrors) samples.push(`wrk socket errors: connect ${w.connect}, read ${w.read}, write ${w.write}, timeout ${w.timeout}`);
      const completed = w.requests - w.bad;
      const ms = (us: number) => us / 1000;
      return {
        completed,
        errors: w.bad + socketErrors,
        errorSamples: samples,
        wallMs: w.duration_us / 1000,
        latency: { count: completed, mean: ms(w.mean), p50: ms(w.p50), p99: ms(w.p99), max: ms(w.max) },
        ttfc: null,
        maxOpen: spec.concurrency,
      };
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
