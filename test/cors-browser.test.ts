import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { mockAnswer } from "../src/providers/mock.ts";
import { bundlePageScript, CHROMIUM_PATH, haveChromium, launchChromium, servePage, type PageServer } from "./support/browser.ts";
import { spawnBinary } from "./support/binary.ts";
import type { PageApi, PageResult } from "./support/cors-page.ts";
import type { GatewayProcess } from "./support/process.ts";

// CORS as a browser judges it: the compiled binary with CHATGATE_CORS_ORIGINS set to one page
// server's origin; a page there streams a completion with fetch and with the official SDK, bundled
// for the browser; a page on another origin is refused by the browser itself.

const KEY = "sk-browser-page";
const PROMPT = "streamed across origins, word by word";
const EXPECTED = mockAnswer({ model: "mock", messages: [{ role: "user", content: PROMPT }] }).pieces.join("");

if (!haveChromium()) {
  if (process.env.CI === "true") {
    test("chromium is installed for the CORS browser tests", () => {
      throw new Error(`no chromium at ${CHROMIUM_PATH}: CI must install it (apt-get install -y chromium) before npm test`);
    });
  } else {
    console.warn(`cors-browser.test.ts: skipped: no chromium at ${CHROMIUM_PATH} (apt-get install -y chromium to run it)`);
  }
}

describe.skipIf(!haveChromium())("a browser page", () => {
  let gateway: GatewayProcess;
  let allowed: PageServer;
  let other: PageServer;
  let browser: Browser;

  beforeAll(async () => {
    const [script, launched] = await Promise.all([bundlePageScript(), launchChromium()]);
    browser = launched;
    allowed = servePage(script);
    other = servePage(script);
    gateway = await spawnBinary({ CHATGATE_API_KEYS: KEY, CHATGATE_CORS_ORIGINS: allowed.origin }, ["--mock"]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([browser?.close(), gateway?.stop(), allowed?.stop(), other?.stop()]);
  });

  /** A fresh page on `origin` with its script loaded, and what its console said. */
  async function openPage(origin: string): Promise<{ page: Page; logged: string[] }> {
    const page = await browser.newPage();
    const logged: string[] = [];
    page.on("console", (message) => logged.push(message.text()));
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => "chatgate" in globalThis);
    return { page, logged };
  }

  const call = (page: Page, how: keyof PageApi, key = KEY): Promise<PageResult> =>
    page.evaluate(
      ({ how, base, key, prompt }) => (globalThis as unknown as { chatgate: PageApi }).chatgate[how](base, key, prompt),
      { how, base: gateway.url, key, prompt: PROMPT },
    );

  test("on the allowed origin streams a completion with fetch, reading the body as it arrives", async () => {
    const { page } = await openPage(allowed.origin);
    const result = await call(page, "streamWithFetch");
    expect(result).toMatchObject({ answered: true, status: 200, text: EXPECTED });
    if (!result.answered) return;
    expect(result.reads).toBeGreaterThan(0);
    expect(result.headers["content-type"]).toStartWith("text/event-stream");
    // Not CORS-safelisted: the page reads them only because the gateway exposes them.
    expect(result.headers["x-chatgate-provider"]).toBe("mock");
    expect(result.headers["x-request-id"]).toBeTruthy();
    expect(result.headers["x-ratelimit-remaining"]).toMatch(/^\d+$/);
    await page.close();
  });

  test("on the allowed origin streams a completion with the official openai SDK", async () => {
    const { page } = await openPage(allowed.origin);
    const result = await call(page, "streamWithSdk");
    expect(result).toMatchObject({ answered: true, status: 200, text: EXPECTED });
    if (result.answered) expect(result.headers["x-chatgate-model"]).toBe("mock");
    await page.close();
  });

  test("on the allowed origin reads a 401 for a bad key, with fetch and with the SDK", async () => {
    const { page } = await openPage(allowed.origin);
    const viaFetch = await call(page, "streamWithFetch", "sk-wrong");
    expect(viaFetch).toMatchObject({ answered: true, status: 401 });
    if (viaFetch.answered) expect(JSON.parse(viaFetch.text).error.code).toBe("invalid_api_key");
    // An opaque CORS failure would be an APIConnectionError without a status.
    expect(await call(page, "streamWithSdk", "sk-wrong")).toMatchObject({ answered: false, status: 401, authError: true });
    await page.close();
  });

  test("on another origin is refused by the browser: fetch rejects with a TypeError", async () => {
    const { page, logged } = await openPage(other.origin);
    const result = await call(page, "streamWithFetch");
    expect(result).toMatchObject({ answered: false, errorName: "TypeError" });
    expect(logged.join("\n")).toContain("CORS policy");
    await page.close();
  });
});
