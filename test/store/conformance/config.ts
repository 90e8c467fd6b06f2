// ConfigStore conformance: one suite, run unchanged on SQLite and PostgreSQL.
import { describe, expect, it } from 'vitest';
import { T0, useStores, withFreshStores, type Backend, type Fixture } from './harness.js';

export function configStoreConformance(backend: Backend): void {
  // Scoped: the fresh stores of useStores are opened only for this concern's tests.
  describe(`${backend.name}: config`, () => {
    let f: Fixture;
    useStores(backend, (x) => (f = x));
    const doc = (n: number) => ({ changes: [{ path: ['access', 'readOnlyGroups'], after: [`g${n}`] }, { path: ['bypass', 0] }], savedAt: T0 + n, savedBy: `admin${n}` });

    describe(`${backend.name}: ConfigStore`, () => {
      it('is empty at first: nothing loaded, version 0, nothing to clear', async () => {
        expect(await f.stores.config.load()).toBeUndefined();
        expect(await f.stores.config.version()).toBe(0);
        expect(await f.stores.config.clear(T0)).toBe(false);
        expect(await f.stores.config.version()).toBe(0);
      });

      it('round-trips the document exactly (a removed value stays absent) and numbers every save', async () => {
        expect(await f.stores.config.save(doc(1))).toBe(1);
        expect(await f.stores.config.load()).toEqual({ ...doc(1), version: 1 });
        expect((await f.stores.config.load())?.changes[1]).not.toHaveProperty('after');
        expect(await f.stores.config.save(doc(2))).toBe(2);
        expect(await f.stores.config.load()).toEqual({ ...doc(2), version: 2 });
        expect(await f.stores.config.version()).toBe(2);
      });

      it('a clear removes the document and still moves the version on (no ABA for a replica that polls)', async () => {
        await f.stores.config.save(doc(1));
        expect(await f.stores.config.clear(T0 + 5)).toBe(true);
        expect(await f.stores.config.load()).toBeUndefined();
        expect(await f.stores.config.version()).toBe(2);
        expect(await f.stores.config.save(doc(3))).toBe(3);
      });

      it('concurrent saves each get their own version', async () => {
        const versions = await Promise.all(Array.from({ length: 10 }, (_, i) => f.stores.config.save(doc(i))));
        expect([...versions].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        expect(await f.stores.config.version()).toBe(10);
      });

      it('dump and restore carry the saved changes and the version; a cleared store carries its version alone', async () => {
        expect(await f.stores.config.dump()).toEqual({ version: 0 });
        await f.stores.config.save(doc(1));
        await f.stores.config.save(doc(2));
        const saved = await f.stores.config.dump();
        expect(saved).toEqual({ version: 2, saved: doc(2) });
        expect(saved.saved?.changes[1]).not.toHaveProperty('after');
        await withFreshStores(backend, async (copy) => {
          await copy.config.restore(saved);
          expect(await copy.config.load()).toEqual({ ...doc(2), version: 2 });
          expect(await copy.config.save(doc(3))).toBe(3);
          await f.stores.config.clear(T0 + 9);
          const cleared = await f.stores.config.dump();
          expect(cleared).toEqual({ version: 3 });
          await copy.config.restore(cleared);
          expect(await copy.config.load()).toBeUndefined();
          expect(await copy.config.version()).toBe(3);
          await copy.config.restore({ version: 0 });
          expect(await copy.config.dump()).toEqual({ version: 0 });
          expect(await copy.config.save(doc(4))).toBe(1);
        });
      });
    });
  });
}
