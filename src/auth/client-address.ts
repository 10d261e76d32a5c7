/** node:net loads Node's streams (~10 ms of start-up), and only a trusted-proxy set-up needs it. */
let netIsIP: ((input: string) => number) | undefined;
const isIP = (input: string) => (netIsIP ??= (require("node:net") as typeof import("node:net")).isIP)(input);

/** The longest textual IP address (an IPv4-mapped IPv6 address written out in full). */
const MAX_IP_LENGTH = 45;

/**
 * The address a client is counted under (rate limits, failed key attempts): the TCP peer, or with a
 * trusted proxy the last `X-Forwarded-For` hop — the one our proxy appended, which a client cannot
 * forge. That hop is used only when it is an IP address: anything else (a header the proxy passed
 * on unchanged, or junk of any length) falls back to the peer, so a client can neither buy a fresh
 * budget per made-up value nor make us keep an 8 KB string per client. Only the last hop is sliced
 * out; the header is never split.
 */
export function clientAddress(forwarded: string | null, peer: string): string {
  if (forwarded === null) return peer;
  let end = forwarded.length;
  while (end > 0 && isBlank(forwarded.charCodeAt(end - 1))) end--;
  let start = forwarded.lastIndexOf(",", end - 1) + 1;
  while (start < end && isBlank(forwarded.charCodeAt(start))) start++;
  if (end - start === 0 || end - start > MAX_IP_LENGTH) return peer;
  const last = forwarded.slice(start, end);
  return isIP(last) === 0 ? peer : copied(last);
}

/**
 * A string of its own: a slice of 20-odd characters or more shares the header's storage, so an
 * IPv6 hop kept as a key (a failure table's, a limiter's) kept its whole 8 KB header alive with it.
 */
const copied = (text: string): string => Buffer.from(text, "latin1").toString("latin1");

const isBlank = (code: number) => code === 32 || code === 9;
