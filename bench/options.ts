// Command-line options of `npm run bench -- …`.
import { MODES, type Mode, SCENARIOS, type Scenario, type SoakOptions } from "./scenarios.ts";
import { TARGET_NAMES, type TargetName } from "./targets.ts";

export interface Options {
  mode: Mode;
  targets: TargetName[];
  scenarios: Scenario[];
  soak: SoakOptions | null;
  pin: boolean;
  build: boolean;
  outDir: string;
  /** Foreign CPU (in cores) that marks the machine busy or a run disturbed. */
  maxForeignCores: number;
  retries: number;
  loader: "auto" | "bun" | "wrk";
}

export const USAGE = `usage: npm run bench -- [options]
  --smoke              CI check: every target answers, no errors, complete streams (< 60 s, no budget)
  --quick              1 round, 2 s runs, no 30 s RSS wait
  --rounds N           rounds of interleaved runs (default 3)
  --duration S         seconds per run (default 4)
  --settle S           seconds to wait after load before reading RSS (default 30)
  --starts N           rounds of start-ups timed, each target once a round (default 5)
  --targets a,b        of: ${TARGET_NAMES.join(", ")}
  --scenarios a,b      of: ${SCENARIOS.map((s) => s.id).join(", ")}
  --soak               run only the soak: c16 non-stream, 5 minutes, RSS growth and errors
  --soak-seconds S     soak length (default 300; warm-up is the first 10 %, at most 30 s)
  --max-foreign F      foreign CPU, in cores, that counts as disturbance (default 0.15)
  --retries N          re-runs of a disturbed run (default 2)
  --loader L          auto (wrk for non-stream, Bun for streams; Bun only in smoke), bun, or wrk
  --no-pin             do not use taskset
  --no-build           never run npm run build
  --out DIR            where results go (default bench/results)
  --render FILE.json   print the tables and budget of a saved run again`;

function num(v: string | undefined, flag: string, lo: number, hi: number): number {
  const x = Number(v);
  if (v === undefined || !Number.isFinite(x) || x < lo || x > hi) throw new Error(`${flag} needs a number in ${lo}..${hi}`);
  return x;
}

function list<T extends string>(v: string | undefined, flag: string, allowed: readonly T[]): T[] {
  const items = (v ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const bad = items.filter((i) => !allowed.includes(i as T));
  if (items.length === 0 || bad.length) throw new Error(`${flag}: unknown ${bad.join(", ") || "(empty)"}; allowed: ${allowed.join(", ")}`);
  return items as T[];
}

export function parseOptions(argv: readonly string[]): Options {
  const has = (f: string) => argv.includes(f);
  const mode: Mode = { ...MODES[has("--smoke") ? "smoke" : has("--quick") ? "quick" : "full"] };
  const o: Options = {
    mode,
    targets: [...TARGET_NAMES],
    scenarios: [...SCENARIOS],
    soak: null,
    pin: true,
    build: true,
    outDir: `${import.meta.dir}/results`,
    maxForeignCores: 0.15,
    retries: 2,
    loader: "auto",
  };
  let targetsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    switch (a) {
      case "--smoke":
      case "--quick":
        break;
      case "--rounds":
        mode.rounds = num(v(), a, 1, 50);
        break;
      case "--duration":
        mode.durationMs = num(v(), a, 0.1, 600) * 1000;
        break;
      case "--settle":
        mode.settleMs = num(v(), a, 0, 600) * 1000;
        break;
      case "--starts":
        mode.starts = num(v(), a, 1, 50);
        break;
      case "--targets":
        o.targets = list(v(), a, TARGET_NAMES);
        targetsGiven = true;
        break;
      case "--scenarios": {
        const ids = list(v(), a, SCENARIOS.map((s) => s.id));
        o.scenarios = SCENARIOS.filter((s) => ids.includes(s.id));
        break;
      }
      case "--soak":
        o.soak = o.soak ?? { seconds: 300, warmupSeconds: 30, concurrency: 16 };
        break;
      case "--soak-seconds": {
        const seconds = num(v(), a, 5, 3600);
        o.soak = { seconds, warmupSeconds: Math.min(30, seconds / 10), concurrency: 16 };
        break;
      }
      case "--max-foreign":
        o.maxForeignCores = num(v(), a, 0.01, 2);
        break;
      case "--retries":
        o.retries = num(v(), a, 0, 10);
        break;
      case "--loader":
        o.loader = list(v(), a, ["auto", "bun", "wrk"] as const)[0] ?? "auto";
        break;
      case "--no-pin":
        o.pin = false;
        break;
      case "--no-build":
        o.build = false;
        break;
      case "--out":
        o.outDir = v() ?? o.outDir;
        break;
      case "--help":
      case "-h":
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a}\n${USAGE}`);
    }
  }
  // The soak is minutes per target: chatgate-redis only when named.
  if (o.soak && !targetsGiven) o.targets = o.targets.filter((t) => t !== "chatgate-redis");
  return o;
}
