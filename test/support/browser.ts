// A real headless browser for the tests that only a browser can judge (CORS): Debian's chromium
// driven by playwright-core, and small page servers on their own ports (their own origins).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";

/** Where chromium is: on PATH, else where Debian's package puts it. */
export const CHROMIUM_PATH = Bun.which("chromium") ?? "/usr/bin/chromium";

export const haveChromium = (): boolean => existsSync(CHROMIUM_PATH);

/** Headless chromium; as root it cannot start its sandbox, so it runs without (only our own pages load). */
export function launchChromium(): Promise<Browser> {
  const args = process.getuid?.() === 0 ? ["--no-sandbox"] : [];
  return chromium.launch({ executablePath: CHROMIUM_PATH, args });
}

/** test/support/cors-page.ts with the `openai` package in it, bundled for the browser as an app would be. */
export async function bundlePageScript(): Promise<string> {
  const built = await Bun.build({ entrypoints: [join(import.meta.dir, "cors-page.ts")], target: "browser", format: "esm" });
  if (!built.success) throw new AggregateError(built.logs, "bundling the page script failed");
  return built.outputs[0]!.text();
}

export interface PageServer {
  /** `http://127.0.0.1:<port>`: this server's origin, the page's. */
  origin: string;
  stop(): Promise<void>;
}

/** Serves an empty page that loads `script` as a module, on a port (an origin) of its own. */
export function servePage(script: string): PageServer {
  const html = `<!doctype html><meta charset="utf-8"><title>chatgate page</title><script type="module" src="/page.js"></script>`;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const path = new URL(request.url).pathname;
      if (path === "/") return new Response(html, { headers: { "content-type": "text/html; charset=utf-8" } });
      if (path === "/page.js") return new Response(script, { headers: { "content-type": "text/javascript; charset=utf-8" } });
      return new Response("not found", { status: 404 });
    },
  });
  return { origin: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}
