// AdminStore conformance, and AdminAccounts over it: one suite, run unchanged on SQLite and
// PostgreSQL (test/store/sqlite.test.ts, test/store/postgres.test.ts).
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY_PREFIX, AdminAccounts, DEFAULT_THROTTLE, sha256hex } from '../../../src/admin/accounts.js';
import { verifyPassword } from '../../../src/admin/password.js';
import type { NewAdminApiKey, RecordFailureInput } from '../../../src/store/admin-store.js';
import { T0, useStores, withFreshStores, type Backend, type Fixture } from './harness.js';

const HOUR = 3_600_000;

export function adminStoreConformance(backend: Backend): void {
  let f: Fixture;
  const store = () => f.stores.admin;
  const user = (username = 'alice', at = T0) => store().setPasswordHash({ username, passwordHash: `scrypt$hash-of-${username}`, at });
  const key = (over: Partial<NewAdminApiKey> = {}): NewAdminApiKey => ({
    id: 'ak_a',
    name: 'ci',
    keyHash: 'a'.repeat(64),
    hint: 'jasadm_abcd',
    createdBy: 'admin',
    createdAt: T0,
    ...over,
  });
  /** Count one failure per key at `at`: window 1 h, locked for 1 s per failure from the third on. */
  const fail = (keys: string[], at = T0): Promise<unknown> => store().recordFailure(keys, failureInput(at));
  const failureInput = (at: number): RecordFailureInput => ({ at, windowMs: HOUR, lockUntil: (n) => (n >= 3 ? at + n * 1000 : 0) });
  const failures = async (k: string) => (await store().getFailures([k]))[0];

  // Hooks inside the describe blocks: each test opens only the stores it uses.
  describe(`${backend.name}: AdminStore`, () => {
    useStores(backend, (x) => (f = x));

    describe('users', () => {
      it('creates a user once and replaces only its hash and change time afterwards', async () => {
        expect(await store().countUsers()).toBe(0);
        const created = await user('alice', T0);
        expect(created).toEqual({ id: expect.any(Number), username: 'alice', passwordHash: 'scrypt$hash-of-alice', createdAt: T0, passwordChangedAt: T0 });
        expect(await store().findUser('alice')).toEqual(created);
        const changed = await store().setPasswordHash({ username: 'alice', passwordHash: 'scrypt$new', at: T0 + 5 });
        expect(changed).toEqual({ ...created, passwordHash: 'scrypt$new', passwordChangedAt: T0 + 5 });
        expect(await store().findUser('alice')).toEqual(changed);
        const bob = await user('bob');
        expect(bob.id).not.toBe(created.id);
        expect(await store().countUsers()).toBe(2);
        expect(await store().findUser('carol')).toBeUndefined();
        expect(await store().findUser('Alice')).toBeUndefined();
      });

      it("setting a password ends that user's sessions and forgets the named failure keys, nothing else", async () => {
        const alice = await user('alice');
        const bob = await user('bob');
        await store().createSession({ idHash: 's1', userId: alice.id, createdAt: T0, expiresAt: T0 + HOUR, ip: '10.0.0.1' });
        await store().createSession({ idHash: 's2', userId: alice.id, createdAt: T0, expiresAt: T0 + HOUR, ip: '10.0.0.2' });
        await store().createSession({ idHash: 's3', userId: bob.id, createdAt: T0, expiresAt: T0 + HOUR, ip: '10.0.0.3' });
        await fail(['user:alice', 'ip:10.0.0.1', 'user:bob']);
        await store().setPasswordHash({ username: 'alice', passwordHash: 'scrypt$new', at: T0 + 1, clearFailureKeys: ['user:alice'] });
        expect(await store().findSession('s1', T0 + 2)).toBeUndefined();
        expect(await store().findSession('s2', T0 + 2)).toBeUndefined();
        expect(await store().findSession('s3', T0 + 2)).toMatchObject({ username: 'bob' });
        expect((await store().getFailures(['user:alice', 'ip:10.0.0.1', 'user:bob'])).map((r) => r.key).sort()).toEqual(['ip:10.0.0.1', 'user:bob']);
      });
    });

    describe('sessions', () => {
      it('round-trips a session with its owner, and finds it only while it is unexpired', async () => {
        const alice = await user();
        await store().createSession({ idHash: 'h1', userId: alice.id, createdAt: T0, expiresAt: T0 + HOUR, ip: '::1' });
        const s = { idHash: 'h1', userId: alice.id, username: 'alice', createdAt: T0, lastSeenAt: T0, expiresAt: T0 + HOUR, ip: '::1' };
        expect(await store().findSession('h1', T0)).toEqual(s);
        expect(await store().findSession('h1', T0 + HOUR - 1)).toEqual(s);
        expect(await store().findSession('h1', T0 + HOUR)).toBeUndefined();
        expect(await store().findSession('h2', T0)).toBeUndefined();
      });

      it('a new session drops the sessions expired by its creation time', async () => {
        const alice = await user();
        await store().createSession({ idHash: 'old', userId: alice.id, createdAt: T0, expiresAt: T0 + 10, ip: '::1' });
        await store().createSession({ idHash: 'live', userId: alice.id, createdAt: T0, expiresAt: T0 + HOUR, ip: '::1' });
        await store().createSession({ idHash: 'new', userId: alice.id, createdAt: T0 + 10, expiresAt: T0 + HOUR, ip: '::1' });
        // Asked as of T0, a row that still existed would be found: it is gone.
        expect(await store().findSession('old', T0)).toBeUndefined();
        expect(await store().findSession('live', T0)).toBeDefined();
        expect(await store().findSession('new', T0 + 10)).toBeDefined();
      });

      it('refuses a session of an unknown user and a duplicate id', async () => {
        const alice = await user();
        await expect(store().createSession({ idHash: 'x', userId: alice.id + 1000, createdAt: T0, expiresAt: T0 + HOUR, ip: '::1' })).rejects.toThrow();
        await store().createSession({ idHash: 'h', userId: alice.id, createdAt: T0, expiresAt: T0 + HOUR, ip: '::1' });
        await expect(store().createSession({ idHash: 'h', userId: alice.id, createdAt: T0, expiresAt: T0 + HOUR, ip: '::2' })).rejects.toThrow();
        expect(await store().findSession('h', T0)).toMatchObject({ ip: '::1' });
      });

      it('touches, deletes one, and deletes all of a user but one', async () => {
        const alice = await user('alice');
        const bob = await user('bob');
        for (const [idHash, userId] of [['a1', alice.id], ['a2', alice.id], ['a3', alice.id], ['b1', bob.id]] as const)
          await store().createSession({ idHash, userId, createdAt: T0, expiresAt: T0 + HOUR, ip: '::1' });
        await store().touchSession('a1', T0 + 7);
        await store().touchSession('missing', T0 + 7);
        expect(await store().findSession('a1', T0 + 8)).toMatchObject({ lastSeenAt: T0 + 7, createdAt: T0 });
        await store().deleteSession('a2');
        await store().deleteSession('missing');
        expect(await store().findSession('a2', T0)).toBeUndefined();
        await store().deleteUserSessions(alice.id, 'a3');
        expect(await store().findSession('a1', T0)).toBeUndefined();
        expect(await store().findSession('a3', T0)).toBeDefined();
        await store().deleteUserSessions(alice.id);
        expect(await store().findSession('a3', T0)).toBeUndefined();
        expect(await store().findSession('b1', T0)).toBeDefined();
      });
    });

    describe('API keys', () => {
      it('round-trips a key by its hash, with and without an expiry, never returning the hash', async () => {
        await store().insertApiKey(key());
        await store().insertApiKey(key({ id: 'ak_b', keyHash: 'b'.repeat(64), expiresAt: T0 + HOUR }));
        const { keyHash: _a, ...a } = key();
        const { keyHash: _b, ...b } = key({ id: 'ak_b', expiresAt: T0 + HOUR });
        expect(await store().findApiKeyByHash('a'.repeat(64))).toEqual(a);
        expect(await store().findApiKeyByHash('b'.repeat(64))).toEqual(b);
        expect(await store().findApiKeyByHash('c'.repeat(64))).toBeUndefined();
        expect(JSON.stringify(await store().listApiKeys())).not.toContain('a'.repeat(64));
      });

      it('refuses a duplicate id and a duplicate hash', async () => {
        await store().insertApiKey(key());
        await expect(store().insertApiKey(key({ keyHash: 'c'.repeat(64) }))).rejects.toThrow();
        await expect(store().insertApiKey(key({ id: 'ak_c' }))).rejects.toThrow();
        expect(await store().listApiKeys()).toHaveLength(1);
      });

      it('lists newest first, ties by id, revoked and expired ones included', async () => {
        await store().insertApiKey(key({ id: 'ak_b', keyHash: '1'.repeat(64) }));
        await store().insertApiKey(key({ id: 'ak_a', keyHash: '2'.repeat(64) }));
        await store().insertApiKey(key({ id: 'ak_c', keyHash: '3'.repeat(64), createdAt: T0 + 5, expiresAt: T0 + 6 }));
        await store().insertApiKey(key({ id: 'ak_B', keyHash: '4'.repeat(64) }));
        await store().revokeApiKey('ak_a', T0 + 1);
        expect((await store().listApiKeys()).map((k) => k.id)).toEqual(['ak_c', 'ak_B', 'ak_a', 'ak_b']);
      });

      it('stamps last use', async () => {
        await store().insertApiKey(key());
        await store().touchApiKey('ak_a', T0 + 3);
        await store().touchApiKey('ak_missing', T0 + 3);
        expect(await store().findApiKeyByHash('a'.repeat(64))).toMatchObject({ lastUsedAt: T0 + 3 });
      });

      it('revokes once: the first time is kept, and only an existing key', async () => {
        await store().insertApiKey(key());
        expect(await store().revokeApiKey('ak_a', T0 + 10)).toMatchObject({ id: 'ak_a', revokedAt: T0 + 10 });
        expect(await store().revokeApiKey('ak_a', T0 + 20)).toMatchObject({ id: 'ak_a', revokedAt: T0 + 10 });
        expect(await store().findApiKeyByHash('a'.repeat(64))).toMatchObject({ revokedAt: T0 + 10 });
        expect(await store().revokeApiKey('ak_missing', T0)).toBeUndefined();
      });

      it('keeps times beyond 2^32 exactly (ms since the epoch)', async () => {
        await store().insertApiKey(key({ createdAt: 8_640_000_000_000, expiresAt: 8_640_000_000_001 }));
        await store().touchApiKey('ak_a', 8_640_000_000_002);
        expect(await store().findApiKeyByHash('a'.repeat(64))).toMatchObject({ createdAt: 8_640_000_000_000, expiresAt: 8_640_000_000_001, lastUsedAt: 8_640_000_000_002 });
      });
    });

    describe('failed logins', () => {
      it('counts per key, hands the count to the lock function, and returns the rows in the order asked', async () => {
        expect(await store().getFailures(['user:a'])).toEqual([]);
        const seen: number[] = [];
        const rows = await store().recordFailure(['user:a', 'ip:1'], { at: T0, windowMs: HOUR, lockUntil: (n) => (seen.push(n), 0) });
        expect(rows).toEqual([
          { key: 'user:a', failures: 1, firstAt: T0, lastAt: T0, lockedUntil: 0 },
          { key: 'ip:1', failures: 1, firstAt: T0, lastAt: T0, lockedUntil: 0 },
        ]);
        expect(seen).toEqual([1, 1]);
        await fail(['user:a'], T0 + 1);
        expect(await store().recordFailure(['user:a'], failureInput(T0 + 2))).toEqual([{ key: 'user:a', failures: 3, firstAt: T0, lastAt: T0 + 2, lockedUntil: T0 + 2 + 3000 }]);
        expect(await failures('user:a')).toEqual({ key: 'user:a', failures: 3, firstAt: T0, lastAt: T0 + 2, lockedUntil: T0 + 3002 });
        expect(await failures('ip:1')).toMatchObject({ failures: 1 });
      });

      it('starts again from 1 once the last failure is a window old', async () => {
        for (let i = 0; i < 4; i++) await fail(['user:a'], T0 + i);
        expect(await failures('user:a')).toMatchObject({ failures: 4, lockedUntil: T0 + 3 + 4000 });
        await fail(['user:a'], T0 + 3 + HOUR - 1);
        expect(await failures('user:a')).toMatchObject({ failures: 5, firstAt: T0 });
        await fail(['user:a'], T0 + 3 + 2 * HOUR);
        expect(await failures('user:a')).toEqual({ key: 'user:a', failures: 1, firstAt: T0 + 3 + 2 * HOUR, lastAt: T0 + 3 + 2 * HOUR, lockedUntil: 0 });
      });

      it('forgets rows older than the window that are no longer locked, and keeps locked ones', async () => {
        await fail(['user:old'], T0);
        await store().recordFailure(['user:locked'], { at: T0, windowMs: HOUR, lockUntil: () => T0 + 3 * HOUR });
        await fail(['user:recent'], T0 + HOUR);
        await fail(['ip:other'], T0 + 2 * HOUR);
        expect((await store().getFailures(['user:old', 'user:locked', 'user:recent', 'ip:other'])).map((r) => r.key).sort()).toEqual(['ip:other', 'user:locked', 'user:recent']);
      });

      it('clears only the keys named', async () => {
        await fail(['user:a', 'ip:1', 'ip:2']);
        await store().clearFailures(['user:a', 'ip:1', 'ip:unknown']);
        expect((await store().getFailures(['user:a', 'ip:1', 'ip:2'])).map((r) => r.key)).toEqual(['ip:2']);
        await store().clearFailures([]);
        expect(await store().getFailures([])).toEqual([]);
      });

      it('20 concurrent failures under one key are all counted', async () => {
        await Promise.all(Array.from({ length: 20 }, () => fail(['user:a'])));
        expect(await failures('user:a')).toMatchObject({ failures: 20, lockedUntil: T0 + 20_000 });
      });

      it('concurrent logins sharing keys, in either order, neither deadlock nor lose a count', async () => {
        const calls = Array.from({ length: 20 }, (_, i) => (Math.floor(i / 4) % 2 ? ['ip:x', `user:u${i % 4}`] : [`user:u${i % 4}`, 'ip:x']));
        await Promise.all(calls.map((keys) => fail(keys)));
        const rows = await store().getFailures(['ip:x', 'user:u0', 'user:u1', 'user:u2', 'user:u3']);
        expect(Object.fromEntries(rows.map((r) => [r.key, r.failures]))).toEqual({ 'ip:x': 20, 'user:u0': 5, 'user:u1': 5, 'user:u2': 5, 'user:u3': 5 });
      });
    });
    describe('dump and restore', () => {
      it('dump: every user, session (expired ones too), key and failure row, ordered by key, hashes included', async () => {
        expect(await store().dump()).toEqual({ users: [], sessions: [], apiKeys: [], loginFailures: [] });
        const alice = await user('alice');
        const bob = await user('bob');
        await store().createSession({ idHash: 's2', userId: bob.id, createdAt: T0, expiresAt: T0 + 1, ip: '::1' });
        await store().createSession({ idHash: 's1', userId: alice.id, createdAt: T0, expiresAt: T0 + HOUR, ip: '10.0.0.1' });
        await store().touchSession('s1', T0 + 5);
        await store().insertApiKey(key({ id: 'ak_b', keyHash: 'b'.repeat(64), expiresAt: T0 + HOUR }));
        await store().insertApiKey(key());
        await store().touchApiKey('ak_a', T0 + 7);
        await store().revokeApiKey('ak_b', T0 + 8);
        await fail(['user:alice', 'ip:10.0.0.1']);
        await fail(['user:alice']);
        await fail(['user:alice']);
        expect(await store().dump()).toEqual({
          users: [alice, bob],
          sessions: [
            { idHash: 's1', userId: alice.id, createdAt: T0, lastSeenAt: T0 + 5, expiresAt: T0 + HOUR, ip: '10.0.0.1' },
            { idHash: 's2', userId: bob.id, createdAt: T0, lastSeenAt: T0, expiresAt: T0 + 1, ip: '::1' },
          ],
          apiKeys: [
            { ...key(), lastUsedAt: T0 + 7 },
            { ...key({ id: 'ak_b', keyHash: 'b'.repeat(64), expiresAt: T0 + HOUR }), revokedAt: T0 + 8 },
          ],
          loginFailures: [
            { key: 'ip:10.0.0.1', failures: 1, firstAt: T0, lastAt: T0, lockedUntil: 0 },
            { key: 'user:alice', failures: 3, firstAt: T0, lastAt: T0, lockedUntil: T0 + 3000 },
          ],
        });
      });

      it('restore: the copy dumps the same, its sessions and keys work, and a new user is numbered after the copied ones', async () => {
        await user('old');
        const alice = await user('alice');
        const bob = await user('bob');
        await store().createSession({ idHash: 's1', userId: bob.id, createdAt: T0, expiresAt: T0 + HOUR, ip: '10.0.0.1' });
        await store().insertApiKey(key());
        await fail(['user:bob']);
        const d = await store().dump();
        await withFreshStores(backend, async (copy) => {
          await copy.admin.restore(d);
          expect(await copy.admin.dump()).toEqual(d);
          expect(await copy.admin.findUser('alice')).toEqual(alice);
          expect(await copy.admin.findSession('s1', T0 + 1)).toMatchObject({ userId: bob.id, username: 'bob' });
          expect(await copy.admin.findApiKeyByHash('a'.repeat(64))).toMatchObject({ id: 'ak_a' });
          expect(await copy.admin.getFailures(['user:bob'])).toMatchObject([{ failures: 1 }]);
          const carol = await copy.admin.setPasswordHash({ username: 'carol', passwordHash: 'scrypt$c', at: T0 });
          expect(carol.id).toBeGreaterThan(bob.id);
          await copy.admin.createSession({ idHash: 's2', userId: carol.id, createdAt: T0, expiresAt: T0 + HOUR, ip: '::1' });
          expect(await copy.admin.findSession('s2', T0)).toMatchObject({ username: 'carol' });
        });
      });

      it('restore is one transaction: a dump that collides with a stored row writes nothing', async () => {
        await store().insertApiKey(key());
        const clash = { users: [{ id: 7, username: 'dave', passwordHash: 'scrypt$d', createdAt: T0, passwordChangedAt: T0 }], sessions: [], apiKeys: [{ ...key(), keyHash: 'a'.repeat(64) }], loginFailures: [] };
        await expect(store().restore(clash)).rejects.toThrow();
        expect(await store().findUser('dave')).toBeUndefined();
        expect(await store().countUsers()).toBe(0);
      });
    });
  });

  describe(`${backend.name}: AdminAccounts over the store`, () => {
    let accounts: AdminAccounts;
    useStores(backend, (x) => {
      f = x;
      accounts = new AdminAccounts(f.stores.admin, () => f.clock.now());
    });
    const login = async (username = 'admin') => (await accounts.findUser(username))!;

    it('stores the password as an scrypt hash that verifies, and counts users', async () => {
      expect(await accounts.userCount()).toBe(0);
      await accounts.setPassword('admin', 'correct-horse-battery');
      const u = await login();
      expect(u.passwordHash).toMatch(/^scrypt\$/);
      expect(u.passwordHash).not.toContain('correct-horse-battery');
      expect(await verifyPassword('correct-horse-battery', u.passwordHash)).toBe(true);
      expect(await verifyPassword('wrong-horse-battery', u.passwordHash)).toBe(false);
      expect(await accounts.userCount()).toBe(1);
    });

    it("a new password ends every session of the user and forgets its user: failures, not the IP's", async () => {
      await accounts.setPassword('admin', 'first-password-1');
      const { sessionId } = await accounts.createSession((await login()).id, 3600, '10.0.0.1');
      await accounts.recordFailure(['user:admin', 'ip:10.0.0.1']);
      await accounts.setPassword('admin', 'second-password-2');
      expect(await accounts.findSession(sessionId)).toBeUndefined();
      expect((await f.stores.admin.getFailures(['user:admin', 'ip:10.0.0.1'])).map((r) => r.key)).toEqual(['ip:10.0.0.1']);
    });

    it('stores only the SHA-256 of a session id; a session ends at its TTL', async () => {
      await accounts.setPassword('admin', 'first-password-1');
      const u = await login();
      const { sessionId, expiresAt } = await accounts.createSession(u.id, 60, '10.0.0.1');
      expect(expiresAt).toBe(T0 + 60_000);
      expect(sessionId).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(await f.stores.admin.findSession(sessionId, T0)).toBeUndefined();
      expect(await f.stores.admin.findSession(sha256hex(sessionId), T0)).toMatchObject({ userId: u.id });
      expect(await accounts.findSession(sessionId)).toEqual({ idHash: sha256hex(sessionId), userId: u.id, username: 'admin', expiresAt });
      f.clock.advance(30_000);
      await accounts.touchSession(sha256hex(sessionId));
      expect(await f.stores.admin.findSession(sha256hex(sessionId), f.clock.now())).toMatchObject({ lastSeenAt: T0 + 30_000 });
      f.clock.advance(30_000);
      expect(await accounts.findSession(sessionId)).toBeUndefined();
    });

    it('logout and "other sessions" end exactly the sessions meant', async () => {
      await accounts.setPassword('admin', 'first-password-1');
      const u = await login();
      const a = await accounts.createSession(u.id, 60, '::1');
      const b = await accounts.createSession(u.id, 60, '::1');
      const c = await accounts.createSession(u.id, 60, '::1');
      await accounts.deleteSession(sha256hex(a.sessionId));
      expect(await accounts.findSession(a.sessionId)).toBeUndefined();
      await accounts.deleteOtherSessions(u.id, sha256hex(c.sessionId));
      expect(await accounts.findSession(b.sessionId)).toBeUndefined();
      expect(await accounts.findSession(c.sessionId)).toBeDefined();
    });

    it('creates a prefixed API key, shown once; only its SHA-256 is stored; the wire shape uses null', async () => {
      const { key, apiKey } = await accounts.createApiKey('ci', 'admin', null);
      expect(key.startsWith(ADMIN_KEY_PREFIX)).toBe(true);
      expect(apiKey).toEqual({
        id: expect.stringMatching(/^ak_[0-9a-f]{16}$/),
        name: 'ci',
        hint: key.slice(0, ADMIN_KEY_PREFIX.length + 4),
        createdBy: 'admin',
        createdAt: T0,
        expiresAt: null,
        lastUsedAt: null,
        revokedAt: null,
      });
      expect(await f.stores.admin.findApiKeyByHash(sha256hex(key))).toMatchObject({ id: apiKey.id });
      expect(await accounts.listApiKeys()).toEqual([apiKey]);
      expect(JSON.stringify(await accounts.listApiKeys())).not.toContain(key);
    });

    it('uses a key only while it is known, unrevoked and unexpired, and stamps its last use', async () => {
      const { key, apiKey } = await accounts.createApiKey('ci', 'admin', T0 + 60_000);
      f.clock.advance(1000);
      expect(await accounts.useApiKey(key)).toEqual({ ...apiKey, lastUsedAt: T0 + 1000 });
      expect((await accounts.listApiKeys())[0]!.lastUsedAt).toBe(T0 + 1000);
      expect(await accounts.useApiKey(key.slice(ADMIN_KEY_PREFIX.length))).toBeUndefined();
      expect(await accounts.useApiKey(`${ADMIN_KEY_PREFIX}unknown`)).toBeUndefined();
      f.clock.set(T0 + 60_000);
      expect(await accounts.useApiKey(key)).toBeUndefined();
      expect((await accounts.listApiKeys())[0]!.lastUsedAt).toBe(T0 + 1000);

      const other = await accounts.createApiKey('ops', 'admin', null);
      expect(await accounts.useApiKey(other.key)).toBeDefined();
      await accounts.revokeApiKey(other.apiKey.id);
      expect(await accounts.useApiKey(other.key)).toBeUndefined();
    });

    it('revokes once: the first time is kept; an unknown id is undefined', async () => {
      const { apiKey } = await accounts.createApiKey('ci', 'admin', null);
      f.clock.advance(1000);
      expect((await accounts.revokeApiKey(apiKey.id))?.revokedAt).toBe(T0 + 1000);
      f.clock.advance(1000);
      expect((await accounts.revokeApiKey(apiKey.id))?.revokedAt).toBe(T0 + 1000);
      expect(await accounts.revokeApiKey('ak_unknown')).toBeUndefined();
    });

    it('throttles: free attempts, then a lock that doubles per failure up to the cap', async () => {
      const p = DEFAULT_THROTTLE;
      const keys = ['user:admin', 'ip:10.0.0.1'];
      for (let i = 1; i < p.freeAttempts; i++) {
        await accounts.recordFailure(keys);
        expect(await accounts.lockedForMs(keys)).toBe(0);
      }
      const locks: number[] = [];
      for (let i = 0; i < 8; i++) {
        await accounts.recordFailure(keys);
        locks.push(await accounts.lockedForMs(keys));
      }
      expect(locks).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 900_000, 900_000, 900_000]);
      f.clock.advance(899_999);
      expect(await accounts.lockedForMs(keys)).toBe(1);
      f.clock.advance(1);
      expect(await accounts.lockedForMs(keys)).toBe(0);
    });

    it('the longest lock of the keys asked applies; clearing forgets them', async () => {
      for (let i = 0; i < DEFAULT_THROTTLE.freeAttempts + 1; i++) await accounts.recordFailure(['ip:10.0.0.1']);
      await accounts.recordFailure(['user:admin']);
      expect(await accounts.lockedForMs(['user:admin'])).toBe(0);
      expect(await accounts.lockedForMs(['user:admin', 'ip:10.0.0.1'])).toBe(60_000);
      f.clock.advance(10_000);
      expect(await accounts.lockedForMs(['user:admin', 'ip:10.0.0.1'])).toBe(50_000);
      await accounts.clearFailures(['user:admin', 'ip:10.0.0.1']);
      expect(await accounts.lockedForMs(['user:admin', 'ip:10.0.0.1'])).toBe(0);
      expect(await f.stores.admin.getFailures(['user:admin', 'ip:10.0.0.1'])).toEqual([]);
    });

    it('failures a window apart start counting again', async () => {
      const keys = ['user:admin'];
      for (let i = 0; i < DEFAULT_THROTTLE.freeAttempts; i++) await accounts.recordFailure(keys);
      expect(await accounts.lockedForMs(keys)).toBe(30_000);
      f.clock.advance(DEFAULT_THROTTLE.windowMs);
      await accounts.recordFailure(keys);
      expect(await accounts.lockedForMs(keys)).toBe(0);
      expect(await f.stores.admin.getFailures(keys)).toMatchObject([{ failures: 1 }]);
    });

    it('20 concurrent failed logins for one user are all counted', async () => {
      await Promise.all(Array.from({ length: 20 }, (_, i) => accounts.recordFailure(['user:admin', `ip:10.0.0.${i}`])));
      expect(await f.stores.admin.getFailures(['user:admin'])).toMatchObject([{ failures: 20 }]);
      expect(await accounts.lockedForMs(['user:admin'])).toBe(DEFAULT_THROTTLE.maxLockMs);
    });
  });
}
