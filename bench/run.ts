// `npm run bench`: starts the mock upstream and the targets on 127.0.0.1, runs the scenarios
// interleaved across targets, prints and saves the tables, checks the budget, and stops every
// process it started whatever happens.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import type { LoadSpec } from "./load.ts";
import { type GateOptions, type RunFigures, measure, quietGate } from "./measure.ts";
import { type Backends, CLIENT_KEY_ID, KEY_LIMITS, type StartKind, type TargetName, isChatgate, productionMaxHttpRequests } from "./commands.ts";
import { type LogCheck, type MetricsCheck, type RedisTargetCheck, scrapeMetrics } from "./observability.ts";
import { type Options, parseOptions } from "./options.ts";
import { disablePinning, installCleanup, killAllSync, pinSelf, pinningAvailable, stopAll, treeOf, treeRssSplit, treeUsage } from "./proc.ts";
import { type RunMeta, type RunRecord, type TargetInfo, renderReport } from "./report.ts";
import { PATHS, clientWire } from "./client.ts";
import { ONLY, SCENARIOS, type Scenario, WARMUP_IDS, runsScenario } from "./scenarios.ts";
import { type BenchRedis, ensureRedis, redisStats, startRedis } from "./redis.ts";
import { ensureWrk } from "./wrk.ts";
import { type SoakResult, soak, soakMarkdown } from "./soak.ts";
import { timeStartups } from "./startup.ts";
import { TargetLog } from "./target-log.ts";
import { LOAD_CPU, type Target, ensureChatgate, probe, startTarget, startUpstream } from "./targets.ts";

const log = (msg: string) => console.error(`bench: ${msg}`);
// Percentiles of a run where nothing succeeded are NaN, which JSON carries as null.
const ms = (v: number | null) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(2) : "–");

function specFor(s: Scenario, t: Target, o: Options, wrk: boolean): LoadSpec {
  const count = s.fixedRequests === null ? null : Math.max(1, Math.round(s.fixedRequests * o.mode.countScale));
  const { wire, model } = clientWire(s.upstream ?? "openai", t.name, s.front);
  return {
    url: `${t.base}${PATHS[wire]}`,
    wire,
    model,
    apiKey: t.apiKey,
    stream: s.stream,
    promptBytes: s.promptBytes,
    knobs: s.knobs,
    concurrency: count === null ? s.concurrency : Math.min(s.concurrency, count),
    durationMs: count === null ? o.mode.durationMs : 60_000,
    maxRequests: count ?? 1_000_000_000,
    verify: o.mode.name === "smoke" ? "full" : s.verify,
    timeoutMs: 30_000,
    tool: wrk && !s.stream ? "wrk" : "bun",
  };
}

/** Round r of scenario i starts at a different target each time: A B C, B C A, C A B, … */
function rotate<T>(items: readonly T[], by: number): T[] {
  const k = items.length ? by % items.length : 0;
  return [...items.slice(k), ...items.slice(0, k)];
}

function write(o: Options, stem: string, md: string, json: unknown): string {
  mkdirSync(o.outDir, { recursive: true });
  writeFileSync(join(o.outDir, `${stem}.md`), `${md}\n`);
  writeFileSync(join(o.outDir, `${stem}.json`), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(join(o.outDir, `latest-${o.soak ? "soak" : o.mode.name}.md`), `${md}\n`);
  return join(o.outDir, `${stem}.{md,json}`);
}

async function main(o: Options): Promise<number> {
  if (!o.pin) disablePinning();
  pinSelf(LOAD_CPU);
  const failures: string[] = [];
  const skipped: string[] = [];
  const skip = (name: TargetName, why: string) => {
    skipped.push(`${name}: ${why}`);
    log(`${name} target SKIPPED: ${why}`);
  };
  let names = [...o.targets];
  if (names.some(isChatgate)) {
    const why = ensureChatgate(o.build);
    if (why) {
      for (const name of names.filter(isChatgate)) skip(name, why);
      // Missing source is expected while the gateway is written; a failed build is an error.
      if (existsSync(join(import.meta.dir, "..", "src", "main.ts"))) failures.push(`chatgate: ${why}`);
      names = names.filter((n) => !isChatgate(n));
    }
  }
  const redisWhy = names.includes("chatgate-redis") ? redisMissing(o) : null;
  if (redisWhy) {
    skip("chatgate-redis", redisWhy);
    names = names.filter((n) => n !== "chatgate-redis");
  }
  log(`${o.soak ? "soak" : o.mode.name} mode; targets ${names.join(", ")}; pinning ${pinningAvailable() ? `on (load+upstream${names.includes("chatgate-redis") ? "+redis" : ""}: CPU 0, target: CPU 1)` : "OFF"}`);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  // chatgate as in production: the unit's cap on upstream requests, its output into a real file
  // (one per chatgate target; the by-hand starts write into chatgate's).
  const maxHttpRequests = names.some(isChatgate) ? productionMaxHttpRequests() : undefined;
  const logs = new Map<TargetName, TargetLog>(names.filter(isChatgate).map((n) => [n, new TargetLog(join(o.outDir, `${n}-${stamp}.log`))]));
  const logOf = (kind: StartKind) => logs.get(kind === "chatgate-by-hand" ? "chatgate" : kind) ?? null;
  const rotateLogs = () => {
    for (const l of logs.values()) l.rotate();
  };
  for (const [n, l] of logs) log(`${n}: BUN_CONFIG_MAX_HTTP_REQUESTS=${maxHttpRequests} (deploy/chatgate.service); stdout and stderr into ${l.path}`);
  const upstream = await startUpstream();
  let redis: BenchRedis | null = null;
  if (names.includes("chatgate-redis")) {
    try {
      redis = await startRedis(LOAD_CPU);
      log(`redis-server (pid ${redis.proc.pid}) at ${redis.url}, no persistence, pinned with the load generator: ${pinningAvailable() ? `CPU ${LOAD_CPU}` : "not pinned"}`);
    } catch (e) {
      failures.push(`chatgate-redis: ${e instanceof Error ? e.message : String(e)}`);
      log(`chatgate-redis: redis-server failed to start: ${e instanceof Error ? e.message : String(e)}`);
      names = names.filter((n) => n !== "chatgate-redis");
    }
  }
  const backends: Backends = { upstreamPort: upstream.port, redisUrl: redis?.url ?? null };
  // The harness's own long-lived processes: their CPU is never foreign load.
  const servers = [upstream.proc.pid, ...(redis ? [redis.proc.pid] : [])];
  const kinds: StartKind[] = names.includes("chatgate") ? [...names, "chatgate-by-hand"] : [...names];
  // Each round of starts waits for a quiet machine, as each load run does.
  const quiet = () => quietGate(servers, { maxForeignCores: o.maxForeignCores, maxWaitMs: o.mode.name === "smoke" ? 0 : 10_000, retries: 0 });
  const startups = await timeStartups(kinds, backends, o.mode.starts, logOf, quiet);
  const startupOf = (kind: StartKind) => startups.times.get(kind) ?? [];
  for (const [kind, why] of startups.failed) {
    failures.push(`${kind}: ${why}`);
    log(`${kind} failed to start: ${why}`);
  }
  const targets: Target[] = [];
  for (const name of names.filter((n) => !startups.failed.has(n))) {
    try {
      const t = await startTarget(name, upstream, backends, logOf(name));
      const bad = await probe(t);
      if (bad) throw new Error(bad);
      targets.push(t);
      log(`${name}: up in ${startupOf(name).map((m) => m.toFixed(1)).join(", ")} ms, RSS ${(t.rssAfterStartBytes / 1048576).toFixed(1)} MB`);
    } catch (e) {
      failures.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
      log(`${name} failed to start: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (startupOf("chatgate-by-hand").length) log(`chatgate by hand (variable unset, re-exec): up in ${startupOf("chatgate-by-hand").map((m) => m.toFixed(1)).join(", ")} ms`);
  // Smoke checks answers, not speed: the Bun generator checks fully and needs no install.
  const useWrk = o.loader === "wrk" || (o.loader === "auto" && o.mode.name !== "smoke" && !o.soak) ? ensureWrk(log) : false;
  const rootPids = [...servers, ...targets.filter((t) => t.proc).map((t) => t.pid)];
  const smoke = o.mode.name === "smoke";
  const gate: GateOptions = { maxForeignCores: o.maxForeignCores, maxWaitMs: smoke ? 0 : 10_000, retries: smoke ? 0 : o.retries };
  const meta: Omit<RunMeta, "targets" | "runs"> = {
    startedAt: new Date().toISOString(),
    bun: Bun.version,
    cpu: cpus()[0]?.model ?? "?",
    cores: cpus().length,
    pinned: pinningAvailable(),
    mode: o.mode,
    skipped,
    maxHttpRequests,
    setup: setupLines(targets.map((t) => t.name)),
  };

  if (o.soak) {
    const results: SoakResult[] = [];
    for (const t of targets.filter((x) => x.name !== "direct")) results.push(await soak(t, rootPids, gate, o.soak, logs.get(t.name) ?? null));
    const md = `## chatgate soak, c${o.soak.concurrency} non-stream, ${o.soak.seconds} s, ${meta.startedAt}\n\n${soakMarkdown(results)}`;
    console.log(md);
    log(`written ${write(o, `soak-${stamp}`, md, { ...meta, soak: results, failures })}`);
    for (const r of results) if (r.errors) failures.push(`soak ${r.target}: ${r.errors} errors: ${r.errorSamples.join("; ")}`);
    for (const f of failures) log(`FAIL ${f}`);
    return failures.length ? 1 : 0;
  }

  // Warm-up, unmeasured: JIT and connection pools settle before the first counted run.
  const warm = o.scenarios.filter((s) => WARMUP_IDS.includes(s.id));
  // A target that dies (or whose load generator fails) is out for the rest of the bench, not the bench.
  const dead = new Set<string>();
  const fatal = (t: Target, what: string, e: unknown) => {
    const why = e instanceof Error ? e.message : String(e);
    failures.push(`${t.name} ${what}: ${why}`);
    log(`${t.name} ${what} FAILED: ${why}; no more runs against ${t.name}`);
    dead.add(t.name);
  };
  for (const t of targets) {
    for (const s of warm.filter((w) => runsScenario(t.name, w))) {
      if (dead.has(t.name)) continue;
      try {
        rotateLogs();
        const f = await measure({ ...specFor(s, t, o, useWrk), durationMs: o.mode.warmupMs }, t.pid, rootPids, { maxForeignCores: 99, maxWaitMs: 0, retries: 0 });
        if (f.errors) failures.push(`${t.name} warm-up ${s.id}: ${f.errors} errors: ${f.errorSamples.join("; ")}`);
      } catch (e) {
        fatal(t, `warm-up ${s.id}`, e);
      }
    }
  }

  const runs: RunRecord[] = [];
  const total = o.mode.rounds * o.scenarios.reduce((sum, s) => sum + targets.filter((t) => runsScenario(t.name, s)).length, 0);
  const t0 = Date.now();
  // On a busy machine, gate waits and re-runs could stretch the run far past its plan: a run that
  // starts behind schedule (plan + 15 % + 1 min) gets no wait and no re-run, and is marked noisy if
  // disturbed; once back on schedule, the gate applies again.
  const perRunMs = o.mode.durationMs + 1500;
  const behind: GateOptions = { ...gate, retries: 0, maxWaitMs: Math.min(gate.maxWaitMs, 1000) };
  for (let round = 0; round < o.mode.rounds; round++) {
    for (const [si, s] of o.scenarios.entries()) {
      // A target that runs only some scenarios (ONLY) takes its turns among those that run this one.
      for (const t of rotate(targets.filter((x) => runsScenario(x.name, s)), round + si)) {
        const late = Date.now() - t0 > runs.length * perRunMs * 1.15 + 60_000;
        if (dead.has(t.name)) continue;
        let f: RunFigures;
        try {
          // Idle between runs: the log's lines so far are counted and the file emptied (disk, not CPU).
          rotateLogs();
          f = await measure(specFor(s, t, o, useWrk), t.pid, rootPids, late && !smoke ? behind : gate);
        } catch (e) {
          fatal(t, s.id, e);
          continue;
        }
        runs.push({ round, scenario: s.id, target: t.name, figures: f });
        const ttfc = f.ttfc ? `, TTFC p50 ${ms(f.ttfc.p50)} ms` : "";
        log(
          `[${runs.length}/${total} ${Math.round((Date.now() - t0) / 1000)} s] r${round + 1} ${s.id} ${t.name}: ${Math.round(f.rps)}/s, p50 ${ms(f.latency.p50)} ms${ttfc}, CPU ${Math.round(f.cpuUsPerReq)} µs/req, errors ${f.errors}${f.noisy ? " (noisy)" : ""}${f.errorSamples[0] ? ` – ${f.errorSamples[0]}` : ""}`,
        );
      }
    }
  }

  if (o.mode.settleMs > 0) {
    log(`waiting ${o.mode.settleMs / 1000} s before reading RSS after load`);
    await Bun.sleep(o.mode.settleMs);
  }
  const infos: TargetInfo[] = targets.map((t) => ({
    name: t.name,
    startupMs: startupOf(t.name),
    ...(t.name === "chatgate" ? { startupByHandMs: startupOf("chatgate-by-hand") } : {}),
    rssAfterStartBytes: t.rssAfterStartBytes,
    rssAfterLoadBytes: dead.has(t.name) ? null : treeUsage(treeOf(t.pid)).rssBytes,
    rssSplitAfterStart: t.rssSplitAfterStart,
    rssSplitAfterLoad: dead.has(t.name) ? null : treeRssSplit(treeOf(t.pid)),
    settleMs: o.mode.settleMs,
  }));
  // After RSS is read: the scrape allocates. What /metrics counted, and what the log files received.
  const alive = (name: TargetName) => targets.find((t) => t.name === name && !dead.has(t.name));
  const scrape = async (name: TargetName): Promise<MetricsCheck | undefined> => {
    const t = alive(name);
    return t ? await scrapeMetrics(t) : undefined;
  };
  const logged = (name: TargetName): LogCheck | undefined => {
    const l = logs.get(name);
    return l ? { path: l.path, ...l.totals() } : undefined;
  };
  const redisTarget: RedisTargetCheck | undefined = redis && targets.some((t) => t.name === "chatgate-redis")
    ? { log: logged("chatgate-redis"), metrics: await scrape("chatgate-redis"), redis: await redisStats(redis.url) }
    : undefined;
  const meta2: RunMeta = { ...meta, targets: infos, runs, chatgateLog: logged("chatgate"), metrics: await scrape("chatgate"), redisTarget };
  const { md, aggregates: aggs, budget } = renderReport(meta2, o.scenarios);
  for (const a of aggs) {
    if (a.errors) failures.push(`${a.target} ${a.scenario}: ${a.errors} errors: ${a.errorSamples.join("; ")}`);
    if (a.completed === 0) failures.push(`${a.target} ${a.scenario}: nothing completed`);
  }
  console.log(md);
  log(`written ${write(o, `${o.mode.name}-${stamp}`, md, { ...meta2, aggregates: aggs, budget, failures })}`);
  for (const f of failures) log(`FAIL ${f}`);
  if (smoke) console.log(failures.length ? `bench smoke: FAILED (${failures.length} problem(s))` : "bench smoke: ok");
  return failures.length ? 1 : 0;
}

/**
 * Why the chatgate-redis target cannot run (null: it can): none of its scenarios is selected, or
 * there is no redis-server (installed as root, except in smoke mode, which installs nothing).
 */
function redisMissing(o: Options): string | null {
  const own = ONLY["chatgate-redis"] ?? [];
  if (!o.soak && !o.scenarios.some((s) => runsScenario("chatgate-redis", s))) return `it runs only ${own.join(", ")}, and none is selected`;
  return ensureRedis(o.mode.name !== "smoke", log);
}

/** The report's header: how the chatgate targets were set up (the same config file and key for both). */
function setupLines(names: readonly TargetName[]): string[] {
  if (!names.some(isChatgate)) return [];
  const lines = [
    `**chatgate with ledger and key limits on**: the load generator's key is a \`keys:\` entry (id \`${CLIENT_KEY_ID}\`) with rpm ${KEY_LIMITS.rpm.toLocaleString("en-US")}, tpm ${KEY_LIMITS.tpm.toLocaleString("en-US")} and a budget of ${KEY_LIMITS.budgetUsd.toLocaleString("en-US")} USD a month, out of reach but checked, reserved and settled on every request (the bench's models are priced in the config), and the usage ledger is on. \`chatgate\` keeps the key limits in memory: every chatgate budget line below is measured with the ledger and in-memory key limits on.`,
  ];
  if (names.includes("chatgate-redis")) {
    lines.push("`chatgate-redis`: the same binary, config and key with `CHATGATE_REDIS_URL` pointing at a redis-server the bench starts (no persistence, pinned with the load generator and the upstream, so Redis's own CPU is not in the target's figures); it runs only " + (ONLY["chatgate-redis"] ?? []).join(", ") + ".");
  }
  return lines;
}

/** `--render FILE.json`: the tables and budget again from a saved run, e.g. after report changes. */
function render(file: string): number {
  const saved = JSON.parse(readFileSync(file, "utf8")) as RunMeta;
  const ids = new Set(saved.runs.map((r) => r.scenario));
  console.log(renderReport(saved, SCENARIOS.filter((s) => ids.has(s.id))).md);
  return 0;
}

installCleanup();
let code = 1;
try {
  const renderAt = process.argv.indexOf("--render");
  const file = renderAt === -1 ? undefined : process.argv[renderAt + 1];
  code = file ? render(file) : await main(parseOptions(process.argv.slice(2)));
} catch (e) {
  console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
} finally {
  // Graceful first, so targets can close sockets; the SIGKILL sweep catches anything left.
  await stopAll();
  killAllSync();
}
process.exit(code);
