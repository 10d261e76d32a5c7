// The config file as a user meets it: the compiled binary started with --config or
// CHATGATE_CONFIG, and `chatgate check-config`, from an empty directory.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary, spawnBinary } from "./support/binary.ts";
import { runGateway } from "./support/process.ts";

const EXAMPLE = join(import.meta.dir, "..", "chatgate.example.yaml");
const OPENAI_KEY = "sk-example-SECRETOPENAI-5d1c";
const ANTHROPIC_KEY = "ak-example-SECRETANTHROPIC-9e0f";
const dir = mkdtempSync(join(tmpdir(), "chatgate-config-bin-"));
let binary: string;

beforeAll(async () => {
  binary = await compiledBinary();
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, yaml: string): string {
  const path = join(dir, name);
  writeFileSync(path, yaml);
  return path;
}

const BAD = "providers:\n  - {id: openai, type: openai}\n  - {id: local, type: openai, base_url: 'ftp://127.0.0.1/v1'}\n";

describe("starting with a config file", () => {
  test("a bad file refuses to start with exit 2, naming the file, the field and the problem", async () => {
    const path = file("bad.yaml", BAD);
    for (const [args, env] of [[["--config", path], {}], [[], { CHATGATE_CONFIG: path }]] as [string[], Record<string, string>][]) {
      const { stdout, stderr, code } = await runGateway([binary, ...args], env);
      expect(code).toBe(2);
      expect(stderr).toBe(`chatgate: refusing to start: ${path}: providers[1].base_url: expected an http(s) URL\n`);
      expect(stdout).not.toContain("listening");
    }
  });

  test("an unset ${VAR} refuses to start, naming the variable and the field", async () => {
    const path = file("unset.yaml", "providers:\n  - {id: anthropic, type: anthropic, api_key: '${ANTHROPIC_API_KEY}'}\n");
    const { stderr, code } = await runGateway([binary, "--config", path]);
    expect(code).toBe(2);
    expect(stderr).toContain(`${path}: providers[0].api_key: environment variable ANTHROPIC_API_KEY is not set`);
  });

  test("a YAML syntax error names the file and the line", async () => {
    const path = file("syntax.yaml", "retries: 2\nproviders:\n\t- id: x\n");
    const { stderr, code } = await runGateway([binary, "--config", path]);
    expect(code).toBe(2);
    expect(stderr).toContain(`${path}: line 3: not valid YAML`);
  });

  test("a good file with the mock provider and a public model routed to it starts and serves /health", async () => {
    const path = file("mock.yaml", "providers:\n  - {id: mock, type: mock}\nmodels:\n  demo:\n    targets: [{provider: mock, model: anything}]\nretries: 1\n");
    await using gw = await spawnBinary({}, ["--config", path]);
    const res = await fetch(`${gw.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  test("the start-up banner names the file's providers and public models, never a key", async () => {
    const path = file(
      "two.yaml",
      `providers:\n  - {id: claude, type: anthropic, base_url: 'http://127.0.0.1:9/', api_key: ${ANTHROPIC_KEY}}\n  - {id: mock, type: mock}\nmodels:\n  demo:\n    targets: [{provider: mock, model: anything}]\n`,
    );
    await using gw = await spawnBinary({}, ["--config", path]);
    const start = await gw.waitForLog((l) => l.msg.includes("listening on"));
    expect(start.msg).not.toContain("no provider configured");
    expect(start.requests_go_to).toBe('claude → http://127.0.0.1:9 (anthropic, key set); mock (built-in mock, model "mock")');
    expect(start.models).toBe("demo");
    expect(gw.output()).not.toContain(ANTHROPIC_KEY);
  });
});

describe("chatgate check-config", () => {
  const env = { OPENAI_API_KEY: OPENAI_KEY, ANTHROPIC_API_KEY: ANTHROPIC_KEY };

  test("on the example file exits 0 and prints providers and routes with *** for every secret", async () => {
    const { stdout, stderr, code } = await runGateway([binary, "check-config", EXAMPLE], env);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toStartWith(`${EXAMPLE}: OK\n`);
    expect(stdout).toContain("anthropic (anthropic): https://api.anthropic.com");
    expect(stdout).toContain("api_key ***");
    expect(stdout).toContain("x-team: ***");
    expect(stdout).toContain("smart (priority): anthropic/claude-sonnet-4-5, then openai/gpt-4.1");
    expect(stdout).toContain("cheap (weighted): openai/gpt-4.1-mini (weight 3), local/llama3.2 (weight 1)");
    for (const secret of [OPENAI_KEY, ANTHROPIC_KEY, "SECRET", "research"]) expect(stdout).not.toContain(secret);
  });

  test("says where each setting comes from, and that the environment overrides the file", async () => {
    const path = file("port.yaml", "port: 3000\ntimeout: 2m\n");
    const { stdout, code } = await runGateway([binary, "check-config", path], { PORT: "8080" });
    expect(code).toBe(0);
    expect(stdout).toContain("port: 8080 (from PORT, overrides the file's 3000)");
    expect(stdout).toContain("timeout: 2m (from the file)");
    expect(stdout).toContain("host: 127.0.0.1 (default)");
  });

  test("a setting the file leaves out is a default, even one the file schema fills in", async () => {
    const path = file("retries.yaml", "retries: 1\n");
    const { stdout, code } = await runGateway([binary, "check-config", path]);
    expect(code).toBe(0);
    expect(stdout).toContain("retries: 1 (from the file)");
    for (const line of ["max_retry_wait: 10s (default)", "cooldown_after: 3 (default)", "cooldown: 30s (default)", "retention: 90d (default)"]) {
      expect(stdout).toContain(line);
    }
  });

  test("on a bad file exits 1 with the start-up error", async () => {
    const path = file("bad-check.yaml", BAD);
    const { stdout, stderr, code } = await runGateway([binary, "check-config", path]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toBe(`chatgate: ${path}: providers[1].base_url: expected an http(s) URL\n`);
  });

  test("--help lists --config, CHATGATE_CONFIG and check-config", async () => {
    const { stdout } = await runGateway([binary, "--help"]);
    for (const name of ["--config", "CHATGATE_CONFIG", "check-config"]) expect(stdout).toContain(name);
  });
});
