// chatgate's output during the bench: stdout and stderr into one file under bench/results/, as
// under systemd (journald takes both), so every per-request log line is really written and its
// cost is in chatgate's CPU figures. /dev/null would make logging free; a pipe the bench reads
// would put the reading on the load generator's core.
import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync } from "node:fs";
import { dirname } from "node:path";

const CHUNK = 1 << 20;
const NEWLINE = 0x0a;

export class TargetLog {
  /** Opened for appending: every child writes at the end, even after `rotate` empties the file. */
  readonly fd: number;
  /** Lines and bytes counted by `rotate` so far. */
  private counted = { lines: 0, bytes: 0 };

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, "a+");
    ftruncateSync(this.fd, 0);
  }

  /**
   * Counts what was written since the last call and empties the file, so a full run (millions of
   * request lines) never fills the disk; the file keeps what came after the last call. Called
   * between runs, while no load is running, so no line is lost between counting and emptying
   * (the soak, which cannot pause, may miss a few lines from its count).
   */
  rotate(): void {
    const now = this.countFile();
    this.counted.lines += now.lines;
    this.counted.bytes += now.bytes;
    ftruncateSync(this.fd, 0);
  }

  /** Every line written so far: those counted at each `rotate`, plus what the file holds now. */
  totals(): { lines: number; bytes: number } {
    const now = this.countFile();
    return { lines: this.counted.lines + now.lines, bytes: this.counted.bytes + now.bytes };
  }

  /** The file's last `bytes` bytes, for error messages. */
  tail(bytes = 4000): string {
    const size = fstatSync(this.fd).size;
    const buf = Buffer.alloc(Math.min(bytes, size));
    readSync(this.fd, buf, 0, buf.length, size - buf.length);
    return buf.toString("utf8");
  }

  close(): void {
    closeSync(this.fd);
  }

  private countFile(): { lines: number; bytes: number } {
    const size = fstatSync(this.fd).size;
    const buf = Buffer.alloc(CHUNK);
    let lines = 0;
    for (let at = 0; at < size; ) {
      const n = readSync(this.fd, buf, 0, Math.min(CHUNK, size - at), at);
      if (n <= 0) break;
      for (let i = buf.indexOf(NEWLINE); i !== -1 && i < n; i = buf.indexOf(NEWLINE, i + 1)) lines++;
      at += n;
    }
    return { lines, bytes: size };
  }
}
