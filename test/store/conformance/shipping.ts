// ShippingCursorStore conformance: one suite, run unchanged on SQLite and PostgreSQL
// (test/store/sqlite.test.ts, test/store/postgres.test.ts). Cases with two replicas need
// Backend.reopen: SQLite is one process per file (its cursors belong to the file's one replica),
// so they skip there, and the one-replica case runs there only.
import { describe, expect, it } from 'vitest';
import type { ChainId } from '../../../src/store/audit-store.js';
import type { Stores } from '../../../src/store/stores.js';
import { T0, useStores, type Backend, type Fixture } from './harness.js';

export function shippingStoreConformance(backend: Backend): void {
  describe(`${backend.name}: audit shipping cursors`, () => {
    let f: Fixture;
    useStores(backend, (x) => (f = x));
    const sh = () => f.stores.shipping;
    const own = (kind: ChainId['kind'] = 'request'): ChainId => ({ kind, replica: f.stores.audit.replica });
    const replica = (name?: string): Promise<Stores> => backend.reopen!(f.stores, name);
    const oneReplica = !backend.reopen;

    it('a destination has no cursor until it advances: 0, and none listed', async () => {
      expect(await sh().cursor('syslog', own())).toBe(0);
      expect(await sh().cursors('syslog')).toEqual([]);
    });

    it('advance stores the last id per destination and per chain; cursors lists them, request chain first', async () => {
      expect(await sh().advance('syslog', own(), 500, T0)).toBe(true);
      expect(await sh().advance('syslog', own('admin'), 7, T0 + 1)).toBe(true);
      expect(await sh().advance('http', own(), 20, T0 + 2)).toBe(true);
      expect(await sh().cursor('syslog', own())).toBe(500);
      expect(await sh().cursor('syslog', own('admin'))).toBe(7);
      expect(await sh().cursor('http', own())).toBe(20);
      expect(await sh().cursor('http', own('admin'))).toBe(0);
      expect(await sh().cursors('syslog')).toEqual([
        { destination: 'syslog', chain: own(), lastId: 500, updatedAt: T0 },
        { destination: 'syslog', chain: own('admin'), lastId: 7, updatedAt: T0 + 1 },
      ]);
      expect(await sh().cursors('http')).toEqual([{ destination: 'http', chain: own(), lastId: 20, updatedAt: T0 + 2 }]);
      expect(await sh().cursors('elsewhere')).toEqual([]);
    });

    it('never moves a cursor back: an id at or below the stored one changes nothing (false)', async () => {
      expect(await sh().advance('http', own(), 100, T0)).toBe(true);
      expect(await sh().advance('http', own(), 99, T0 + 5)).toBe(false);
      expect(await sh().advance('http', own(), 100, T0 + 6)).toBe(false);
      expect(await sh().cursors('http')).toEqual([{ destination: 'http', chain: own(), lastId: 100, updatedAt: T0 }]);
      expect(await sh().advance('http', own(), 101, T0 + 7)).toBe(true);
      expect(await sh().cursors('http')).toEqual([{ destination: 'http', chain: own(), lastId: 101, updatedAt: T0 + 7 }]);
    });

    it('ids past 2^31 are kept exactly (bigint columns)', async () => {
      const big = 2 ** 40 + 3;
      expect(await sh().advance('http', own(), big, T0)).toBe(true);
      expect(await sh().cursor('http', own())).toBe(big);
    });

    it('withShipperLock runs fn and hands back its value; a failing fn rejects and leaves the lock free', async () => {
      expect(await sh().withShipperLock('syslog', async () => 42)).toEqual({ ran: true, value: 42 });
      await expect(sh().withShipperLock('syslog', async () => Promise.reject(new Error('receiver down')))).rejects.toThrow('receiver down');
      expect(await sh().withShipperLock('syslog', async () => 'again')).toEqual({ ran: true, value: 'again' });
    });

    it.runIf(oneReplica)("on a one-replica store another replica's chain has no cursor and cannot be advanced", async () => {
      const other: ChainId = { kind: 'request', replica: `${f.stores.audit.replica}-other` };
      expect(await sh().cursor('http', other)).toBe(0);
      await expect(sh().advance('http', other, 5, T0)).rejects.toThrow(/replica/);
      expect(await sh().cursors('http')).toEqual([]);
    });

    it.skipIf(oneReplica)("every replica's chain has its own cursor, seen by every replica", async () => {
      const b = await replica('replica-b');
      const chainB: ChainId = { kind: 'request', replica: 'replica-b' };
      expect(await b.shipping.advance('http', chainB, 30, T0)).toBe(true);
      expect(await sh().advance('http', own(), 10, T0 + 1)).toBe(true);
      // The shipper on A ships B's chain too: it advances B's cursor.
      expect(await sh().advance('http', chainB, 31, T0 + 2)).toBe(true);
      const expected = [
        { destination: 'http', chain: own(), lastId: 10, updatedAt: T0 + 1 },
        { destination: 'http', chain: chainB, lastId: 31, updatedAt: T0 + 2 },
      ].sort((x, y) => (x.chain.replica < y.chain.replica ? -1 : 1));
      expect(await sh().cursors('http')).toEqual(expected);
      expect(await b.shipping.cursors('http')).toEqual(expected);
      expect(await b.shipping.cursor('http', own())).toBe(10);
    });

    it.skipIf(oneReplica)('one shipper per destination at a time: another replica skips while the lock is held, then gets it', async () => {
      const b = await replica('replica-b');
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let entered!: () => void;
      const inside = new Promise<void>((r) => (entered = r));
      const a = sh().withShipperLock('syslog', async () => {
        entered();
        await held;
        return 'a';
      });
      await inside;
      expect(await b.shipping.withShipperLock('syslog', async () => 'b')).toEqual({ ran: false });
      // Even on the same replica: a second pass is a second session.
      expect(await sh().withShipperLock('syslog', async () => 'a2')).toEqual({ ran: false });
      // Another destination has a lock of its own.
      expect(await b.shipping.withShipperLock('http', async () => 'b-http')).toEqual({ ran: true, value: 'b-http' });
      release();
      expect(await a).toEqual({ ran: true, value: 'a' });
      expect(await b.shipping.withShipperLock('syslog', async () => 'b')).toEqual({ ran: true, value: 'b' });
    });

    it.skipIf(oneReplica)('a cursor outlives the process that wrote it (a restart reads it back)', async () => {
      expect(await sh().advance('syslog', own(), 77, T0)).toBe(true);
      const again = await replica();
      expect(await again.shipping.cursor('syslog', own())).toBe(77);
    });
  });
}
