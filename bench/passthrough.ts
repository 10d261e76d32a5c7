// The reference floor: the least a Bun proxy can do for this route. Body buffered in, upstream
// called with fetch, response body streamed straight out. Any gateway's cost is read against this.
const base = process.env.OPENAI_BASE_URL ?? "http://127.0.0.1:8080/v1";
const auth = `Bearer ${process.env.OPENAI_API_KEY ?? ""}`;

const server = Bun.serve({
  hostname: process.env.HOST ?? "127.0.0.1",
  port: Number(process.env.PORT ?? 3000),
  idleTimeout: 120,
  async fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === "/health") return Response.json({ status: "ok" });
    const up = await fetch(base + path.replace(/^\/v1/, ""), {
      method: req.method,
      headers: { "content-type": "application/json", authorization: auth },
      body: req.method === "POST" ? await req.arrayBuffer() : undefined,
      signal: req.signal,
    });
    const type = up.headers.get("content-type") ?? "application/json";
    return new Response(up.body, { status: up.status, headers: { "content-type": type } });
  },
});
console.log(JSON.stringify({ port: server.port }));
