// The reference floor: the least a Bun proxy can do for this route. Body buffered in, upstream
// called with fetch, response body streamed straight out. Any gateway's cost is read against this.
// OpenAI's routes go to OPENAI_BASE_URL with a bearer key; Anthropic's /v1/messages goes to
// ANTHROPIC_BASE_URL with x-api-key and the client's anthropic-version, its bytes relayed as they are.
const base = process.env.OPENAI_BASE_URL ?? "http://127.0.0.1:8080/v1";
const auth = `Bearer ${process.env.OPENAI_API_KEY ?? ""}`;
const anthropicBase = process.env.ANTHROPIC_BASE_URL ?? "http://127.0.0.1:8080";
const anthropicKey = process.env.ANTHROPIC_API_KEY ?? "";

const server = Bun.serve({
  hostname: process.env.HOST ?? "127.0.0.1",
  port: Number(process.env.PORT ?? 3000),
  idleTimeout: 120,
  async fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === "/health") return Response.json({ status: "ok" });
    const anthropic = path === "/v1/messages";
    const up = await fetch(anthropic ? anthropicBase + path : base + path.replace(/^\/v1/, ""), {
      method: req.method,
      headers: anthropic
        ? { "content-type": "application/json", "x-api-key": anthropicKey, "anthropic-version": req.headers.get("anthropic-version") ?? "2023-06-01" }
        : { "content-type": "application/json", authorization: auth },
      body: req.method === "POST" ? await req.arrayBuffer() : undefined,
      signal: req.signal,
    });
    const type = up.headers.get("content-type") ?? "application/json";
    return new Response(up.body, { status: up.status, headers: { "content-type": type } });
  },
});
console.log(JSON.stringify({ port: server.port }));
