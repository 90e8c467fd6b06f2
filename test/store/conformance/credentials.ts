// CredentialStore conformance, and CredentialMap (the encryption above it) over it: one suite, run
// unchanged on SQLite and PostgreSQL (test/store/sqlite.test.ts, test/store/postgres.test.ts).
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CredentialMap, CredentialError } from '../../../src/credential-map/credentials.js';
import { KeyRing, parseKey, type SecretKey } from '../../../src/credential-map/secret-keys.js';
import type { CredentialRecord, CredentialStore, CredentialWrite } from '../../../src/store/credential-store.js';
import { T0, useStores, withFreshStores, type Backend, type Fixture } from './harness.js';

const PAT = 'NjQ0MDM1NzQ0NjA5OqkqH2v4yBv0sI9hLqvJ8Fd0hHc1';
const newKey = (): SecretKey => parseKey(randomBytes(32).toString('base64'), 'test');

/** Every byte value a seal can hold, NUL and 0xff included: nothing may be lost to text handling. */
const bytes = (...v: number[]) => Buffer.from(v);

export function credentialStoreConformance(backend: Backend): void {
  // Scoped: the fresh stores of useStores are opened only for this concern's tests.
  describe(`${backend.name}: credentials`, () => {
    let f: Fixture;
    let store: CredentialStore;
    useStores(backend, (x) => {
      f = x;
      store = f.stores.credentials;
    });
    const row = (over: Partial<CredentialWrite> = {}): CredentialWrite => ({
      subjectType: 'client',
      subject: 'app1',
      kind: 'jira-pat',
      keyId: 'k1',
      iv: bytes(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xff),
      ciphertext: bytes(0xff, 0, 0x80, 0x7f, 0x27, 0x5c, 0x22, 0),
      tag: bytes(...Array.from({ length: 16 }, (_, i) => 255 - i * 16)),
      at: T0,
      createdBy: 'test',
      ...over,
    });
    const stored = ({ at, ...w }: CredentialWrite, createdAt = at): CredentialRecord => ({ ...w, createdAt, updatedAt: at });
    const label = (r: { subjectType: string; subject: string }) => `${r.subjectType}:${r.subject}`;

    describe(`${backend.name}: CredentialStore`, () => {
      it('round-trips every field, the seal byte for byte, with and without a note', async () => {
        const a = row({ note: 'svc-integration PAT ✓' });
        expect(await store.upsert(a)).toEqual(stored(a));
        const got = (await store.get('client', 'app1'))!;
        expect(got).toEqual(stored(a));
        for (const k of ['iv', 'ciphertext', 'tag'] as const) {
          expect(Buffer.isBuffer(got[k])).toBe(true);
          expect(got[k].equals(a[k])).toBe(true);
        }
        const b = row({ subjectType: 'user', subject: 'app1', keyId: 'k2', ciphertext: randomBytes(4096) });
        await store.upsert(b);
        const gotB = (await store.get('user', 'app1'))!;
        expect(gotB).toEqual(stored(b));
        expect('note' in gotB).toBe(false);
        expect(await store.get('client', 'missing')).toBeUndefined();
        expect(await store.get('user', 'APP1')).toBeUndefined();
      });

      it('keeps an empty note as empty, not absent', async () => {
        await store.upsert(row({ note: '' }));
        expect((await store.get('client', 'app1'))?.note).toBe('');
      });

      it('lists by subject type, then subject in byte order', async () => {
        for (const [subjectType, subject] of [
          ['user', 'b'],
          ['client', 'b'],
          ['client', 'é'],
          ['client', 'B'],
          ['user', 'a'],
          ['client', 'a'],
          ['client', 'a b'],
        ] as const) {
          await store.upsert(row({ subjectType, subject }));
        }
        expect((await store.list()).map(label)).toEqual(['client:B', 'client:a', 'client:a b', 'client:b', 'client:é', 'user:a', 'user:b']);
      });

      it('upsert of an existing subject replaces the seal, note and setter, keeps created_at', async () => {
        await store.upsert(row({ note: 'first', createdBy: 'cli' }));
        const next = row({ keyId: 'k2', iv: randomBytes(12), ciphertext: randomBytes(40), tag: randomBytes(16), at: T0 + 500, createdBy: 'admin:root' });
        const saved = await store.upsert(next);
        expect(saved).toEqual(stored(next, T0));
        expect(await store.get('client', 'app1')).toEqual(saved);
        expect('note' in saved).toBe(false);
        expect(await store.list()).toHaveLength(1);
      });

      it('deletes one subject, once', async () => {
        await store.upsert(row());
        await store.upsert(row({ subjectType: 'user' }));
        expect(await store.delete('client', 'app1')).toBe(true);
        expect(await store.delete('client', 'app1')).toBe(false);
        expect(await store.delete('client', 'never')).toBe(false);
        expect((await store.list()).map(label)).toEqual(['user:app1']);
      });

      it('counts rows per sealing key and lists the rows not sealed with a key, in list order', async () => {
        expect(await store.countByKey()).toEqual(new Map());
        expect(await store.listNotSealedWith('k1')).toEqual([]);
        await store.upsert(row({ subject: 'c', keyId: 'k1' }));
        await store.upsert(row({ subject: 'b', keyId: 'k2' }));
        await store.upsert(row({ subjectType: 'user', subject: 'a', keyId: 'k3' }));
        await store.upsert(row({ subject: 'a', keyId: 'k2' }));
        expect(await store.countByKey()).toEqual(
          new Map([
            ['k1', 1],
            ['k2', 2],
            ['k3', 1],
          ]),
        );
        const off = await store.listNotSealedWith('k1');
        expect(off.map(label)).toEqual(['client:a', 'client:b', 'user:a']);
        expect(off[0]).toEqual(await store.get('client', 'a'));
        expect((await store.listNotSealedWith('k9')).map(label)).toEqual(['client:a', 'client:b', 'client:c', 'user:a']);
      });

      it('reseal is a compare-and-set of the seal only, refused once the row holds another seal', async () => {
        const first = await store.upsert(row({ note: 'n', createdBy: 'cli' }));
        const next = { keyId: 'k2', iv: randomBytes(12), ciphertext: randomBytes(33), tag: randomBytes(16) };
        expect(await store.reseal('client', 'app1', first, next)).toBe(true);
        const after = (await store.get('client', 'app1'))!;
        expect(after).toEqual({ ...first, ...next });
        // `first` is stale now: the same key id and IV no longer match, nothing changes.
        const late = { keyId: 'k3', iv: randomBytes(12), ciphertext: randomBytes(33), tag: randomBytes(16) };
        expect(await store.reseal('client', 'app1', first, late)).toBe(false);
        expect(await store.reseal('client', 'app1', { keyId: 'k1', iv: next.iv }, late)).toBe(false);
        expect(await store.reseal('client', 'app1', { keyId: next.keyId, iv: randomBytes(12) }, late)).toBe(false);
        expect(await store.reseal('user', 'app1', next, late)).toBe(false);
        expect(await store.get('client', 'app1')).toEqual(after);
      });

      it('a concurrent upsert wins over a reseal made from the row read before it', async () => {
        const read = await store.upsert(row());
        const replaced = await store.upsert(row({ keyId: 'k2', iv: randomBytes(12), at: T0 + 1, createdBy: 'admin:other' }));
        expect(await store.reseal('client', 'app1', read, { keyId: 'k3', iv: randomBytes(12), ciphertext: randomBytes(8), tag: randomBytes(16) })).toBe(false);
        expect(await store.get('client', 'app1')).toEqual(replaced);
      });

      it('refuses an unknown subject type or kind (the schema CHECKs) and stores nothing', async () => {
        await expect(store.upsert(row({ subjectType: 'group' as never }))).rejects.toThrow();
        await expect(store.upsert(row({ kind: 'password' as never }))).rejects.toThrow();
        expect(await store.list()).toEqual([]);
      });

      it('keeps times beyond 2^32 exactly (ms since the epoch)', async () => {
        await store.upsert(row({ at: 8_640_000_000_000 }));
        await store.upsert(row({ at: 8_640_000_000_001 }));
        expect(await store.get('client', 'app1')).toMatchObject({ createdAt: 8_640_000_000_000, updatedAt: 8_640_000_000_001 });
      });
      it('restore stores rows as list() returned them: the seal byte for byte, both times, the note', async () => {
        await store.upsert(row({ note: 'first' }));
        await store.upsert(row({ at: T0 + 5, keyId: 'k2', ciphertext: randomBytes(300), createdBy: 'admin:root' }));
        await store.upsert(row({ subjectType: 'user', subject: 'bob' }));
        const rows = await store.list();
        expect(rows[0]).toMatchObject({ createdAt: T0, updatedAt: T0 + 5 });
        await withFreshStores(backend, async (copy) => {
          await copy.credentials.restore(rows);
          const copied = await copy.credentials.list();
          expect(copied).toEqual(rows);
          copied.forEach((c, i) => {
            for (const k of ['iv', 'ciphertext', 'tag'] as const) expect(c[k].equals(rows[i]![k])).toBe(true);
          });
          expect(await copy.credentials.countByKey()).toEqual(await store.countByKey());
        });
      });

      it('restore is one transaction: rows with a subject already stored write nothing', async () => {
        await store.upsert(row());
        const [stored1] = await store.list();
        await expect(store.restore([{ ...stored1!, subject: 'new' }, stored1!])).rejects.toThrow();
        expect((await store.list()).map(label)).toEqual(['client:app1']);
        await store.restore([]);
      });
    });

    describe(`${backend.name}: CredentialMap over the store`, () => {
      const map = (keys: KeyRing | undefined) => new CredentialMap(store, keys, f.clock);
      const set = (m: CredentialMap, over: Partial<Parameters<CredentialMap['set']>[0]> = {}) => m.set({ subjectType: 'client', subject: 'app1', secret: PAT, createdBy: 'test', ...over });

      it('stores only ciphertext and reveals the secret to the forwarder', async () => {
        const m = map(new KeyRing(newKey()));
        await set(m);
        expect(await m.reveal('client', 'app1')).toMatchObject({ secret: PAT, kind: 'jira-pat' });
        expect(await m.reveal('user', 'app1')).toBeUndefined();
        const at = (await store.get('client', 'app1'))!;
        for (const part of [at.iv, at.ciphertext, at.tag, Buffer.from(JSON.stringify({ ...at, iv: 0, ciphertext: 0, tag: 0 }))]) {
          expect(part.includes(Buffer.from(PAT))).toBe(false);
          expect(part.includes(Buffer.from(PAT.slice(-4)))).toBe(false);
        }
        expect(JSON.stringify([await m.list(), await m.get('client', 'app1'), await m.status()])).not.toContain(PAT.slice(-4));
      });

      it('the admin view is a summary: no seal, the note only when there is one, created_at kept on replace', async () => {
        const key = newKey();
        const m = map(new KeyRing(key));
        const first = await set(m, { note: 'svc PAT', createdBy: 'cli' });
        expect(first).toEqual({ subjectType: 'client', subject: 'app1', kind: 'jira-pat', keyId: key.id, createdAt: T0, updatedAt: T0, createdBy: 'cli', note: 'svc PAT' });
        f.clock.advance(1000);
        const second = await set(m, { secret: ` ${PAT}-2\n`, createdBy: 'admin:root', note: '' });
        expect(second).toEqual({ ...first, createdAt: T0, updatedAt: T0 + 1000, createdBy: 'admin:root', note: undefined });
        expect('note' in second).toBe(false);
        expect(await m.get('client', 'app1')).toEqual(second);
        expect(await m.list()).toEqual([second]);
        expect((await m.reveal('client', 'app1'))?.secret).toBe(`${PAT}-2`); // trimmed, as a PAT pasted with its newline
      });

      it('a ciphertext copied onto another subject does not decrypt (AAD binds subject type, subject and kind)', async () => {
        const m = map(new KeyRing(newKey()));
        await set(m, { subject: 'low' });
        await set(m, { subject: 'high', secret: 'HIGHPRIVILEGEPAT123' });
        const high = (await store.get('client', 'high'))!;
        const { createdAt: _c, updatedAt: _u, ...sealed } = high;
        await store.upsert({ ...sealed, subject: 'low', at: T0 });
        await expect(m.reveal('client', 'low')).rejects.toMatchObject({ code: 'undecryptable' });
        await store.upsert({ ...sealed, subjectType: 'user', at: T0 });
        await expect(m.reveal('user', 'high')).rejects.toMatchObject({ code: 'undecryptable' });
        expect((await m.reveal('client', 'high'))?.secret).toBe('HIGHPRIVILEGEPAT123');
      });

      it('a copy (list, then restore into another store) opens with the same key ring', async () => {
        const keys = new KeyRing(newKey());
        await set(map(keys), { note: 'svc' });
        await set(map(keys), { subjectType: 'user', subject: 'bob', secret: 'BOBPAT123' });
        await withFreshStores(backend, async (copy) => {
          await copy.credentials.restore(await store.list());
          const m = new CredentialMap(copy.credentials, keys, f.clock);
          expect((await m.reveal('client', 'app1'))?.secret).toBe(PAT);
          expect((await m.reveal('user', 'bob'))?.secret).toBe('BOBPAT123');
          expect(await m.list()).toEqual(await map(keys).list());
        });
      });

      it('an altered ciphertext does not decrypt', async () => {
        const m = map(new KeyRing(newKey()));
        await set(m);
        const r = (await store.get('client', 'app1'))!;
        const flipped = Buffer.from(r.ciphertext);
        flipped[0] = flipped[0]! ^ 1;
        expect(await store.reseal('client', 'app1', r, { ...r, ciphertext: flipped })).toBe(true);
        const e = await m.reveal('client', 'app1').catch((x: unknown) => x);
        expect(e).toBeInstanceOf(CredentialError);
        expect(e).toMatchObject({ code: 'undecryptable', message: expect.stringContaining('client:app1') });
        expect((e as Error).message).not.toContain(PAT);
      });

      it.each([
        ['empty secret', { secret: '' }],
        ['short secret', { secret: 'abcdefg' }],
        ['secret with a space', { secret: 'abc def ghi' }],
        ['secret with a newline (header injection)', { secret: 'abcdefgh\r\nX-Evil: 1' }],
        ['subject with a control character', { subject: 'a\u0000b' }],
        ['empty subject', { subject: '' }],
        ['subject over 256 characters', { subject: 'x'.repeat(257) }],
        ['unknown subject type', { subjectType: 'group' }],
        ['unknown kind', { kind: 'password' }],
        ['note with a control character', { note: 'a\nb' }],
        ['note over 200 characters', { note: 'x'.repeat(201) }],
      ])('refuses %s and stores nothing', async (_n, over) => {
        const m = map(new KeyRing(newKey()));
        await expect(set(m, { subjectType: 'user', subject: 'alice', ...over } as never)).rejects.toMatchObject({ code: 'invalid' });
        expect(await store.list()).toEqual([]);
      });

      it('without a key: lists and deletes, but cannot store or reveal', async () => {
        await set(map(new KeyRing(newKey())), { subjectType: 'user', subject: 'alice' });
        const m = map(undefined);
        expect(await m.list()).toHaveLength(1);
        await expect(m.reveal('user', 'alice')).rejects.toMatchObject({ code: 'no_key' });
        await expect(set(m, { subjectType: 'user', subject: 'bob' })).rejects.toMatchObject({ code: 'no_key' });
        await expect(m.rotate()).rejects.toMatchObject({ code: 'no_key' });
        expect(await m.status()).toEqual({ keyLoaded: false, keyIds: [], count: 1, notOnPrimary: 1 });
        expect(await m.reveal('user', 'nobody')).toBeUndefined();
        expect(await m.delete('user', 'alice')).toBe(true);
        expect(await m.delete('user', 'alice')).toBe(false);
      });

      it('status: the key ids, the primary, and how many rows are not on it', async () => {
        const [a, b] = [newKey(), newKey()];
        await set(map(new KeyRing(a)), { subject: 'x' });
        await set(map(new KeyRing(b)), { subject: 'y' });
        await set(map(new KeyRing(b)), { subject: 'z' });
        expect(await map(new KeyRing(b, [a])).status()).toEqual({ keyLoaded: true, primaryKeyId: b.id, keyIds: [b.id, a.id], count: 3, notOnPrimary: 1 });
        expect(await map(new KeyRing(newKey())).status()).toMatchObject({ count: 3, notOnPrimary: 3 });
      });

      it('rotate re-seals rows of previous keys, reports rows it cannot read, and is idempotent', async () => {
        const [a, b, c] = [newKey(), newKey(), newKey()];
        await set(map(new KeyRing(a)), { subjectType: 'user', subject: 'on-a' });
        await set(map(new KeyRing(c)), { subjectType: 'user', subject: 'on-c' });
        await set(map(new KeyRing(b)), { subjectType: 'user', subject: 'on-b' });
        const before = (await store.get('user', 'on-a'))!;
        f.clock.advance(5000);
        const m = map(new KeyRing(b, [a]));
        const r = await m.rotate();
        expect(r).toEqual({ reencrypted: 1, alreadyCurrent: 1, failed: [{ subjectType: 'user', subject: 'on-c', keyId: c.id, reason: expect.stringContaining(c.id) }] });
        const after = (await m.get('user', 'on-a'))!;
        expect(after).toMatchObject({ keyId: b.id, createdAt: before.createdAt, updatedAt: before.updatedAt, createdBy: before.createdBy });
        expect((await map(new KeyRing(b)).reveal('user', 'on-a'))?.secret).toBe(PAT);
        expect(await map(new KeyRing(b)).status()).toMatchObject({ count: 3, notOnPrimary: 1 });
        expect(await m.rotate()).toMatchObject({ reencrypted: 0, alreadyCurrent: 2, failed: [{ subject: 'on-c' }] });
      });

      it('rotate never overwrites a set() that replaced the row after rotation read it (another replica)', async () => {
        const [a, b] = [newKey(), newKey()];
        await set(map(new KeyRing(a)), { subject: 'raced' });
        await set(map(new KeyRing(a)), { subject: 'quiet' });
        const replica = map(new KeyRing(b));
        // The store as the rotating replica sees it: between its read and its write, the other
        // replica stores a new PAT for the row being re-sealed.
        const racing: CredentialStore = {
          list: () => store.list(),
          get: (t, s) => store.get(t, s),
          upsert: (c) => store.upsert(c),
          delete: (t, s) => store.delete(t, s),
          countByKey: () => store.countByKey(),
          listNotSealedWith: (k) => store.listNotSealedWith(k),
          restore: (rows) => store.restore(rows),
          reseal: async (t, s, expected, next) => {
            if (s === 'raced') await set(replica, { subject: 'raced', secret: 'NEWPAT-FROM-REPLICA' });
            return store.reseal(t, s, expected, next);
          },
        };
        const r = await new CredentialMap(racing, new KeyRing(b, [a]), f.clock).rotate();
        expect(r).toEqual({ reencrypted: 1, alreadyCurrent: 1, failed: [] });
        expect((await replica.reveal('client', 'raced'))?.secret).toBe('NEWPAT-FROM-REPLICA');
        expect((await replica.reveal('client', 'quiet'))?.secret).toBe(PAT);
      });
    });
  });
}
