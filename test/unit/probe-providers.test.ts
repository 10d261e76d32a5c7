// The start-up look at each provider's model list: what it says when a provider is silent, and
// that a provider whose models the config lists (so nothing is asked) is not said to have answered.
import { expect, test } from "bun:test";
import { probeProviders } from "../../src/banner.ts";
import { parseConfig } from "../../src/config.ts";
import { OpenAIProvider } from "../../src/providers/openai.ts";

const TIMEOUTS = { firstByteMs: 60_000, idleMs: 60_000, totalMs: 60_000 };

test("a provider silent past the probe's bound gets a warning that says so, not a client's abort", async () => {
  const silent = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => new Promise<Response>((resolve) => req.signal.addEventListener("abort", () => resolve(new Response(null)))) });
  try {
    const provider = new OpenAIProvider({ id: "slow", baseUrl: `http://127.0.0.1:${silent.port}/v1`, apiKey: "k", timeouts: TIMEOUTS });
    const lines: string[] = [];
    await probeProviders([provider], parseConfig({}), (line) => lines.push(line), 100);
    expect(lines).toEqual([`chatgate: warning: provider 'slow' at 127.0.0.1:${silent.port} did not answer its model list within 0.1 s of start-up.`]);
  } finally {
    await silent.stop(true);
  }
});

test("a provider whose models the config lists is not asked, and not said to have answered", async () => {
  let asked = 0;
  const up = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => (asked++, Response.json({ object: "list", data: [] })) });
  try {
    const provider = new OpenAIProvider({ id: "listed", baseUrl: `http://127.0.0.1:${up.port}/v1`, apiKey: "k", timeouts: TIMEOUTS, models: ["m1"] });
    const lines: string[] = [];
    await probeProviders([provider], parseConfig({}), (line) => lines.push(line), 1_000);
    expect([lines, asked]).toEqual([[], 0]);
  } finally {
    await up.stop(true);
  }
});

test("a file's provider is told to fix its own fields, not OPENAI_BASE_URL or OPENAI_API_KEY", async () => {
  const up = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => (new URL(req.url).pathname.endsWith("/models") && req.headers.get("authorization") === "Bearer bad" ? new Response("{}", { status: 401 }) : new Response("not here", { status: 404 })) });
  try {
    const at = `127.0.0.1:${up.port}`;
    const lines: string[] = [];
    const missing = new OpenAIProvider({ id: "groq", baseUrl: `http://${at}`, apiKey: "k", timeouts: TIMEOUTS });
    const refused = new OpenAIProvider({ id: "other", baseUrl: `http://${at}/v1`, apiKey: "bad", timeouts: TIMEOUTS });
    await probeProviders([missing, refused], parseConfig({}), (line) => lines.push(line), 1_000);
    expect(lines.sort()).toEqual([
      `chatgate: warning: provider 'groq' at ${at} answered 404 for its model list — completions will likely 404 too; check its base_url (OpenAI-compatible base URLs usually end in /v1).`,
      "chatgate: warning: provider 'other' refused its api_key (HTTP 401).",
    ]);
  } finally {
    await up.stop(true);
  }
});
