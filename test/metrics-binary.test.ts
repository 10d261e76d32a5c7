// /metrics from the compiled binary, as Prometheus would scrape it: prom-client is loaded lazily
// there (a chunk of its own), so what only the shipped executable shows is checked against it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { compiledBinary, spawnBinary } from "./support/binary.ts";
import { runGateway, type GatewayProcess } from "./support/process.ts";
import { getMetrics, scrape, type Scrape } from "./metrics-scrape.ts";

const CLIENT = "ck-metrics-binary-client";
const METRICS = "mk-metrics-binary-scrape";
const HI = [{ role: "user", content: "hi there" }];

let gw: GatewayProcess;
beforeAll(async () => {
  gw = await spawnBinary({ CHATGATE_MOCK: "1", CHATGATE_API_KEYS: CLIENT, CHATGATE_METRICS_KEY: METRICS, CHATGATE_RATE_LIMIT_MAX: "0" });
}, 60_000);
afterAll(() => gw?.stop());

const chat = (body: Record<string, unknown>, key = CLIENT) =>
  fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify(body) });

/** Scrapes until `done` holds: a stream's record is written as its response ends, which the client may see first. */
async function scrapeUntil(done: (m: Scrape) => boolean): Promise<Scrape> {
  let m = await scrape(gw.url, METRICS);
  for (let i = 0; i < 100 && !done(m); i++) m = await scrape(gw.url, METRICS);
  return m;
}

describe("the compiled binary's /metrics", () => {
  test("parses as Prometheus text and counts exactly the traffic sent, unknown model names under `other`", async () => {
    const answers: { usage: { prompt_tokens: number; completion_tokens: number } }[] = [];
    for (const model of ["mock", "gpt-4o-mini", "a-name-nobody-configured"]) {
      const res = await chat({ model, messages: HI });
      expect(res.status).toBe(200);
      answers.push((await res.json()) as (typeof answers)[number]);
    }
    const stream = await chat({ model: "mock", messages: HI, stream: true });
    expect(await stream.text()).toContain("data: [DONE]");
    expect((await chat({ model: "mock", messages: HI }, "ck-wrong")).status).toBe(401);
    expect((await fetch(`${gw.url}/nowhere`)).status).toBe(404);

    const m = await scrapeUntil((s) => s.value("chatgate_requests_total") === 6 && s.value("chatgate_in_flight_requests", { kind: "stream" }) === 0);
    const route = "/v1/chat/completions";
    expect(m.series("chatgate_requests_total")).toEqual({
      [`route=${route},model=mock,provider=mock,status=200`]: 2,
      [`route=${route},model=gpt-4o-mini,provider=mock,status=200`]: 1,
      [`route=${route},model=other,provider=mock,status=200`]: 1,
      [`route=${route},model=none,provider=none,status=401`]: 1,
      ["route=other,model=none,provider=none,status=404"]: 1,
    });
    expect(m.value("chatgate_request_duration_seconds")).toBe(4);
    expect(m.series("chatgate_time_to_first_byte_seconds")).toEqual({
      [`route=${route},model=mock,stream=false`]: 1,
      [`route=${route},model=mock,stream=true`]: 1,
      [`route=${route},model=gpt-4o-mini,stream=false`]: 1,
      [`route=${route},model=other,stream=false`]: 1,
    });
    const prompt = answers.reduce((sum, a) => sum + a.usage.prompt_tokens, 0);
    expect(m.value("chatgate_tokens_total", { type: "prompt" })).toBeGreaterThanOrEqual(prompt);
    expect(m.value("chatgate_tokens_total", { model: "gpt-4o-mini", type: "completion" })).toBe(answers[1]!.usage.completion_tokens);
    expect(m.series("chatgate_upstream_attempts_total")).toEqual({ "provider=mock": 4 });
    expect(m.value("chatgate_upstream_failures_total")).toBe(0);
    // The process's own, read at scrape time.
    expect(m.family("process_resident_memory_bytes")?.type).toBe("GAUGE");
    expect(m.value("process_resident_memory_bytes")).toBeGreaterThan(10 * 1024 * 1024);
    expect(m.family("chatgate_event_loop_lag_max_seconds")?.type).toBe("GAUGE");
    expect(m.family("chatgate_event_loop_lag_p99_seconds")?.type).toBe("GAUGE");
    // No key, of either kind, is ever a label value.
    expect(m.text).not.toContain(CLIENT);
    expect(m.text).not.toContain(METRICS);
  });

  test("with CHATGATE_METRICS_KEY set, a client key gets a 401 in OpenAI's shape", async () => {
    const res = await getMetrics(gw.url, CLIENT);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_api_key");
  });

  test("an empty CHATGATE_METRICS_KEY refuses to start with exit code 2, naming the variable", async () => {
    const binary = await compiledBinary();
    const { code, stderr } = await runGateway([binary], { CHATGATE_MOCK: "1", CHATGATE_METRICS_KEY: " ", PORT: "0" });
    expect(code).toBe(2);
    expect(stderr).toContain("CHATGATE_METRICS_KEY: is set but holds no key");
  });
});
