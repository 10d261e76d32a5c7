/**
 * Why Redis closed a connection during Bun's handshake, when it was the credentials. Bun's
 * RedisClient authenticates inside `connect()` (HELLO 3 AUTH …) and, when the server answers
 * WRONGPASS or NOAUTH, reports only "Connection closed" (ERR_REDIS_CONNECTION_CLOSED, Bun 1.4):
 * the server's answer is lost, and "not answering" would send an operator after the network.
 * So, once per outage, we ask the server ourselves over a plain socket and read its first reply.
 */

/** What Redis says when it refuses credentials (or their absence); none of its replies quotes the password. */
const AUTH_REFUSAL = /^(WRONGPASS|NOAUTH|ERR AUTH|ERR invalid password|ERR invalid username-password)/;

/** RESP array of bulk strings, so a password with spaces or CRLF is sent as one argument. */
function command(args: string[]): string {
  return `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("");
}

/** The handshake's first command as Bun's would authenticate: AUTH with the URL's credentials, else PING (a server that requires a password answers NOAUTH). */
function probeCommand(url: URL): string {
  const password = decodeURIComponent(url.password);
  const user = decodeURIComponent(url.username);
  if (password === "") return command(["PING"]);
  return command(user === "" ? ["AUTH", password] : ["AUTH", user, password]);
}

/**
 * The server's refusal line (e.g. "WRONGPASS invalid username-password pair or user is disabled.")
 * when it refuses the URL's credentials, else undefined (it accepted them, answered something
 * else, or did not answer within `timeoutMs`). Never throws.
 */
export async function credentialsRefusal(redisUrl: string, timeoutMs: number): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(redisUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== "redis:") return undefined; // rediss:// needs TLS; the probe stays plain
  const reply = Promise.withResolvers<string | undefined>();
  let seen = "";
  const timer = setTimeout(() => reply.resolve(undefined), timeoutMs);
  try {
    const socket = await Bun.connect({
      hostname: url.hostname.replace(/^\[|\]$/g, ""),
      port: Number(url.port || 6379),
      socket: {
        data(_s, chunk) {
          seen += chunk.toString();
          const end = seen.indexOf("\r\n");
          if (end !== -1) reply.resolve(seen.slice(0, end));
        },
        close: () => reply.resolve(undefined),
        error: () => reply.resolve(undefined),
      },
    });
    socket.write(probeCommand(url));
    const line = await reply.promise;
    socket.end();
    if (line === undefined || !line.startsWith("-")) return undefined;
    const message = line.slice(1);
    return AUTH_REFUSAL.test(message) ? message : undefined;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
