const decoder = new TextDecoder();

/** Bytes of an upstream error body read to classify it; the rest is never read. */
export const ERROR_BODY_CAP = 64 * 1024;

/** Bytes of an upstream `/models` body (OpenRouter's list, the longest known, is well under 1 MiB). */
export const MODELS_BODY_CAP = 8 * 1024 * 1024;

/**
 * An upstream body as text, read to at most `cap` bytes; `undefined` when it is larger, without
 * reading the rest (the body is cancelled, which releases the connection). A declared
 * Content-Length over the cap is refused before a byte is read. A body the server sends
 * uncompressed with a Content-Length within the cap cannot outgrow it (fetch stops at that length),
 * so it is read by `res.text()`, the cheapest read there is; any other body — chunked, or
 * compressed, whose declared length is not the length it decodes to — is counted as it arrives.
 */
export async function readCapped(res: Response, cap: number): Promise<string | undefined> {
  const declared = res.headers.get("content-length");
  if (declared !== null) {
    const length = Number(declared);
    if (length > cap) {
      await res.body?.cancel().catch(() => {});
      return undefined;
    }
    if (Number.isInteger(length) && !res.headers.has("content-encoding")) return res.text();
  }
  if (res.body === null) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > cap) {
      reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return decoder.decode(chunks[0]);
  return decoder.decode(Buffer.concat(chunks, total));
}
