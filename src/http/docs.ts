import { openapi } from "@elysiajs/openapi";
import { SwaggerUIRender } from "@elysiajs/openapi/swagger";
import { Elysia } from "elysia";
import bundle from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
import css from "swagger-ui-dist/swagger-ui.css" with { type: "file" };
import { VERSION } from "../version.ts";

/**
 * Swagger UI at /docs, the OpenAPI document at /docs/json. The UI's assets are embedded in the
 * binary and served from here: the page works with no internet access and loads nothing from a CDN.
 * @elysiajs/openapi, not @elysiajs/swagger: swagger's last release (1.3.1) targets Elysia 1.3, while
 * openapi 1.4 is maintained for Elysia 1.4 and lets the page's `cdn` and `theme` URLs point here.
 */
export function docs() {
  const asset = (path: string, type: string) => () =>
    new Response(Bun.file(path), { headers: { "content-type": type, "cache-control": "public, max-age=86400" } });
  const info = { title: "chatgate", version: VERSION, description: "OpenAI-compatible chat-completions gateway" };
  // Our own page rather than the plugin's: the plugin's is a static Response, which Elysia serves
  // only from its fallback router (see `unrouted` in on-error.ts), and it loads the document by a
  // relative URL, which broke under /docs/. This one names /docs/json from the root.
  const page = SwaggerUIRender(info, {
    url: "/docs/json",
    dom_id: "#swagger-ui",
    cdn: "/docs/assets/swagger-ui-bundle.js",
    theme: "/docs/assets/swagger-ui.css",
    autoDarkMode: false,
  });
  return new Elysia({ name: "docs" })
    .use(
      openapi({
        path: "/docs",
        specPath: "/docs/json",
        provider: null,
        documentation: {
          info,
          components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
          // Every route needs a key unless its own `security: []` says otherwise (/, /health).
          security: [{ bearer: [] }],
        },
      }),
    )
    .get("/docs", () => new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } }), { detail: { hide: true } })
    .get("/docs/assets/swagger-ui-bundle.js", asset(bundle, "text/javascript; charset=utf-8"), { detail: { hide: true } })
    .get("/docs/assets/swagger-ui.css", asset(css, "text/css; charset=utf-8"), { detail: { hide: true } });
}
