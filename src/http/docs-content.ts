// The Swagger page and the OpenAPI document. Loaded by docs.ts on the first request for either,
// never at start-up: @elysiajs/openapi and the document's construction stay off the path to listening.
import { toOpenAPISchema } from "@elysiajs/openapi/openapi";
import { SwaggerUIRender } from "@elysiajs/openapi/swagger";
import type { AnyElysia } from "elysia";
import { VERSION } from "../version.ts";

const info = { title: "chatgate", description: "OpenAI-compatible chat-completions gateway", version: VERSION };

/** Every route needs a key unless its own `security: []` says otherwise (/, /health). */
const documentation = {
  info,
  // Anthropic's routes take the key in `x-api-key` too, as Anthropic's SDKs and Claude Code send it.
  components: { securitySchemes: { bearer: { type: "http" as const, scheme: "bearer" }, apiKey: { type: "apiKey" as const, in: "header" as const, name: "x-api-key" } } },
  security: [{ bearer: [] }],
};

/**
 * The OpenAPI 3.1 document of every route `app` can see that is not `detail.hide`, assembled as
 * @elysiajs/openapi's `openapi()` plugin assembles it (same keys, same order). We call its
 * `toOpenAPISchema` directly rather than mount the plugin: mounting it would load the module at start-up.
 * @elysiajs/openapi, not @elysiajs/swagger: swagger's last release (1.3.1) targets Elysia 1.3, while
 * openapi 1.4 is maintained for Elysia 1.4.
 */
export function openapiDocument(app: AnyElysia) {
  const { paths, components } = toOpenAPISchema(app, undefined, undefined, undefined, "3.1.2");
  return {
    ...documentation,
    openapi: "3.1.2",
    info,
    paths,
    components: { ...documentation.components, schemas: components.schemas },
  };
}

/** Swagger UI's page, loading the document from /docs/json and its assets from /docs/assets (embedded). */
export function swaggerPage(): string {
  return SwaggerUIRender(info, {
    url: "/docs/json",
    dom_id: "#swagger-ui",
    cdn: "/docs/assets/swagger-ui-bundle.js",
    theme: "/docs/assets/swagger-ui.css",
    autoDarkMode: false,
  });
}
