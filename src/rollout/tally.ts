// Bounded counting by name for reports over millions of rows: memory stays flat (at most `cap`
// names are kept; later new names are counted under "(others)").
export const OTHERS = '(others)';

export class Tally<T extends Record<string, number>> {
  private readonly map = new Map<string, T & { firstSeen: number; lastSeen: number }>();
  constructor(
    private readonly zero: () => T,
    private readonly cap = 10_000,
  ) {}

  get size(): number {
    return this.map.size;
  }

  /** The counters of `name` (created at zero), with first and last seen updated to `time`. */
  at(name: string, time: number): T {
    let e = this.map.get(name);
    if (!e) {
      if (this.map.size >= this.cap) name = OTHERS;
      e = this.map.get(name);
      if (!e) this.map.set(name, (e = { ...this.zero(), firstSeen: time, lastSeen: time }));
    }
    if (time < e.firstSeen) e.firstSeen = time;
    if (time > e.lastSeen) e.lastSeen = time;
    return e;
  }

  /** The `n` largest by `score`, as plain rows with ISO times. */
  top(n: number, score: (e: T) => number): Array<{ name: string; firstSeen: string; lastSeen: string } & T> {
    return [...this.map.entries()]
      .sort((a, b) => score(b[1]) - score(a[1]) || (a[0] < b[0] ? -1 : 1))
      .slice(0, n)
      .map(([name, e]) => ({ ...e, name, firstSeen: new Date(e.firstSeen).toISOString(), lastSeen: new Date(e.lastSeen).toISOString() }));
  }
}
