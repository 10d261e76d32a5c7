type Key = string | number;
type Level<T> = Map<Key, Level<T> | T>;

/**
 * One metric's label-bound children (what prom-client's `labels(...)` returns), found again by
 * nested Map lookups on the label values: a request costs a few lookups, never a key string of
 * its own. Bounded because every label value is (see metrics-labels.ts). Values may be numbers (a
 * status) and are turned into strings once, when their child is made.
 */
export class Children<T> {
  private readonly root: Level<T> = new Map();

  /** `make` binds the metric to one set of label values, in its label names' order. */
  constructor(private readonly make: (...values: string[]) => T) {}

  get(...values: Key[]): T {
    let level = this.root;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      let next = level.get(values[i]!) as Level<T> | undefined;
      if (next === undefined) level.set(values[i]!, (next = new Map()));
      level = next;
    }
    let child = level.get(values[last]!) as T | undefined;
    if (child === undefined) level.set(values[last]!, (child = this.make(...values.map(String))));
    return child;
  }
}
