import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb, type Db } from './sqlite/db.js';
import { CredentialStore } from './credentials.js';
import { KeyRing, KeyRingError, loadKeyRing, parseKey } from './secret-keys.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

const k = () => parseKey(randomBytes(32).toString('base64'), 'test');
const PAT = 'NjQ0MDM1NzQ0NjA5OqkqH2v4yBv0sI9hLqvJ8Fd0hHc1';

let dir: string | undefined;
let db: Db | undefined;
afterEach(() => {
  db?.close();
  db = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});
function freshDb(): Db {
  dir = mkdtempSync(path.join(tmpdir(), 'cred-unit-'));
  db = openDb(dir).db;
  return db;
}

describe('key ring (AES-256-GCM)', () => {
  it.each([
    ['not base64', 'not base64!', /not base64/],
    ['too short', randomBytes(16).toString('base64'), /32 bytes/],
    ['too long', randomBytes(48).toString('base64'), /32 bytes/],
  ])('rejects a key that is %s', (_n, text, msg) => expect(() => parseKey(text, 'SIDECAR_SECRET_KEY')).toThrow(msg));

  it('accepts base64url and derives a stable key id that is not the key', () => {
    const raw = randomBytes(32);
    const a = parseKey(raw.toString('base64'), 'a');
    const b = parseKey(raw.toString('base64url'), 'b');
    expect(a.id).toBe(b.id);
    expect(a.id).toMatch(/^[0-9a-f]{16}$/);
    expect(raw.toString('hex')).not.toContain(a.id);
  });

  it('seals with a fresh IV each time and opens only with the same AAD', () => {
    const ring = new KeyRing(k());
    const s1 = ring.seal(PAT, 'row-1');
    const s2 = ring.seal(PAT, 'row-1');
    expect(s1.iv.equals(s2.iv)).toBe(false);
    expect(ring.open(s1, 'row-1')).toBe(PAT);
    expect(() => ring.open(s1, 'row-2')).toThrow(KeyRingError);
    const flipped = { ...s1, ciphertext: Buffer.from(s1.ciphertext) };
    flipped.ciphertext[0] ^= 1;
    expect(() => ring.open(flipped, 'row-1')).toThrow(KeyRingError);
  });

  it('loads from the environment: inline key, key file (first line primary), previous keys, and refuses both sources', () => {
    const [a, b, c] = [randomBytes(32).toString('base64'), randomBytes(32).toString('base64'), randomBytes(32).toString('base64')];
    expect(loadKeyRing({})).toBeUndefined();
    const inline = loadKeyRing({ SIDECAR_SECRET_KEY: a, SIDECAR_SECRET_KEY_PREVIOUS: `${b}, ${c}` })!;
    expect(inline.primary.id).toBe(parseKey(a, '').id);
    expect(inline.keyIds).toHaveLength(3);
    dir = mkdtempSync(path.join(tmpdir(), 'keyfile-'));
    const file = path.join(dir, 'keys');
    writeFileSync(file, `# primary first\n${b}\n\n${a}\n`, { mode: 0o600 });
    const fromFile = loadKeyRing({ SIDECAR_SECRET_KEY_FILE: file })!;
    expect(fromFile.primary.id).toBe(parseKey(b, '').id);
    expect(fromFile.has(parseKey(a, '').id)).toBe(true);
    expect(() => loadKeyRing({ SIDECAR_SECRET_KEY: a, SIDECAR_SECRET_KEY_FILE: file })).toThrow(/only one/);
    expect(() => loadKeyRing({ SIDECAR_SECRET_KEY_PREVIOUS: a })).toThrow(/needs a primary/);
    expect(() => loadKeyRing({ SIDECAR_SECRET_KEY_FILE: path.join(dir, 'missing') })).toThrow(/cannot read/);
  });
});

describe('CredentialStore', () => {
  it('stores only ciphertext and reveals the secret to the forwarder', () => {
    const store = new CredentialStore(freshDb(), new KeyRing(k()));
    store.set({ subjectType: 'client', subject: 'app1', secret: PAT, createdBy: 'test' });
    expect(store.reveal('client', 'app1')?.secret).toBe(PAT);
    expect(store.reveal('user', 'app1')).toBeUndefined();
    const raw = JSON.stringify(db!.prepare('SELECT * FROM identity_credentials').all(), (_k, v) => (v && v.type === 'Buffer' ? Buffer.from(v.data).toString('latin1') : v));
    expect(raw).not.toContain(PAT);
    expect(JSON.stringify(store.list())).not.toContain(PAT.slice(-4));
  });

  it('a ciphertext moved onto another row does not decrypt (AAD binds subject and kind)', () => {
    const store = new CredentialStore(freshDb(), new KeyRing(k()));
    store.set({ subjectType: 'client', subject: 'low', secret: PAT, createdBy: 'test' });
    store.set({ subjectType: 'client', subject: 'high', secret: 'HIGHPRIVILEGEPAT123', createdBy: 'test' });
    db!.exec("UPDATE identity_credentials SET (key_id, iv, ciphertext, tag) = (SELECT key_id, iv, ciphertext, tag FROM identity_credentials WHERE subject = 'high') WHERE subject = 'low'");
    expect(() => store.reveal('client', 'low')).toThrow(expect.objectContaining({ code: 'undecryptable' }));
  });

  it.each([
    ['empty secret', { secret: '' }],
    ['secret with a space', { secret: 'abc def ghi' }],
    ['secret with a newline (header injection)', { secret: 'abcdefgh\r\nX-Evil: 1' }],
    ['subject with a control character', { subject: 'a\u0000b' }],
    ['unknown subject type', { subjectType: 'group' }],
  ])('refuses %s', (_n, over) => {
    const store = new CredentialStore(freshDb(), new KeyRing(k()));
    expect(() => store.set({ subjectType: 'user', subject: 'alice', secret: PAT, createdBy: 't', ...over } as never)).toThrow(expect.objectContaining({ code: 'invalid' }));
  });

  it('without a key: lists and deletes, but cannot store or reveal', () => {
    const d = freshDb();
    new CredentialStore(d, new KeyRing(k())).set({ subjectType: 'user', subject: 'alice', secret: PAT, createdBy: 't' });
    const store = new CredentialStore(d, undefined);
    expect(store.list()).toHaveLength(1);
    expect(() => store.reveal('user', 'alice')).toThrow(expect.objectContaining({ code: 'no_key' }));
    expect(() => store.set({ subjectType: 'user', subject: 'bob', secret: PAT, createdBy: 't' })).toThrow(expect.objectContaining({ code: 'no_key' }));
    expect(store.status()).toMatchObject({ keyLoaded: false, count: 1 });
    expect(store.delete('user', 'alice')).toBe(true);
  });

  it('rotate re-seals rows of previous keys, reports rows it cannot read, and is idempotent', () => {
    const d = freshDb();
    const [a, b, c] = [k(), k(), k()];
    new CredentialStore(d, new KeyRing(a)).set({ subjectType: 'user', subject: 'on-a', secret: PAT, createdBy: 't' });
    new CredentialStore(d, new KeyRing(c)).set({ subjectType: 'user', subject: 'on-c', secret: PAT, createdBy: 't' });
    const store = new CredentialStore(d, new KeyRing(b, [a]));
    expect(store.rotate()).toMatchObject({ reencrypted: 1, alreadyCurrent: 0, failed: [{ subject: 'on-c', keyId: c.id }] });
    expect(store.get('user', 'on-a')!.keyId).toBe(b.id);
    expect(new CredentialStore(d, new KeyRing(b)).reveal('user', 'on-a')!.secret).toBe(PAT);
    expect(store.rotate()).toMatchObject({ reencrypted: 0, alreadyCurrent: 1 });
  });
});
