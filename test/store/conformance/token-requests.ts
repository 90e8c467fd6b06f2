// TokenRequestStore conformance: one suite, run unchanged on SQLite and PostgreSQL
// (test/store/sqlite.test.ts, test/store/postgres.test.ts). Each status step happens at most once,
// including when two replicas race for it (PostgreSQL: two pools on one database).
import { describe, expect, it } from 'vitest';
import type { NewTokenRequest, TokenRequestStore } from '../../../src/store/token-request-store.js';
import { T0, useStores, type Backend, type Fixture } from './harness.js';

const req = (over: Partial<NewTokenRequest> = {}): NewTokenRequest => ({
  id: 'req_a',
  owner: 'alice',
  name: 'ci',
  access: 'write',
  paths: [],
  ipAllowlist: [],
  justification: 'nightly build pushes results',
  groups: ['jira-developers'],
  createdAt: T0,
  ...over,
});

export function tokenRequestStoreConformance(backend: Backend): void {
  describe(`${backend.name}: TokenRequestStore`, () => {
    let f: Fixture;
    let s: TokenRequestStore;
    useStores(backend, (x) => {
      f = x;
      s = f.stores.tokenRequests;
    });

    it('round-trips every field of a new request, as pending', async () => {
      const r = req({ access: 'read', paths: ['/rest/x', 'GET /rest/y/*'], ipAllowlist: ['10.0.0.0/8', '::1'], days: 7.5, groups: ['g1', 'g2'], justification: 'why: "quoted" & ünïcode' });
      await s.insert(r);
      expect(await s.get('req_a')).toEqual({ ...r, status: 'pending' });
      expect(await s.get('req_missing')).toBeUndefined();
      // No lifetime asked for: absent, not null or 0.
      await s.insert(req({ id: 'req_b' }));
      expect(await s.get('req_b')).not.toHaveProperty('days');
    });

    it('refuses a duplicate id', async () => {
      await s.insert(req());
      await expect(s.insert(req({ owner: 'bob' }))).rejects.toThrow();
      expect(await s.list()).toHaveLength(1);
    });

    it('lists newest first (ties by id, byte order), by owner and/or status', async () => {
      await s.insert(req({ id: 'req_b', createdAt: T0 }));
      await s.insert(req({ id: 'req_a', createdAt: T0 }));
      await s.insert(req({ id: 'req_c', createdAt: T0 + 5, owner: 'bob' }));
      await s.insert(req({ id: 'req_B', createdAt: T0 }));
      await s.decide('req_a', { status: 'denied', at: T0 + 9, by: 'admin', comment: 'no' });
      expect((await s.list()).map((r) => r.id)).toEqual(['req_c', 'req_B', 'req_a', 'req_b']);
      expect((await s.list({ owner: 'bob' })).map((r) => r.id)).toEqual(['req_c']);
      expect((await s.list({ status: 'pending' })).map((r) => r.id)).toEqual(['req_c', 'req_B', 'req_b']);
      expect((await s.list({ owner: 'alice', status: 'pending' })).map((r) => r.id)).toEqual(['req_B', 'req_b']);
      expect((await s.list({ owner: 'alice', status: 'denied' })).map((r) => r.id)).toEqual(['req_a']);
      expect(await s.list({ owner: 'nobody' })).toEqual([]);
    });

    it('decides a pending request once: approve with a comment, and a second decision changes nothing', async () => {
      await s.insert(req());
      expect(await s.decide('req_a', { status: 'approved', at: T0 + 10, by: 'admin', comment: 'ok for CI' })).toBe(true);
      expect(await s.decide('req_a', { status: 'denied', at: T0 + 20, by: 'other', comment: 'too late' })).toBe(false);
      expect(await s.decide('req_a', { status: 'approved', at: T0 + 30, by: 'other' })).toBe(false);
      expect(await s.get('req_a')).toMatchObject({ status: 'approved', decidedAt: T0 + 10, decidedBy: 'admin', comment: 'ok for CI' });
      expect(await s.decide('req_missing', { status: 'approved', at: T0, by: 'admin' })).toBe(false);
    });

    it('an approval without a comment stores none; a denial keeps its comment', async () => {
      await s.insert(req());
      await s.insert(req({ id: 'req_b' }));
      await s.decide('req_a', { status: 'approved', at: T0 + 1, by: 'admin' });
      await s.decide('req_b', { status: 'denied', at: T0 + 2, by: 'admin', comment: 'use a read-only token' });
      expect(await s.get('req_a')).not.toHaveProperty('comment');
      expect(await s.get('req_b')).toMatchObject({ status: 'denied', comment: 'use a read-only token', decidedBy: 'admin', decidedAt: T0 + 2 });
    });

    it('refuses a decision that is not approve or deny', async () => {
      await s.insert(req());
      await expect(s.decide('req_a', { status: 'issued' as never, at: T0, by: 'admin' })).rejects.toThrow(TypeError);
      expect((await s.get('req_a'))?.status).toBe('pending');
    });

    it('marks an approved request issued once, with the token id; never a pending or denied one', async () => {
      await s.insert(req());
      await s.insert(req({ id: 'req_b' }));
      await s.insert(req({ id: 'req_c' }));
      expect(await s.markIssued('req_a', 'tok_1')).toBe(false); // still pending
      await s.decide('req_a', { status: 'approved', at: T0 + 1, by: 'admin' });
      await s.decide('req_b', { status: 'denied', at: T0 + 1, by: 'admin', comment: 'no' });
      expect(await s.markIssued('req_a', 'tok_1')).toBe(true);
      expect(await s.markIssued('req_a', 'tok_2')).toBe(false);
      expect(await s.markIssued('req_b', 'tok_3')).toBe(false);
      expect(await s.markIssued('req_missing', 'tok_4')).toBe(false);
      expect(await s.get('req_a')).toMatchObject({ status: 'issued', tokenId: 'tok_1', decidedBy: 'admin' });
      expect(await s.get('req_b')).not.toHaveProperty('tokenId');
      // An issued request can be neither decided nor withdrawn.
      expect(await s.decide('req_a', { status: 'denied', at: T0 + 2, by: 'admin', comment: 'x' })).toBe(false);
      expect(await s.withdraw('req_a', 'alice', T0 + 2)).toBe(false);
    });

    it('withdraws only its owner’s pending request, once', async () => {
      await s.insert(req());
      await s.insert(req({ id: 'req_b' }));
      expect(await s.withdraw('req_a', 'bob', T0 + 1)).toBe(false);
      expect((await s.get('req_a'))?.status).toBe('pending');
      expect(await s.withdraw('req_a', 'alice', T0 + 2)).toBe(true);
      expect(await s.withdraw('req_a', 'alice', T0 + 3)).toBe(false);
      expect(await s.get('req_a')).toMatchObject({ status: 'withdrawn', decidedAt: T0 + 2, decidedBy: 'alice' });
      // A withdrawn request cannot be decided; a decided one cannot be withdrawn.
      expect(await s.decide('req_a', { status: 'approved', at: T0 + 4, by: 'admin' })).toBe(false);
      await s.decide('req_b', { status: 'approved', at: T0 + 4, by: 'admin' });
      expect(await s.withdraw('req_b', 'alice', T0 + 5)).toBe(false);
      expect(await s.withdraw('req_missing', 'alice', T0)).toBe(false);
    });

    it('keeps times beyond 2^32 exactly (ms since the epoch)', async () => {
      await s.insert(req({ createdAt: 8_640_000_000_000 }));
      await s.decide('req_a', { status: 'approved', at: 8_640_000_000_001, by: 'admin' });
      expect(await s.get('req_a')).toMatchObject({ createdAt: 8_640_000_000_000, decidedAt: 8_640_000_000_001 });
    });

    it('two admins deciding at once (on two replicas where the backend has them): exactly one decision is stored', async () => {
      const other = backend.reopen ? await backend.reopen(f.stores, 'replica-b') : f.stores;
      const n = 12;
      for (let i = 0; i < n; i++) await s.insert(req({ id: `req_${i}`, createdAt: T0 + i }));
      for (let i = 0; i < n; i++) {
        const [a, b] = await Promise.all([
          s.decide(`req_${i}`, { status: 'approved', at: T0 + 100, by: 'ann' }),
          other.tokenRequests.decide(`req_${i}`, { status: 'denied', at: T0 + 100, by: 'ben', comment: 'no' }),
        ]);
        expect([a, b].filter(Boolean), `req_${i}`).toHaveLength(1);
        const stored = await other.tokenRequests.get(`req_${i}`);
        // The row is the winner's decision, whole: never one admin's status with the other's name or comment.
        expect(stored, `req_${i}`).toMatchObject(a ? { status: 'approved', decidedBy: 'ann' } : { status: 'denied', decidedBy: 'ben', comment: 'no' });
        if (a) expect(stored).not.toHaveProperty('comment');
      }
    });

    it('two claims at once (on two replicas where the backend has them): the request is issued once', async () => {
      const other = backend.reopen ? await backend.reopen(f.stores, 'replica-b') : f.stores;
      await s.insert(req());
      await s.decide('req_a', { status: 'approved', at: T0 + 1, by: 'admin' });
      const results = await Promise.all([s.markIssued('req_a', 'tok_x'), other.tokenRequests.markIssued('req_a', 'tok_y'), s.markIssued('req_a', 'tok_z')]);
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = ['tok_x', 'tok_y', 'tok_z'][results.indexOf(true)];
      expect(await s.get('req_a')).toMatchObject({ status: 'issued', tokenId: winner });
    });

    it('a withdrawal racing a decision: one of them happens, never both', async () => {
      const other = backend.reopen ? await backend.reopen(f.stores, 'replica-b') : f.stores;
      for (let i = 0; i < 6; i++) {
        const id = `req_w${i}`;
        await s.insert(req({ id }));
        const [w, d] = await Promise.all([s.withdraw(id, 'alice', T0 + 1), other.tokenRequests.decide(id, { status: 'approved', at: T0 + 1, by: 'admin' })]);
        expect(w !== d, id).toBe(true);
        expect((await s.get(id))?.status).toBe(w ? 'withdrawn' : 'approved');
      }
    });
  });
}
