// The key ring that encrypts stored Jira credentials at rest (AES-256-GCM, NIST SP 800-38D).
//
// Keys come from the environment, never from the config file or the database:
//   SIDECAR_SECRET_KEY           base64 of 32 random bytes: the primary key (encrypts and decrypts)
//   SIDECAR_SECRET_KEY_FILE      or a file with one base64 key per line: line 1 is the primary,
//                                later lines are previous keys ("#" comments and blank lines ignored)
//   SIDECAR_SECRET_KEY_PREVIOUS  more previous keys (comma or space separated): decrypt only
// Rotation: make a new key the primary, keep the old one as previous, restart, run
// `jira-auth-sidecar credentials rotate` (re-encrypts every row with the primary), then drop the old key.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface SecretKey {
  /** Derived from the key (not secret): stored with each ciphertext so the right key decrypts it. */
  id: string;
  key: Buffer;
}

export interface Sealed {
  keyId: string;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

export class KeyRingError extends Error {}

/** A key id that names a key without revealing anything useful about it. */
export const keyIdOf = (key: Buffer) => createHash('sha256').update('jira-auth-sidecar/key-id/v1\0').update(key).digest('hex').slice(0, 16);

/** base64 (or base64url) of exactly 32 bytes, else a KeyRingError naming where it came from. */
export function parseKey(text: string, where: string): SecretKey {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) throw new KeyRingError(`${where}: not base64 (create a key with: openssl rand -base64 32)`);
  const key = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (key.length !== 32) throw new KeyRingError(`${where}: must decode to 32 bytes for AES-256, got ${key.length} (create one with: openssl rand -base64 32)`);
  return { id: keyIdOf(key), key };
}

export class KeyRing {
  private readonly byId = new Map<string, SecretKey>();
  constructor(
    readonly primary: SecretKey,
    previous: SecretKey[] = [],
  ) {
    for (const k of [primary, ...previous]) if (!this.byId.has(k.id)) this.byId.set(k.id, k);
  }

  /** Every key id that can decrypt (primary first). */
  get keyIds(): string[] {
    return [...this.byId.keys()];
  }

  has(keyId: string): boolean {
    return this.byId.has(keyId);
  }

  /**
   * Encrypts with the primary key and a fresh 96-bit IV. `aad` binds the ciphertext to its row
   * (subject + kind), so a ciphertext copied onto another row does not decrypt.
   */
  seal(plaintext: string, aad: string): Sealed {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.primary.key, iv);
    c.setAAD(Buffer.from(aad, 'utf8'));
    const ciphertext = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
    return { keyId: this.primary.id, iv, ciphertext, tag: c.getAuthTag() };
  }

  /** Decrypts with the key named by keyId; throws KeyRingError when that key is not loaded or the row was altered. */
  open(s: Sealed, aad: string): string {
    const k = this.byId.get(s.keyId);
    if (!k) throw new KeyRingError(`key ${s.keyId} is not loaded (SIDECAR_SECRET_KEY / _FILE / _PREVIOUS)`);
    try {
      const d = createDecipheriv('aes-256-gcm', k.key, s.iv);
      d.setAAD(Buffer.from(aad, 'utf8'));
      d.setAuthTag(s.tag);
      return Buffer.concat([d.update(s.ciphertext), d.final()]).toString('utf8');
    } catch {
      throw new KeyRingError(`ciphertext does not authenticate with key ${s.keyId} (altered or moved row)`);
    }
  }
}

/**
 * The key ring from the environment, or undefined when no key is configured (credential-map then
 * refuses with 503 and readiness says why). A malformed key is a setup mistake: it throws.
 */
export function loadKeyRing(env: NodeJS.ProcessEnv = process.env): KeyRing | undefined {
  const inline = env.SIDECAR_SECRET_KEY?.trim();
  const file = env.SIDECAR_SECRET_KEY_FILE?.trim();
  if (inline && file) throw new KeyRingError('set only one of SIDECAR_SECRET_KEY, SIDECAR_SECRET_KEY_FILE');
  const keys: SecretKey[] = [];
  if (inline) keys.push(parseKey(inline, 'SIDECAR_SECRET_KEY'));
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new KeyRingError(`SIDECAR_SECRET_KEY_FILE: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .forEach((l, i) => {
        if (l && !l.startsWith('#')) keys.push(parseKey(l, `SIDECAR_SECRET_KEY_FILE line ${i + 1}`));
      });
    if (keys.length === 0) throw new KeyRingError(`SIDECAR_SECRET_KEY_FILE: ${file} holds no key`);
  }
  const prev = (env.SIDECAR_SECRET_KEY_PREVIOUS ?? '').split(/[\s,]+/).filter(Boolean);
  if (keys.length === 0) {
    if (prev.length) throw new KeyRingError('SIDECAR_SECRET_KEY_PREVIOUS needs a primary key in SIDECAR_SECRET_KEY or SIDECAR_SECRET_KEY_FILE');
    return undefined;
  }
  prev.forEach((p, i) => keys.push(parseKey(p, `SIDECAR_SECRET_KEY_PREVIOUS[${i}]`)));
  return new KeyRing(keys[0]!, keys.slice(1));
}
