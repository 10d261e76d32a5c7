// Smoke test of the compiled binary as a user runs it: start on the mock, /health, one JSON and
// one streamed completion. Prints "smoke: N passed, N failed".
import { createParser } from "eventsource-parser";

const binary = process.argv[2] ?? "dist/chatgate";
let passed = 0;
let failed = 0;
function check(name: string, ok: boolean, detail = ""): void {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${ok || !detail ? "" : `: ${detail}`}`);
}

const proc = Bun.spawn([binary, "--mock", "--port", "0"], { stdout: "pipe", stderr: "inherit", env: { PATH: "/usr/bin:/bin" } });
const deadline = setTimeout(() => proc.kill(), 20_000);
try {
  let output = "";
  let url: string | undefined;
  const decoder = new TextDecoder();
  for await (const chunk of proc.stdout) {
    output += decoder.decode(chunk, { stream: true });
    url = /listening on (http:\/\/\S+)/.exec(output)?.[1];
    if (url) break;
  }
  check("binary starts and prints its URL", url !== undefined, output);
  if (url) {
    const health = await fetch(`${url}/health`);
    check("/health answers 200 {status: ok}", health.status === 200 && (await health.json()).status === "ok");

    const body = { model: "mock", messages: [{ role: "user", content: "smoke test" }] };
    const json = await fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const completion = await json.json();
    check("JSON completion", json.status === 200 && completion.choices?.[0]?.message?.content === "smoke test", JSON.stringify(completion));

    const res = await fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...body, stream: true }) });
    const events: string[] = [];
    const parser = createParser({ onEvent: ({ data }) => void events.push(data) });
    for await (const chunk of res.body!) parser.feed(decoder.decode(chunk, { stream: true }));
    const text = events.slice(0, -1).map((e) => JSON.parse(e).choices[0]?.delta?.content ?? "").join("");
    check("streamed completion ends with [DONE]", res.headers.get("content-type")?.startsWith("text/event-stream") === true && events.at(-1) === "[DONE]" && text === "smoke test", events.join(" | "));

    proc.kill("SIGTERM");
    check("SIGTERM exits 0", (await proc.exited) === 0);
  }
} catch (err) {
  check("smoke test ran", false, String(err));
} finally {
  clearTimeout(deadline);
  proc.kill();
}
console.log(`smoke: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
