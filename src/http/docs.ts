import { Elysia } from "elysia";
import bundle from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
import css from "swagger-ui-dist/swagger-ui.css" with { type: "file" };

/**
 * Swagger UI at /docs, the OpenAPI document at /docs/json. The UI's assets are embedded in the
 * binary and served from here: the page works with no internet access and loads nothing from a CDN.
 *
 * The page and the document are built on the first request for them, not at start-up: their code
 * (@elysiajs/openapi, see docs-content.ts) is a chunk of its own that only that request loads. The
 * document is built once, from every route the app has by then (all are mounted before it listens).
 */
export function docs() {
  const asset = (path: string, type: string) => () =>
    new Response(Bun.file(path), { headers: { "content-type": type, "cache-control": "public, max-age=86400" } });
  const plugin = new Elysia({ name: "docs" });
  let page: Promise<string> | undefined;
  let document: Promise<object> | undefined;
  // Our own page rather than the plugin's: the plugin's is a static Response, which Elysia serves
  // only from its fallback router (see `unrouted` in on-error.ts), and it loads the document by a
  // relative URL, which broke under /docs/. This one names /docs/json from the root.
  const html = async () => new Response(await (page ??= import("./docs-content.ts").then((m) => m.swaggerPage())), { headers: { "content-type": "text/html; charset=utf-8" } });
  // The plugin instance sees the whole app's routes (Elysia hands a plugin its parent's route list).
  const json = () => (document ??= import("./docs-content.ts").then((m) => m.openapiDocument(plugin)));
  return plugin
    .get("/docs/json", json, { detail: { hide: true } })
    .get("/docs", html, { detail: { hide: true } })
    .get("/docs/assets/swagger-ui-bundle.js", asset(bundle, "text/javascript; charset=utf-8"), { detail: { hide: true } })
    .get("/docs/assets/swagger-ui.css", asset(css, "text/css; charset=utf-8"), { detail: { hide: true } });
}
