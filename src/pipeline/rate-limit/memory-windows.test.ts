import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { describe, expect, it } from 'vitest';
import { MemoryWindows } from './memory-windows.js';

const settle = <T>(p: Promise<T>) => p.then((r) => ({ ok: true, r }), (r: unknown) => ({ ok: false, r }));
/** Our answer as RateLimiterMemory's promise would settle: rejected when over the limit. */
const settled = (w: MemoryWindows, r: RateLimiterRes) => ({ ok: r.consumedPoints <= w.points, r });
const shape = (x: { ok: boolean; r: unknown }) => {
  const r = x.r as RateLimiterRes;
  return { ok: x.ok, res: r instanceof RateLimiterRes, remaining: r.remainingPoints, consumed: r.consumedPoints, first: r.isFirstInDuration };
};

describe('MemoryWindows (rateLimit.store memory, window algorithm)', () => {
  it('answers as RateLimiterMemory does: points per window, costs, refusals as RateLimiterRes', async () => {
    const ours = new MemoryWindows(5, 60_000);
    const theirs = new RateLimiterMemory({ points: 5, duration: 60 });
    for (const [key, cost] of [['a', 1], ['a', 2], ['b', 1], ['a', 2], ['a', 1], ['b', 4], ['b', 1], ['a', 1]] as const) {
      const [o, t] = [settled(ours, ours.consumeNow(key, cost)), await settle(theirs.consume(key, cost))];
      expect(shape(o), `${key} ${cost}`).toEqual(shape(t));
      expect(Math.abs((o.r as RateLimiterRes).msBeforeNext - (t.r as RateLimiterRes).msBeforeNext)).toBeLessThan(1000);
    }
    const [og, tg] = [ours.getNow('a'), await theirs.get('a')];
    expect({ consumed: og!.consumedPoints, remaining: og!.remainingPoints }).toEqual({ consumed: tg!.consumedPoints, remaining: tg!.remainingPoints });
    expect(ours.getNow('nobody')).toBeNull();
    expect(await theirs.get('nobody')).toBeNull();
  });

  it('starts a new window when the old one has run out', async () => {
    let now = 1_000_000;
    const w = new MemoryWindows(2, 10_000, () => now);
    expect(settled(w, w.consumeNow('u')).ok).toBe(true);
    expect(settled(w, w.consumeNow('u')).ok).toBe(true);
    const over = w.consumeNow('u');
    expect(over).toBeInstanceOf(RateLimiterRes);
    expect({ ok: settled(w, over).ok, consumed: over.consumedPoints, remaining: over.remainingPoints }).toEqual({ ok: false, consumed: 3, remaining: 0 });
    expect(w.getNow('u')!.msBeforeNext).toBe(10_000);
    now += 10_000;
    expect(w.getNow('u')).toBeNull();
    const r = w.consumeNow('u');
    expect({ remaining: r.remainingPoints, first: r.isFirstInDuration, ms: r.msBeforeNext }).toEqual({ remaining: 1, first: true, ms: 10_000 });
  });

  it('stays bounded: expired keys are swept as it grows, and at the bound the oldest half goes', async () => {
    let now = 0;
    const w = new MemoryWindows(10, 1000, () => now, 5000);
    for (let i = 0; i < 50_000; i++) {
      if (i % 1000 === 0) now += 500; // 2,000 keys live in any window
      w.consumeNow(`user${i}`);
    }
    expect(w.size).toBeLessThanOrEqual(5000);
    // All alive at once: the bound holds, and the newest keys keep their counts.
    now += 10_000;
    for (let i = 0; i < 20_000; i++) w.consumeNow(`burst${i}`);
    expect(w.size).toBeLessThanOrEqual(5000);
    expect(w.getNow('burst19999')!.consumedPoints).toBe(1);
  });
});
