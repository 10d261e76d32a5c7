// CLOCK_MONOTONIC in microseconds, the clock systemd reads MONOTONIC_USEC= on (sd_notify(3)).
// process.hrtime is monotonic too, but not promised to be that clock; libc's clock_gettime is.
import { dlopen, FFIType, ptr } from "bun:ffi";

const CLOCK_MONOTONIC = 1;

const { clock_gettime } = dlopen("libc.so.6", {
  clock_gettime: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
}).symbols;

/** struct timespec on 64-bit Linux: tv_sec then tv_nsec, both 64-bit. */
const timespec = new BigInt64Array(2);

export function monotonicUsec(): bigint {
  if (clock_gettime(CLOCK_MONOTONIC, ptr(timespec)) !== 0) throw new Error("clock_gettime(CLOCK_MONOTONIC) failed");
  return timespec[0]! * 1_000_000n + timespec[1]! / 1_000n;
}
