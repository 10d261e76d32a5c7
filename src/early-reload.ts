// A SIGHUP that comes while the gateway is still loading (the ~100 ms before serve.ts installs its
// reload handler) would get the signal's default action: the process killed. main.ts holds such
// signals from its first line; serve.ts takes them over with its own handler and reloads once
// for them, so a reload sent early is not lost either (the config read at start may predate it).

let held = 0;
const hold = (): void => void held++;

/** From now on a SIGHUP is counted, not fatal. */
export function holdReloads(): void {
  process.on("SIGHUP", hold);
}

/** Stops holding (call it once the real handler is installed) and says how many SIGHUPs came meanwhile. */
export function releaseHeldReloads(): number {
  process.off("SIGHUP", hold);
  const count = held;
  held = 0;
  return count;
}
