// Stored Jira credentials for credential-map (migrations/0005_credential_map.sql). Secrets go in
// through set() and come out only through reveal(), which the forward stage calls per request; the
// admin surface (CredentialAdmin: list, set, delete, rotate, status) has no way to read one back.
import type { Statement } from 'better-sqlite3';
import type { Db } from './sqlite/db.js';
import { systemClock, type Clock } from '../clock.js';
import { KeyRingError, type KeyRing } from './secret-keys.js';

export type CredentialSubjectType = 'client' | 'user';
export type CredentialKind = 'jira-pat';

/** What anyone may see about a stored credential: nothing of the secret. */
export interface CredentialSummary {
  subjectType: CredentialSubjectType;
  subject: string;
  kind: CredentialKind;
  /** Which encryption key sealed it (rotation progress). */
  keyId: string;
  createdAt: number;
  updatedAt: number;
  createdBy: string;
  note?: string;
}

export interface SetCredentialInput {
  subjectType: CredentialSubjectType;
  subject: string;
  /** The Jira PAT; validated, encrypted, never stored or returned in clear. */
  secret: string;
  kind?: CredentialKind;
  /** "cli", "admin:<user>". */
  createdBy: string;
  note?: string;
}

export interface RotateResult {
  reencrypted: number;
  alreadyCurrent: number;
  /** Rows whose key is not loaded or that do not authenticate (left as they are). */
  failed: Array<{ subjectType: CredentialSubjectType; subject: string; keyId: string; reason: string }>;
}

/** The admin helper's view (services.credentialMap): no method returns a secret. */
export interface CredentialAdmin {
  list(): CredentialSummary[];
  get(subjectType: CredentialSubjectType, subject: string): CredentialSummary | undefined;
  set(input: SetCredentialInput): CredentialSummary;
  delete(subjectType: CredentialSubjectType, subject: string): boolean;
  rotate(): RotateResult;
  /** Whether secrets can be stored and read (a key is loaded), and which key is primary. */
  status(): { keyLoaded: boolean; primaryKeyId?: string; keyIds: string[]; count: number; notOnPrimary: number };
}

export class CredentialError extends Error {
  constructor(
    readonly code: 'invalid' | 'no_key' | 'undecryptable',
    message: string,
  ) {
    super(message);
  }
}

interface Row {
  subject_type: CredentialSubjectType;
  subject: string;
  kind: CredentialKind;
  key_id: string;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
  created_at: number;
  updated_at: number;
  created_by: string;
  note: string | null;
}

const SUBJECT = /^[^\x00-\x1f\x7f]{1,256}$/;
/** A bearer token goes into an HTTP header: visible ASCII only (RFC 6750 §2.1 b64token is stricter still). */
const SECRET = /^[\x21-\x7e]{8,4096}$/;

/** Additional authenticated data: the ciphertext belongs to exactly this row. */
const aadOf = (t: CredentialSubjectType, subject: string, kind: CredentialKind) => `jira-auth-sidecar/credential/v1\0${t}\0${subject}\0${kind}`;

const summary = (r: Row): CredentialSummary => ({
  subjectType: r.subject_type,
  subject: r.subject,
  kind: r.kind,
  keyId: r.key_id,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  createdBy: r.created_by,
  ...(r.note ? { note: r.note } : {}),
});

export function validateSubject(t: string, subject: string): CredentialSubjectType {
  if (t !== 'client' && t !== 'user') throw new CredentialError('invalid', 'subject type must be "client" or "user"');
  if (!SUBJECT.test(subject)) throw new CredentialError('invalid', 'subject must be 1-256 characters without control characters');
  return t;
}

export class CredentialStore implements CredentialAdmin {
  private readonly q: Record<'get' | 'list' | 'upsert' | 'del' | 'rekey' | 'count' | 'offPrimary', Statement>;
  constructor(
    private readonly db: Db,
    private readonly keys: KeyRing | undefined,
    private readonly clock: Clock = systemClock,
  ) {
    this.q = {
      get: db.prepare('SELECT * FROM identity_credentials WHERE subject_type = ? AND subject = ?'),
      list: db.prepare('SELECT * FROM identity_credentials ORDER BY subject_type, subject'),
      upsert: db.prepare(`INSERT INTO identity_credentials (subject_type, subject, kind, key_id, iv, ciphertext, tag, created_at, updated_at, created_by, note)
        VALUES (@subject_type, @subject, @kind, @key_id, @iv, @ciphertext, @tag, @now, @now, @created_by, @note)
        ON CONFLICT (subject_type, subject) DO UPDATE SET kind = excluded.kind, key_id = excluded.key_id, iv = excluded.iv,
          ciphertext = excluded.ciphertext, tag = excluded.tag, updated_at = excluded.updated_at, created_by = excluded.created_by, note = excluded.note`),
      del: db.prepare('DELETE FROM identity_credentials WHERE subject_type = ? AND subject = ?'),
      // Only the sealed columns change, and only if the row is still the one that was read.
      rekey: db.prepare(`UPDATE identity_credentials SET key_id = @key_id, iv = @iv, ciphertext = @ciphertext, tag = @tag
        WHERE subject_type = @subject_type AND subject = @subject AND key_id = @old_key_id AND iv = @old_iv`),
      count: db.prepare('SELECT COUNT(*) AS n FROM identity_credentials'),
      offPrimary: db.prepare('SELECT COUNT(*) AS n FROM identity_credentials WHERE key_id != ?'),
    };
  }

  private ring(): KeyRing {
    if (!this.keys) throw new CredentialError('no_key', 'no encryption key: set SIDECAR_SECRET_KEY or SIDECAR_SECRET_KEY_FILE (openssl rand -base64 32)');
    return this.keys;
  }

  list(): CredentialSummary[] {
    return (this.q.list.all() as Row[]).map(summary);
  }

  get(subjectType: CredentialSubjectType, subject: string): CredentialSummary | undefined {
    const r = this.q.get.get(subjectType, subject) as Row | undefined;
    return r && summary(r);
  }

  set(input: SetCredentialInput): CredentialSummary {
    const t = validateSubject(input.subjectType, input.subject);
    const kind = input.kind ?? 'jira-pat';
    if (kind !== 'jira-pat') throw new CredentialError('invalid', 'kind must be "jira-pat"');
    const secret = input.secret.trim();
    if (!SECRET.test(secret)) throw new CredentialError('invalid', 'the credential must be 8-4096 visible ASCII characters (a Jira personal access token)');
    if (input.note !== undefined && !/^[^\x00-\x1f\x7f]{0,200}$/.test(input.note)) throw new CredentialError('invalid', 'note: at most 200 characters without control characters');
    const sealed = this.ring().seal(secret, aadOf(t, input.subject, kind));
    this.q.upsert.run({
      subject_type: t,
      subject: input.subject,
      kind,
      key_id: sealed.keyId,
      iv: sealed.iv,
      ciphertext: sealed.ciphertext,
      tag: sealed.tag,
      now: this.clock.now(),
      created_by: input.createdBy,
      note: input.note ?? null,
    });
    return this.get(t, input.subject)!;
  }

  delete(subjectType: CredentialSubjectType, subject: string): boolean {
    return this.q.del.run(subjectType, subject).changes > 0;
  }

  /**
   * The plaintext credential for a subject, or undefined when none is stored. Throws
   * CredentialError('no_key' | 'undecryptable') when one is stored but cannot be read: the caller
   * must refuse, never forward without it. Not part of CredentialAdmin.
   */
  reveal(subjectType: CredentialSubjectType, subject: string): { secret: string; kind: CredentialKind; keyId: string } | undefined {
    const r = this.q.get.get(subjectType, subject) as Row | undefined;
    if (!r) return undefined;
    try {
      return { secret: this.ring().open({ keyId: r.key_id, iv: r.iv, ciphertext: r.ciphertext, tag: r.tag }, aadOf(r.subject_type, r.subject, r.kind)), kind: r.kind, keyId: r.key_id };
    } catch (e) {
      if (e instanceof KeyRingError) throw new CredentialError('undecryptable', `stored credential for ${subjectType}:${subject}: ${e.message}`);
      throw e;
    }
  }

  /** Re-encrypts every row not sealed by the primary key (idempotent; a failed row is reported, not lost). */
  rotate(): RotateResult {
    const ring = this.ring();
    const out: RotateResult = { reencrypted: 0, alreadyCurrent: 0, failed: [] };
    for (const r of this.q.list.all() as Row[]) {
      if (r.key_id === ring.primary.id) {
        out.alreadyCurrent++;
        continue;
      }
      const aad = aadOf(r.subject_type, r.subject, r.kind);
      let plain: string;
      try {
        plain = ring.open({ keyId: r.key_id, iv: r.iv, ciphertext: r.ciphertext, tag: r.tag }, aad);
      } catch (e) {
        out.failed.push({ subjectType: r.subject_type, subject: r.subject, keyId: r.key_id, reason: (e as Error).message });
        continue;
      }
      const s = ring.seal(plain, aad);
      const changed = this.q.rekey.run({ key_id: s.keyId, iv: s.iv, ciphertext: s.ciphertext, tag: s.tag, subject_type: r.subject_type, subject: r.subject, old_key_id: r.key_id, old_iv: r.iv }).changes;
      if (changed) out.reencrypted++;
      else out.alreadyCurrent++; // replaced concurrently (set() seals with the primary)
    }
    return out;
  }

  status() {
    const count = (this.q.count.get() as { n: number }).n;
    if (!this.keys) return { keyLoaded: false, keyIds: [], count, notOnPrimary: count };
    return { keyLoaded: true, primaryKeyId: this.keys.primary.id, keyIds: this.keys.keyIds, count, notOnPrimary: (this.q.offPrimary.get(this.keys.primary.id) as { n: number }).n };
  }
}
