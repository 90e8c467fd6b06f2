// The key ring alone (no storage): key parsing, sealing and opening, loading from the environment.
// CredentialMap over a store is tested on both backends by test/store/conformance/credentials.ts.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KeyRing, KeyRingError, loadKeyRing, parseKey } from './secret-keys.js';

const k = () => parseKey(randomBytes(32).toString('base64'), 'test');
const PAT = 'NjQ0MDM1NzQ0NjA5OqkqH2v4yBv0sI9hLqvJ8Fd0hHc1';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

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
