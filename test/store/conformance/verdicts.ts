// VerdictStore conformance: one suite, run unchanged on SQLite and PostgreSQL
// (test/store/sqlite.test.ts, test/store/postgres.test.ts).
import { describe, expect, it } from 'vitest';
import type { HandedVerdict } from '../../../src/store/verdict-store.js';
import { T0, useStores, type Backend, type Fixture } from './harness.js';

const FP = 'fp-a';
const v = (n: number, untilMs = T0 + 60_000): HandedVerdict => ({ hash: `hash-${n}`, identity: JSON.stringify({ username: `user${n}` }), untilMs });

export function verdictStoreConformance(backend: Backend): void {
  describe(`${backend.name}: verdicts handed over`, () => {
    let f: Fixture;
    useStores(backend, (x) => (f = x));
    const vs = () => f.stores.verdicts;

    it('nothing saved: nothing loaded', async () => {
      expect(await vs().load('jwt', FP, { now: T0, limit: 100 })).toEqual([]);
    });

    it('loads what was saved under the same fingerprint, in the order given (most recently used first), up to the limit', async () => {
      await vs().save('jwt', FP, [v(3), v(1), v(2)], { now: T0, keep: 100 });
      expect(await vs().load('jwt', FP, { now: T0, limit: 100 })).toEqual([v(3), v(1), v(2)]);
      expect(await vs().load('jwt', FP, { now: T0, limit: 2 })).toEqual([v(3), v(1)]);
      expect(await vs().load('jwt', FP, { now: T0, limit: 0 })).toEqual([]);
    });

    it('never answers a verdict under another fingerprint (changed settings or version)', async () => {
      await vs().save('jwt', FP, [v(1)], { now: T0, keep: 100 });
      expect(await vs().load('jwt', 'fp-b', { now: T0, limit: 100 })).toEqual([]);
    });

    it('never answers a verdict at or past its untilMs, and does not store one already past it', async () => {
      await vs().save('jwt', FP, [v(1, T0 + 1000), v(2, T0 + 5000), v(3, T0)], { now: T0, keep: 100 });
      expect(await vs().load('jwt', FP, { now: T0 + 999, limit: 100 })).toEqual([v(1, T0 + 1000), v(2, T0 + 5000)]);
      expect(await vs().load('jwt', FP, { now: T0 + 1000, limit: 100 })).toEqual([v(2, T0 + 5000)]);
      expect(await vs().load('jwt', FP, { now: T0 + 5000, limit: 100 })).toEqual([]);
      expect(await vs().clear('jwt')).toBe(2);
    });

    it('a later save comes first and replaces a hash saved before; rows of another fingerprint and past their time are dropped', async () => {
      await vs().save('jwt', 'fp-old', [v(9)], { now: T0, keep: 100 });
      await vs().save('jwt', FP, [v(1, T0 + 2000), v(2)], { now: T0, keep: 100 });
      const replaced = { ...v(2), identity: JSON.stringify({ username: 'again' }) };
      await vs().save('jwt', FP, [v(4), replaced], { now: T0 + 3000, keep: 100 });
      expect(await vs().load('jwt', FP, { now: T0 + 3000, limit: 100 })).toEqual([v(4), replaced]);
      expect(await vs().load('jwt', 'fp-old', { now: T0, limit: 100 })).toEqual([]);
      // v(1) expired at T0 + 2000 and fp-old's row went with the second save: two rows are left.
      expect(await vs().clear('jwt')).toBe(2);
    });

    it('keeps the newest `keep` rows (the latest save first, then its order)', async () => {
      await vs().save('jwt', FP, [v(1), v(2), v(3)], { now: T0, keep: 10 });
      await vs().save('jwt', FP, [v(4), v(5)], { now: T0 + 1, keep: 4 });
      expect(await vs().load('jwt', FP, { now: T0 + 1, limit: 100 })).toEqual([v(4), v(5), v(1), v(2)]);
      await vs().save('jwt', FP, [], { now: T0 + 2, keep: 0 });
      expect(await vs().load('jwt', FP, { now: T0 + 2, limit: 100 })).toEqual([]);
    });

    it('stores the identity text exactly, whatever it holds', async () => {
      const odd = { hash: 'h', identity: JSON.stringify({ username: 'ü\u0000"\'; DROP TABLE x', groups: ['a'.repeat(5000)] }), untilMs: T0 + 1 };
      await vs().save('jwt', FP, [odd], { now: T0, keep: 10 });
      expect(await vs().load('jwt', FP, { now: T0, limit: 10 })).toEqual([odd]);
    });
    it('each kind is a store of its own: a save, a keep bound or a clear of one never touches the other', async () => {
      const other = { ...v(1), identity: JSON.stringify({ username: 'opaque' }) };
      await vs().save('introspection', 'fp-i', [other, v(7)], { now: T0, keep: 100 });
      // Another fingerprint, a keep of 1 and the same hash: the introspection rows stay as they were.
      await vs().save('jwt', FP, [v(1), v(2)], { now: T0 + 1, keep: 1 });
      expect(await vs().load('jwt', FP, { now: T0 + 1, limit: 100 })).toEqual([v(1)]);
      expect(await vs().load('introspection', 'fp-i', { now: T0 + 1, limit: 100 })).toEqual([other, v(7)]);
      // A kind's rows are never answered for another kind, even under the same fingerprint.
      expect(await vs().load('introspection', FP, { now: T0 + 1, limit: 100 })).toEqual([]);
      expect(await vs().clear('jwt')).toBe(1);
      expect(await vs().load('introspection', 'fp-i', { now: T0 + 1, limit: 100 })).toEqual([other, v(7)]);
      expect(await vs().clear('introspection')).toBe(2);
    });
  });
}
