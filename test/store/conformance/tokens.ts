// TokenStore conformance, and ApiTokens over it: one suite, run unchanged on SQLite and PostgreSQL
// (test/store/sqlite.test.ts, test/store/postgres.test.ts).
import { describe, expect, it, vi } from 'vitest';
import { ApiTokens, describeToken, hashToken, TokenInputError } from '../../../src/api-tokens/api-tokens.js';
import { generateApiToken, hasValidChecksum } from '../../../src/api-tokens/format.js';
import { DAY_MS } from '../../../src/api-tokens/status.js';
import type { ApiTokenDump, NewApiToken, TokenStore } from '../../../src/store/token-store.js';
import { T0, useStores, withFreshStores, type Backend, type Fixture } from './harness.js';

const settings = { prefix: 'jas_', maxLifetimeDays: 90 };

async function dumped(store: TokenStore, batchRows?: number): Promise<ApiTokenDump[][]> {
  const batches: ApiTokenDump[][] = [];
  for await (const b of store.dump(batchRows)) batches.push(b);
  return batches;
}

export function tokenStoreConformance(backend: Backend): void {
  // Scoped: the fresh stores of useStores are opened only for this concern's tests.
  describe(`${backend.name}: tokens`, () => {
    let f: Fixture;
    let tokens: ApiTokens;
    useStores(backend, (x) => {
      f = x;
      tokens = new ApiTokens(f.stores.tokens, { clock: f.clock });
    });
    const mint = (over: Partial<Parameters<ApiTokens['create']>[0]> = {}) => tokens.create({ owner: 'alice', name: 'ci', createdBy: 'test', ...over }, settings);
    const row = (over: Partial<NewApiToken> = {}): NewApiToken => ({
      id: 'tok_a',
      tokenHash: 'a'.repeat(64),
      owner: 'alice',
      name: 'n',
      access: 'write',
      paths: [],
      groups: [],
      ipAllowlist: [],
      createdAt: T0,
      expiresAt: T0 + DAY_MS,
      createdBy: 'test',
      ...over,
    });

    describe(`${backend.name}: TokenStore`, () => {
      it('round-trips every field of a record, lists and rate limit included', async () => {
        const t = row({ access: 'read', paths: ['/rest/x', 'GET /rest/y/*'], groups: ['g1', 'g2'], ipAllowlist: ['10.0.0.0/8', '::1'], rateLimit: { points: 5, durationSec: 60 } });
        await f.stores.tokens.insert(t);
        const { tokenHash, ...record } = t;
        expect(await f.stores.tokens.get('tok_a')).toEqual(record);
        expect(await f.stores.tokens.findByHash(tokenHash)).toEqual({ record, tokenHash });
        expect(await f.stores.tokens.findByHash('b'.repeat(64))).toBeUndefined();
        expect(await f.stores.tokens.get('tok_missing')).toBeUndefined();
      });

      it('refuses a duplicate id and a duplicate hash', async () => {
        await f.stores.tokens.insert(row());
        await expect(f.stores.tokens.insert(row({ tokenHash: 'c'.repeat(64) }))).rejects.toThrow();
        await expect(f.stores.tokens.insert(row({ id: 'tok_b' }))).rejects.toThrow();
        expect(await f.stores.tokens.list()).toHaveLength(1);
      });

      it('lists newest first, ties by id, and by owner', async () => {
        await f.stores.tokens.insert(row({ id: 'tok_b', tokenHash: '1'.repeat(64), createdAt: T0 }));
        await f.stores.tokens.insert(row({ id: 'tok_a', tokenHash: '2'.repeat(64), createdAt: T0 }));
        await f.stores.tokens.insert(row({ id: 'tok_c', tokenHash: '3'.repeat(64), createdAt: T0 + 5, owner: 'bob' }));
        await f.stores.tokens.insert(row({ id: 'tok_B', tokenHash: '4'.repeat(64), createdAt: T0 }));
        expect((await f.stores.tokens.list()).map((t) => t.id)).toEqual(['tok_c', 'tok_B', 'tok_a', 'tok_b']);
        expect((await f.stores.tokens.list({ owner: 'bob' })).map((t) => t.id)).toEqual(['tok_c']);
        expect(await f.stores.tokens.list({ owner: 'nobody' })).toEqual([]);
      });

      it('brings an expiry forward (rotation overlap), never later, never on a revoked or missing token', async () => {
        await f.stores.tokens.insert(row());
        const { expiresAt } = (await f.stores.tokens.get('tok_a'))!;
        expect(await f.stores.tokens.shortenExpiry('tok_a', expiresAt + 1000)).toBe(false);
        expect(await f.stores.tokens.shortenExpiry('tok_a', T0 + 500)).toBe(true);
        expect((await f.stores.tokens.get('tok_a'))?.expiresAt).toBe(T0 + 500);
        expect(await f.stores.tokens.shortenExpiry('tok_a', T0 + 500)).toBe(false);
        expect(await f.stores.tokens.shortenExpiry('tok_a', T0 + 400)).toBe(true);
        await f.stores.tokens.revoke('tok_a', T0 + 10);
        expect(await f.stores.tokens.shortenExpiry('tok_a', T0 + 100)).toBe(false);
        expect((await f.stores.tokens.get('tok_a'))?.expiresAt).toBe(T0 + 400);
        expect(await f.stores.tokens.shortenExpiry('tok_missing', T0)).toBe(false);
      });

      it('updates name, paths, IP list, rate limit and expiry; keeps what is left out; never a revoked or missing token', async () => {
        await f.stores.tokens.insert(row({ id: 'tok_e', tokenHash: 'e'.repeat(64), rateLimit: { points: 5, durationSec: 60 } }));
        const before = (await f.stores.tokens.get('tok_e'))!;
        expect(await f.stores.tokens.update('tok_e', { name: 'renamed', paths: ['/rest/api/2/search'], ipAllowlist: ['10.0.0.0/8'], expiresAt: T0 + 99 * DAY_MS })).toBe(true);
        expect(await f.stores.tokens.get('tok_e')).toEqual({ ...before, name: 'renamed', paths: ['/rest/api/2/search'], ipAllowlist: ['10.0.0.0/8'], expiresAt: T0 + 99 * DAY_MS });
        expect(await f.stores.tokens.update('tok_e', { rateLimit: { points: 100, durationSec: 60 } })).toBe(true);
        expect((await f.stores.tokens.get('tok_e'))!.rateLimit).toEqual({ points: 100, durationSec: 60 });
        expect(await f.stores.tokens.update('tok_e', { rateLimit: null, paths: [] })).toBe(true);
        const cleared = (await f.stores.tokens.get('tok_e'))!;
        expect(cleared.rateLimit).toBeUndefined();
        expect(cleared.paths).toEqual([]);
        expect(cleared.name).toBe('renamed');
        expect((await f.stores.tokens.findByHash('e'.repeat(64)))!.record).toEqual(cleared);
        expect(await f.stores.tokens.update('tok_e', {})).toBe(true);
        expect(await f.stores.tokens.update('tok_missing', { name: 'x' })).toBe(false);
        expect(await f.stores.tokens.revoke('tok_e', T0 + 1)).toBe(true);
        expect(await f.stores.tokens.update('tok_e', { name: 'again' })).toBe(false);
        expect(await f.stores.tokens.update('tok_e', {})).toBe(false);
        expect((await f.stores.tokens.get('tok_e'))!.name).toBe('renamed');
      });

      it('revokes once: the first time is kept, and only an existing token', async () => {
        await f.stores.tokens.insert(row());
        expect(await f.stores.tokens.revoke('tok_a', T0 + 10)).toBe(true);
        expect(await f.stores.tokens.revoke('tok_a', T0 + 20)).toBe(false);
        expect((await f.stores.tokens.get('tok_a'))?.revokedAt).toBe(T0 + 10);
        expect(await f.stores.tokens.revoke('tok_missing', T0)).toBe(false);
      });

      it('records uses in one batch and never moves last-used backwards', async () => {
        await f.stores.tokens.insert(row());
        await f.stores.tokens.insert(row({ id: 'tok_b', tokenHash: 'b'.repeat(64) }));
        await f.stores.tokens.recordUses([
          { id: 'tok_a', at: T0 + 50, ip: '10.0.0.9' },
          { id: 'tok_b', at: T0 + 5, ip: '::1' },
          { id: 'tok_missing', at: T0, ip: '10.0.0.1' },
        ]);
        await f.stores.tokens.recordUses([{ id: 'tok_a', at: T0 + 10, ip: '10.0.0.1' }]);
        expect(await f.stores.tokens.get('tok_a')).toMatchObject({ lastUsedAt: T0 + 50, lastUsedIp: '10.0.0.9' });
        expect(await f.stores.tokens.get('tok_b')).toMatchObject({ lastUsedAt: T0 + 5, lastUsedIp: '::1' });
        await f.stores.tokens.recordUses([]);
      });

      it('keeps times beyond 2^32 exactly (ms since the epoch)', async () => {
        await f.stores.tokens.insert(row({ createdAt: 8_640_000_000_000, expiresAt: 8_640_000_000_001 }));
        expect(await f.stores.tokens.get('tok_a')).toMatchObject({ createdAt: 8_640_000_000_000, expiresAt: 8_640_000_000_001 });
      });

      it('dumps every token with its hash, last use and revocation, in batches by id (byte order)', async () => {
        expect(await dumped(f.stores.tokens)).toEqual([]);
        const full = row({ id: 'tok_c', tokenHash: 'c'.repeat(64), access: 'read', paths: ['/rest/x', 'GET /rest/y/*'], groups: ['g1'], ipAllowlist: ['10.0.0.0/8'], rateLimit: { points: 5, durationSec: 60 } });
        for (const t of [full, row({ id: 'tok_a', tokenHash: 'a'.repeat(64) }), row({ id: 'tok_B', tokenHash: 'b'.repeat(64), createdAt: T0 + 1 })]) await f.stores.tokens.insert(t);
        await f.stores.tokens.recordUses([{ id: 'tok_a', at: T0 + 5, ip: '::1' }]);
        await f.stores.tokens.revoke('tok_c', T0 + 9);
        const batches = await dumped(f.stores.tokens, 2);
        expect(batches.map((b) => b.map((t) => t.id))).toEqual([['tok_B', 'tok_a'], ['tok_c']]);
        expect(batches.flat()).toEqual([
          { ...row({ id: 'tok_B', tokenHash: 'b'.repeat(64), createdAt: T0 + 1 }) },
          { ...row({ id: 'tok_a', tokenHash: 'a'.repeat(64) }), lastUsedAt: T0 + 5, lastUsedIp: '::1' },
          { ...full, revokedAt: T0 + 9 },
        ]);
      });

      it('restore stores a dump as it was: the copy lists, finds by hash and dumps the same', async () => {
        await f.stores.tokens.insert(row({ rateLimit: { points: 1, durationSec: 2 }, paths: ['/rest/a'] }));
        await f.stores.tokens.insert(row({ id: 'tok_b', tokenHash: 'b'.repeat(64), createdAt: T0 + 1, owner: 'bob' }));
        await f.stores.tokens.insert(row({ id: 'tok_c', tokenHash: 'c'.repeat(64), createdAt: T0 + 2 }));
        await f.stores.tokens.recordUses([{ id: 'tok_b', at: T0 + 5, ip: '10.0.0.1' }]);
        await f.stores.tokens.revoke('tok_c', T0 + 6);
        const batches = await dumped(f.stores.tokens, 2);
        await withFreshStores(backend, async (copy) => {
          for (const b of batches) await copy.tokens.restore(b);
          expect(await copy.tokens.list()).toEqual(await f.stores.tokens.list());
          for (const { tokenHash, ...record } of batches.flat()) expect(await copy.tokens.findByHash(tokenHash)).toEqual({ record, tokenHash });
          expect(await dumped(copy.tokens, 2)).toEqual(batches);
        });
      });

      it('restore is one transaction: a batch with a duplicate stores none of its tokens', async () => {
        await f.stores.tokens.insert(row());
        const existing = (await dumped(f.stores.tokens)).flat()[0];
        await expect(f.stores.tokens.restore([{ ...existing!, id: 'tok_new', tokenHash: 'e'.repeat(64) }, existing!])).rejects.toThrow();
        await expect(f.stores.tokens.restore([{ ...existing!, id: 'tok_new' }])).rejects.toThrow();
        expect((await f.stores.tokens.list()).map((t) => t.id)).toEqual(['tok_a']);
        await f.stores.tokens.restore([]);
      });
    });

    describe(`${backend.name}: ApiTokens over the store`, () => {
      it('mints a prefixed token with a valid checksum and stores only its SHA-256', async () => {
        const { token, id, record } = await mint();
        expect(token.startsWith('jas_') && hasValidChecksum(token, 'jas_')).toBe(true);
        expect(await f.stores.tokens.findByHash(hashToken(token))).toMatchObject({ record: { id }, tokenHash: hashToken(token) });
        expect(await tokens.get(id)).toEqual(record);
      });

      it('lifetime: defaults to and is capped at maxLifetimeDays, a shorter one is kept', async () => {
        expect((await mint()).record.expiresAt).toBe(T0 + 90 * DAY_MS);
        const long = await mint({ days: 400 });
        expect([long.record.expiresAt, long.capped]).toEqual([T0 + 90 * DAY_MS, true]);
        expect((await mint({ days: 7 })).record.expiresAt).toBe(T0 + 7 * DAY_MS);
      });

      it.each([
        ['days', { days: 0 }],
        ['owner', { owner: 'has space' }],
        ['name', { name: 'x'.repeat(101) }],
        ['paths', { paths: ['rest/no-leading-slash'] }],
        ['ipAllowlist', { ipAllowlist: ['10.0.0.0/33'] }],
        ['rateLimit', { rateLimit: { points: 0, durationSec: 60 } }],
        ['access', { access: 'admin' as never }],
      ])('refuses a bad %s and stores nothing', async (field, over) => {
        const e = await mint(over).catch((x: unknown) => x);
        expect(e).toBeInstanceOf(TokenInputError);
        expect((e as TokenInputError).field).toBe(field);
        expect(await tokens.list()).toHaveLength(0);
      });

      it('list and get never expose the hash or the secret', async () => {
        const { token, id } = await mint();
        const dump = JSON.stringify([await tokens.list(), await tokens.get(id), await tokens.list({ owner: 'alice' }), describeToken((await tokens.get(id))!, T0)]);
        expect(dump).not.toContain(hashToken(token));
        expect(dump).not.toContain(token);
        expect(dump).not.toMatch(/hash/i);
      });

      it('finds a token by its secret, not a different well-formed one', async () => {
        const { token, id } = await mint();
        expect((await tokens.findByToken(token))?.id).toBe(id);
        expect(await tokens.findByToken(generateApiToken('jas_'))).toBeUndefined();
        expect(await tokens.findByToken('')).toBeUndefined();
      });

      it("revokes once, and never someone else's token when an owner is given", async () => {
        const { token, id } = await mint();
        f.clock.advance(1000);
        expect((await tokens.revoke(id))?.revokedAt).toBe(T0 + 1000);
        f.clock.advance(1000);
        expect((await tokens.revoke(id))?.revokedAt).toBe(T0 + 1000);
        expect((await tokens.findByToken(token))?.revokedAt).toBe(T0 + 1000);
        const bobs = await mint({ owner: 'bob' });
        expect(await tokens.revoke(bobs.id, { owner: 'alice' })).toBeUndefined();
        expect((await tokens.get(bobs.id))?.revokedAt).toBeUndefined();
        expect(await tokens.revoke('tok_unknown')).toBeUndefined();
      });

      it('last-used: no write on the request path, one batch per interval, readers here see it at once', async () => {
        vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
        try {
          const t = new ApiTokens(f.stores.tokens, { clock: f.clock, touchFlushMs: 60_000 });
          const { id } = await t.create({ owner: 'alice', name: 'ci', createdBy: 't' }, settings);
          t.touch(id, '10.0.0.1', T0 + 1);
          t.touch(id, '10.0.0.2', T0 + 2);
          expect((await f.stores.tokens.get(id))?.lastUsedAt).toBeUndefined();
          expect(await t.get(id)).toMatchObject({ lastUsedAt: T0 + 2, lastUsedIp: '10.0.0.2' });
          await vi.advanceTimersByTimeAsync(60_000);
          vi.useRealTimers();
          await vi.waitFor(async () => expect(await f.stores.tokens.get(id)).toMatchObject({ lastUsedAt: T0 + 2, lastUsedIp: '10.0.0.2' }));
          await t.close();
        } finally {
          vi.useRealTimers();
        }
      });

      it('close() flushes, and an older stamp never overwrites a newer one', async () => {
        const { id } = await mint();
        tokens.touch(id, '10.0.0.9', T0 + 50);
        await tokens.flush();
        tokens.touch(id, '10.0.0.1', T0 + 10);
        await tokens.close();
        expect(await f.stores.tokens.get(id)).toMatchObject({ lastUsedAt: T0 + 50, lastUsedIp: '10.0.0.9' });
      });
    });
  });
}
