// Fixed windows in memory (rateLimit.store "memory", algorithm "window"): a small record per key,
// expired lazily, at most MAX_WINDOW_KEYS keys. rate-limiter-flexible's RateLimiterMemory keeps a
// record, a Date and a timer per key (measured: 470 bytes of heap per key, 45 MB for 100,000 users
// active in one window) and makes all three anew at every new window, which under a wide spread of
// users is old-generation garbage; here a key costs about 100 bytes and a new window reuses its record.
// Answers as RateLimiterMemory does (the same RateLimiterRes), but at once instead of with a promise:
// over the limit when the answer's consumedPoints exceed `points` (RateLimiterMemory rejects then).
import { RateLimiterRes } from 'rate-limiter-flexible';

/** In-memory fixed-window counters kept at most (per points/duration pair); the same bound as MemoryBuckets'. */
export const MAX_WINDOW_KEYS = 100_000;
/** Expired windows are swept when the map has grown to this size (then twice the live size), so idle keys leave. */
const FIRST_SWEEP = 1024;

interface Window {
  used: number;
  resetAt: number;
}

export class MemoryWindows {
  private readonly windows = new Map<string, Window>();
  private sweepAt = FIRST_SWEEP;

  constructor(
    readonly points: number,
    private readonly durationMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = MAX_WINDOW_KEYS,
  ) {}

  /** Takes `take` points from the key's window; over the limit when the answer's consumedPoints exceed `points`. */
  consumeNow(key: string, take = 1): RateLimiterRes {
    const now = this.now();
    let w = this.windows.get(key);
    if (!w) {
      if (this.windows.size >= this.sweepAt) this.sweep(now);
      this.windows.set(key, (w = { used: 0, resetAt: now + this.durationMs }));
    } else if (w.resetAt <= now) {
      w.used = 0;
      w.resetAt = now + this.durationMs;
    }
    w.used += take;
    return new RateLimiterRes(Math.max(0, this.points - w.used), w.resetAt - now, w.used, w.used === take);
  }

  /** The window as it stands (nothing consumed); null when the key has none running. */
  getNow(key: string): RateLimiterRes | null {
    const now = this.now();
    const w = this.windows.get(key);
    if (!w || w.resetAt <= now) return null;
    return new RateLimiterRes(Math.max(0, this.points - w.used), w.resetAt - now, w.used, false);
  }

  get size(): number {
    return this.windows.size;
  }

  /**
   * Expired windows go (they carry no state); at the bound, the oldest half of the keys goes too:
   * those keys start a new window early (more lenient, never stricter), as MemoryBuckets does.
   */
  private sweep(now: number): void {
    for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
    if (this.windows.size >= this.maxKeys) {
      let n = this.windows.size / 2;
      for (const k of this.windows.keys()) {
        if (n-- <= 0) break;
        this.windows.delete(k);
      }
    }
    this.sweepAt = Math.min(this.maxKeys, Math.max(FIRST_SWEEP, this.windows.size * 2));
  }
}
