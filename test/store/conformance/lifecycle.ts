// LifecycleStore conformance (and TokenStore.deleteTokens, the lifecycle's cleanup): one suite, run
// unchanged on SQLite and PostgreSQL (test/store/sqlite.test.ts, test/store/postgres.test.ts).
// Cases with two replicas need Backend.reopen: SQLite is one process per file, so they skip there.
import { describe, expect, it } from 'vitest';
import { DAY_MS } from '../../../src/api-tokens/status.js';
import { MAX_DELIVERIES_PAGE, type DeliveryRecord } from '../../../src/store/lifecycle-store.js';
import type { NewApiToken } from '../../../src/store/token-store.js';
import type { Stores } from '../../../src/store/stores.js';
import { T0, useStores, withFreshStores, type Backend, type Fixture } from './harness.js';

const delivery = (over: Partial<DeliveryRecord> = {}): DeliveryRecord => ({
  id: 'dlv_a',
  time: T0,
  channel: 'email',
  event: 'token.expiring',
  tokenId: 'tok_a',
  owner: 'alice',
  target: 'alice@example.com',
  status: 'pending',
  attempts: 0,
  lastError: null,
  sentAt: null,
  ...over,
});

const token = (id: string, over: Partial<NewApiToken> = {}): NewApiToken => ({
  id,
  tokenHash: Buffer.from(id).toString('hex').padEnd(64, '0'),
  owner: 'alice',
  name: id,
  access: 'write',
  paths: [],
  groups: [],
  ipAllowlist: [],
  createdAt: T0,
  expiresAt: T0 + DAY_MS,
  createdBy: 'test',
  ...over,
});

export function lifecycleStoreConformance(backend: Backend): void {
  describe(`${backend.name}: token lifecycle`, () => {
    let f: Fixture;
    useStores(backend, (x) => (f = x));
    const lc = () => f.stores.lifecycle;
    const replica = (name?: string): Promise<Stores> => backend.reopen!(f.stores, name);
    const oneReplica = !backend.reopen;

    describe('warnings', () => {
      it('notes a warning once: true the first time, false after, per token and kind', async () => {
        expect(await lc().noteWarning('tok_a', 'expiry:7', T0)).toBe(true);
        expect(await lc().noteWarning('tok_a', 'expiry:7', T0 + 5)).toBe(false);
        expect(await lc().noteWarning('tok_a', 'expiry:1', T0 + 10)).toBe(true);
        expect(await lc().noteWarning('tok_b', 'expiry:7', T0 + 1)).toBe(true);
        expect(await lc().warnings('tok_a')).toEqual([
          { tokenId: 'tok_a', kind: 'expiry:7', at: T0 },
          { tokenId: 'tok_a', kind: 'expiry:1', at: T0 + 10 },
        ]);
        expect(await lc().warnings('tok_missing')).toEqual([]);
      });

      it('forgets the warnings of deleted tokens, and only theirs', async () => {
        for (const [id, kind] of [['tok_a', 'expiry:7'], ['tok_a', 'unused:1:5'], ['tok_b', 'expiry:7'], ['tok_c', 'expiry:7']]) await lc().noteWarning(id!, kind!, T0);
        await lc().forgetWarnings(['tok_a', 'tok_c', 'tok_missing']);
        await lc().forgetWarnings([]);
        expect(await lc().warnings('tok_a')).toEqual([]);
        expect(await lc().warnings('tok_b')).toHaveLength(1);
        // Forgotten: the same warning may be noted (and sent) again.
        expect(await lc().noteWarning('tok_a', 'expiry:7', T0 + 1)).toBe(true);
      });

      it.skipIf(oneReplica)('two replicas noting the same warnings at once: each noted by exactly one of them', async () => {
        const b = await replica('replica-b');
        const kinds = ['expiry:7', 'expiry:1', 'unused:7:0', 'unused:1:0'];
        const calls = kinds.flatMap((kind) => [0, 1, 2].flatMap((i) => [lc().noteWarning('tok_race', kind, T0 + i), b.lifecycle.noteWarning('tok_race', kind, T0 + i)]));
        const won = await Promise.all(calls);
        expect(won.filter(Boolean)).toHaveLength(kinds.length);
        for (const [k, kind] of kinds.entries()) expect(won.slice(k * 6, k * 6 + 6).filter(Boolean), kind).toHaveLength(1);
        expect((await b.lifecycle.warnings('tok_race')).map((w) => w.kind).sort()).toEqual([...kinds].sort());
      });
    });

    describe('delivery log', () => {
      it('round-trips a delivery and updates its state', async () => {
        await lc().recordDelivery(delivery());
        expect(await lc().listDeliveries()).toEqual([delivery()]);
        expect(await lc().updateDelivery('dlv_a', { status: 'pending', attempts: 1, lastError: 'HTTP 503', sentAt: null })).toBe(true);
        expect(await lc().updateDelivery('dlv_a', { status: 'sent', attempts: 2, lastError: 'HTTP 503', sentAt: T0 + 2000 })).toBe(true);
        expect(await lc().listDeliveries()).toEqual([delivery({ status: 'sent', attempts: 2, lastError: 'HTTP 503', sentAt: T0 + 2000 })]);
        expect(await lc().updateDelivery('dlv_missing', { status: 'failed', attempts: 1, lastError: 'x', sentAt: null })).toBe(false);
        const test = delivery({ id: 'dlv_t', channel: 'webhook', event: 'test', tokenId: null, owner: null, target: 'https://hooks.example.com/in', time: T0 + 1 });
        await lc().recordDelivery(test);
        expect((await lc().listDeliveries())[0]).toEqual(test);
      });

      it('refuses a duplicate id and an unknown channel or status', async () => {
        await lc().recordDelivery(delivery());
        await expect(lc().recordDelivery(delivery({ time: T0 + 1 }))).rejects.toThrow();
        await expect(lc().recordDelivery(delivery({ id: 'dlv_b', channel: 'sms' as never }))).rejects.toThrow();
        await expect(lc().recordDelivery(delivery({ id: 'dlv_c', status: 'lost' as never }))).rejects.toThrow();
        expect(await lc().listDeliveries()).toHaveLength(1);
      });

      it('lists newest first (ties by id, descending), bounded, and by token', async () => {
        await lc().recordDelivery(delivery({ id: 'dlv_1', time: T0 }));
        await lc().recordDelivery(delivery({ id: 'dlv_3', time: T0 + 5, tokenId: 'tok_b' }));
        await lc().recordDelivery(delivery({ id: 'dlv_2', time: T0 + 5 }));
        await lc().recordDelivery(delivery({ id: 'dlv_B', time: T0 + 5 }));
        await lc().recordDelivery(delivery({ id: 'dlv_0', time: T0 + 9, tokenId: null }));
        expect((await lc().listDeliveries()).map((d) => d.id)).toEqual(['dlv_0', 'dlv_B', 'dlv_3', 'dlv_2', 'dlv_1']);
        expect((await lc().listDeliveries({ limit: 2 })).map((d) => d.id)).toEqual(['dlv_0', 'dlv_B']);
        expect((await lc().listDeliveries({ limit: 0 })).map((d) => d.id)).toHaveLength(5);
        expect((await lc().listDeliveries({ tokenId: 'tok_a' })).map((d) => d.id)).toEqual(['dlv_B', 'dlv_2', 'dlv_1']);
        expect((await lc().listDeliveries({ tokenId: 'tok_a', limit: 1 })).map((d) => d.id)).toEqual(['dlv_B']);
        expect(await lc().listDeliveries({ tokenId: 'tok_none' })).toEqual([]);
      });

      it(`never answers more than ${MAX_DELIVERIES_PAGE} rows, whatever the limit`, async () => {
        const many = Array.from({ length: MAX_DELIVERIES_PAGE + 5 }, (_, i) => delivery({ id: `dlv_${String(i).padStart(5, '0')}`, time: T0 + i }));
        await lc().restore({ warnings: [], deliveries: many });
        const page = await lc().listDeliveries({ limit: 1_000_000 });
        expect(page).toHaveLength(MAX_DELIVERIES_PAGE);
        expect(page[0]!.id).toBe(many[many.length - 1]!.id);
      });

      it('prunes deliveries queued before a time, and says how many', async () => {
        for (let i = 0; i < 5; i++) await lc().recordDelivery(delivery({ id: `dlv_${i}`, time: T0 + i * DAY_MS }));
        expect(await lc().pruneDeliveries(T0 + 2 * DAY_MS)).toBe(2);
        expect(await lc().pruneDeliveries(T0 + 2 * DAY_MS)).toBe(0);
        expect((await lc().listDeliveries()).map((d) => d.id)).toEqual(['dlv_4', 'dlv_3', 'dlv_2']);
      });
    });

    describe('jobs', () => {
      it('withJobLock runs fn and passes its value and its error through; the lock is free again after either', async () => {
        expect(await lc().withJobLock('lifecycle', async () => 42)).toEqual({ ran: true, value: 42 });
        await expect(lc().withJobLock('lifecycle', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
        expect(await lc().withJobLock('lifecycle', async () => 'again')).toEqual({ ran: true, value: 'again' });
      });

      it.skipIf(oneReplica)('on two replicas, the one that does not get the lock skips the run; other jobs are not blocked', async () => {
        const b = await replica('replica-b');
        let release!: () => void;
        const held = new Promise<void>((r) => (release = r));
        let entered!: () => void;
        const inside = new Promise<void>((r) => (entered = r));
        const a = lc().withJobLock('lifecycle', async () => {
          entered();
          await held;
          return 'a';
        });
        await inside;
        let ranOnB = false;
        expect(await b.lifecycle.withJobLock('lifecycle', async () => (ranOnB = true))).toEqual({ ran: false });
        expect(ranOnB).toBe(false);
        // The same process asking again while its run goes on skips too (a run never overlaps itself).
        expect(await lc().withJobLock('lifecycle', async () => 'x')).toEqual({ ran: false });
        expect(await b.lifecycle.withJobLock('another-job', async () => 'other')).toEqual({ ran: true, value: 'other' });
        release();
        expect(await a).toEqual({ ran: true, value: 'a' });
        expect(await b.lifecycle.withJobLock('lifecycle', async () => 'b')).toEqual({ ran: true, value: 'b' });
      });

      it('claimRun stamps a run once per gap, and a clock set back does not block it', async () => {
        expect(await lc().lastRun('lifecycle')).toBeUndefined();
        expect(await lc().claimRun('lifecycle', T0, 3_600_000)).toBe(true);
        expect(await lc().lastRun('lifecycle')).toEqual({ name: 'lifecycle', at: T0, replica: f.stores.audit.replica });
        expect(await lc().claimRun('lifecycle', T0 + 3_599_999, 3_600_000)).toBe(false);
        expect(await lc().claimRun('other', T0 + 1, 3_600_000)).toBe(true);
        expect(await lc().claimRun('lifecycle', T0 + 3_600_000, 3_600_000)).toBe(true);
        expect((await lc().lastRun('lifecycle'))?.at).toBe(T0 + 3_600_000);
        expect(await lc().claimRun('lifecycle', T0 - DAY_MS, 3_600_000)).toBe(true);
        expect((await lc().lastRun('lifecycle'))?.at).toBe(T0 - DAY_MS);
      });

      it.skipIf(oneReplica)('two replicas claiming the same run at once: exactly one stamps it, under its name', async () => {
        const b = await replica('replica-b');
        const won = await Promise.all([0, 1, 2, 3].flatMap(() => [lc().claimRun('lifecycle', T0, 60_000), b.lifecycle.claimRun('lifecycle', T0, 60_000)]));
        expect(won.filter(Boolean)).toHaveLength(1);
        const winner = won.indexOf(true) % 2 === 0 ? f.stores.audit.replica : 'replica-b';
        expect(await b.lifecycle.lastRun('lifecycle')).toEqual({ name: 'lifecycle', at: T0, replica: winner });
      });
    });

    describe('TokenStore.deleteTokens (cleanup)', () => {
      it('deletes the given tokens in one write, says how many existed, leaves the others', async () => {
        for (const id of ['tok_a', 'tok_b', 'tok_c']) await f.stores.tokens.insert(token(id));
        await f.stores.tokens.revoke('tok_b', T0 + 1);
        expect(await f.stores.tokens.deleteTokens(['tok_a', 'tok_b', 'tok_missing'])).toBe(2);
        expect(await f.stores.tokens.deleteTokens([])).toBe(0);
        expect((await f.stores.tokens.list()).map((t) => t.id)).toEqual(['tok_c']);
        expect(await f.stores.tokens.get('tok_a')).toBeUndefined();
        expect(await f.stores.tokens.findByHash(token('tok_b').tokenHash)).toBeUndefined();
        // The id and hash are free again (a restore of the same token is not refused).
        await f.stores.tokens.insert(token('tok_a'));
      });
    });

    describe('copying', () => {
      it('dump and restore move warnings and deliveries as they were', async () => {
        await lc().noteWarning('tok_a', 'expiry:7', T0);
        await lc().noteWarning('tok_B', 'unused:1:123', T0 + 1);
        await lc().recordDelivery(delivery());
        await lc().recordDelivery(delivery({ id: 'dlv_b', time: T0 + 1, channel: 'webhook', status: 'failed', attempts: 5, lastError: 'HTTP 500', tokenId: null, owner: null }));
        await lc().updateDelivery('dlv_a', { status: 'sent', attempts: 1, lastError: null, sentAt: T0 + 9 });
        const dump = await lc().dump();
        expect(dump.warnings.map((w) => w.tokenId)).toEqual(['tok_B', 'tok_a']);
        expect(dump.deliveries.map((d) => d.id)).toEqual(['dlv_a', 'dlv_b']);
        await withFreshStores(backend, async (copy) => {
          expect(await copy.lifecycle.dump()).toEqual({ warnings: [], deliveries: [] });
          await copy.lifecycle.restore(dump);
          expect(await copy.lifecycle.dump()).toEqual(dump);
          expect(await copy.lifecycle.listDeliveries()).toEqual(await lc().listDeliveries());
          expect(await copy.lifecycle.noteWarning('tok_a', 'expiry:7', T0 + 5)).toBe(false);
          // One transaction: a dump with a duplicate stores nothing of itself.
          await expect(copy.lifecycle.restore({ warnings: [{ tokenId: 'tok_new', kind: 'expiry:7', at: T0 }], deliveries: [delivery()] })).rejects.toThrow();
          expect(await copy.lifecycle.warnings('tok_new')).toEqual([]);
          await copy.lifecycle.restore({ warnings: [], deliveries: [] });
        });
      });
    });
  });
}
