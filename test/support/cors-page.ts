// Runs in the browser, not in Bun: the page script of cors-browser.test.ts, bundled at test time
// with the official `openai` package (Bun.build, target "browser"). It puts `chatgate` on the page's
// global object; the test calls it through Playwright and gets plain data back.
import OpenAI from "openai";

/** What the page learned from one call: the answer its JavaScript could read (any status), or how the call failed. */
export type PageResult =
  | { answered: true; status: number; text: string; reads: number; headers: Record<string, string | null> }
  | { answered: false; status?: number; errorName: string; message: string; authError?: boolean };

/** Response headers a page can read only if the gateway exposes them. */
const EXPOSED = ["x-request-id", "x-chatgate-provider", "x-chatgate-model", "x-ratelimit-limit", "x-ratelimit-remaining", "content-type"];

const readHeaders = (headers: Headers) => Object.fromEntries(EXPOSED.map((name) => [name, headers.get(name)]));

const request = (prompt: string) => ({ model: "mock", stream: true as const, messages: [{ role: "user" as const, content: prompt }] });

const failed = (err: unknown): PageResult => {
  const error = err instanceof Error ? err : new Error(String(err));
  const status = err instanceof OpenAI.APIError ? err.status : undefined;
  return { answered: false, status, errorName: error.name, message: error.message, authError: err instanceof OpenAI.AuthenticationError };
};

/** `fetch` with the response body read chunk by chunk as it arrives, the SSE events parsed by hand. */
async function streamWithFetch(base: string, key: string, prompt: string): Promise<PageResult> {
  try {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(request(prompt)),
    });
    if (!res.ok) return { answered: true, status: res.status, text: await res.text(), reads: 1, headers: readHeaders(res.headers) };
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffered = "";
    let text = "";
    let reads = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      reads++;
      buffered += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffered.indexOf("\n\n")) !== -1) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = event.startsWith("data: ") ? event.slice(6) : "";
        if (data === "" || data === "[DONE]") continue;
        text += JSON.parse(data).choices[0]?.delta?.content ?? "";
      }
    }
    return { answered: true, status: res.status, text, reads, headers: readHeaders(res.headers) };
  } catch (err) {
    return failed(err);
  }
}

/** The official SDK, as a browser app would use it. */
async function streamWithSdk(base: string, key: string, prompt: string): Promise<PageResult> {
  try {
    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, dangerouslyAllowBrowser: true, maxRetries: 0, timeout: 10_000 });
    const { data: stream, response } = await client.chat.completions.create(request(prompt)).withResponse();
    let text = "";
    let reads = 0;
    for await (const chunk of stream) {
      reads++;
      text += chunk.choices[0]?.delta?.content ?? "";
    }
    return { answered: true, status: response.status, text, reads, headers: readHeaders(response.headers) };
  } catch (err) {
    return failed(err);
  }
}

export interface PageApi {
  streamWithFetch: typeof streamWithFetch;
  streamWithSdk: typeof streamWithSdk;
}

const api: PageApi = { streamWithFetch, streamWithSdk };
Object.assign(globalThis, { chatgate: api });
