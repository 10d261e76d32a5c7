/** A setting chatgate refuses to start with: `variable` names where it came from (never its value when that is a secret). */
export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = "ConfigError";
  }
}
