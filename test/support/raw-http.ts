// Raw HTTP over TCP, for what fetch will not send: a chosen or missing Host header, HTTP/1.0,
// absolute request targets, pipelined requests in one write.
import { connect } from "node:net";

export interface RawExchange {
  /** Everything the server sent until it closed the connection or `waitMs` passed. */
  text: string;
  /** The status code of the first response, or 0 when nothing came. */
  status: number;
  /** Whether the server closed the connection (rather than the wait running out). */
  closed: boolean;
}

/** Sends `request` as written (use \r\n line ends) to `url`'s host and port in one write. */
export function rawRequest(url: string, request: string, waitMs = 2_000): Promise<RawExchange> {
  const { hostname, port } = new URL(url);
  const { promise, resolve } = Promise.withResolvers<RawExchange>();
  const chunks: Buffer[] = [];
  const socket = connect({ host: hostname, port: Number(port) });
  const finish = (closed: boolean) => {
    clearTimeout(timer);
    socket.destroy();
    const text = Buffer.concat(chunks).toString("latin1");
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
    resolve({ text, status, closed });
  };
  const timer = setTimeout(() => finish(false), waitMs);
  socket.on("connect", () => socket.write(request));
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.on("close", () => finish(true));
  socket.on("error", () => finish(true));
  return promise;
}

/** The body of the first response in a raw exchange (after the blank line), de-chunked if needed. */
export function rawBody(exchange: RawExchange): string {
  const at = exchange.text.indexOf("\r\n\r\n");
  if (at === -1) return "";
  const head = exchange.text.slice(0, at).toLowerCase();
  const rest = exchange.text.slice(at + 4);
  if (!head.includes("transfer-encoding: chunked")) {
    const length = /content-length: *(\d+)/.exec(head)?.[1];
    return length === undefined ? rest : rest.slice(0, Number(length));
  }
  let body = "";
  let pos = 0;
  for (;;) {
    const lineEnd = rest.indexOf("\r\n", pos);
    if (lineEnd === -1) break;
    const size = parseInt(rest.slice(pos, lineEnd), 16);
    if (!size) break;
    body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
    pos = lineEnd + 2 + size + 2;
  }
  return body;
}
