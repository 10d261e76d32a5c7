import { isNoScript, type RedisConnection } from "./redis-connection.ts";

/**
 * A Lua script run by its digest (EVALSHA): one round trip that sends only the digest. Redis runs a
 * script atomically, which is what makes check-and-reserve exact across instances. When Redis has
 * lost its script cache (a restart), the script is sent once with EVAL, which caches it again.
 */
export class RedisScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    // Bun's hasher, not node:crypto: loading that module (and the streams it pulls in) costs start-up time.
    this.sha = new Bun.CryptoHasher("sha1").update(source).digest("hex");
  }

  async run(redis: RedisConnection, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const rest = [String(keys.length), ...keys, ...args];
    try {
      return await redis.send("EVALSHA", [this.sha, ...rest]);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return redis.send("EVAL", [this.source, ...rest]);
    }
  }
}
