// How the token-counting process is started: this executable again, told by COUNT_ARG to count.
/** The argument that makes main.ts count tokens over IPC instead of starting the gateway. */
export const COUNT_ARG = "__count-tokens";

/** Whether this process is the compiled executable: its entry is embedded, not a file. */
export function compiledEntry(script: string = process.argv[1] ?? ""): boolean {
  return script.startsWith("/$bunfs/") || script.includes("~BUN");
}

/** The compiled binary runs itself; from source, Bun runs main.ts. */
export function countCommand(): string[] {
  return compiledEntry() ? [process.execPath, COUNT_ARG] : [process.execPath, Bun.fileURLToPath(new URL("../main.ts", import.meta.url)), COUNT_ARG];
}
