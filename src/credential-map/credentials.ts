// Stored Jira credentials for credential-map over any CredentialStore (SQLite or PostgreSQL).
// Secrets go in through set() and come out only through reveal(), which the forward stage calls per
// request; the admin surface (CredentialAdmin: list, set, delete, rotate, status) has no way to read
// one back. The store sees only the seal: encryption with the replica's key ring (secret-keys.ts) and
// the AAD that binds a ciphertext to its row happen here.
import { systemClock, type Clock } from '../clock.js';
import type { CredentialKind, CredentialRecord, CredentialStore, CredentialSubjectType } from '../store/credential-store.js';
import { KeyRingError, type KeyRing } from './secret-keys.js';

export type { CredentialKind, CredentialSubjectType };

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

export interface CredentialStatus {
  keyLoaded: boolean;
  primaryKeyId?: string;
  keyIds: string[];
  count: number;
  notOnPrimary: number;
}

/** The admin helper's view (services.credentialMap): no method returns a secret. */
export interface CredentialAdmin {
  list(): Promise<CredentialSummary[]>;
  get(subjectType: CredentialSubjectType, subject: string): Promise<CredentialSummary | undefined>;
  set(input: SetCredentialInput): Promise<CredentialSummary>;
  delete(subjectType: CredentialSubjectType, subject: string): Promise<boolean>;
  rotate(): Promise<RotateResult>;
  /** Whether secrets can be stored and read (a key is loaded), and which key is primary. */
  status(): Promise<CredentialStatus>;
}

export class CredentialError extends Error {
  constructor(
    readonly code: 'invalid' | 'no_key' | 'undecryptable',
    message: string,
  ) {
    super(message);
  }
}

const SUBJECT = /^[^\x00-\x1f\x7f]{1,256}$/;
/** A bearer token goes into an HTTP header: visible ASCII only (RFC 6750 §2.1 b64token is stricter still). */
const SECRET = /^[\x21-\x7e]{8,4096}$/;

/** Additional authenticated data: the ciphertext belongs to exactly this row. */
const aadOf = (t: CredentialSubjectType, subject: string, kind: CredentialKind) => `jira-auth-sidecar/credential/v1\0${t}\0${subject}\0${kind}`;

const summary = (r: CredentialRecord): CredentialSummary => ({
  subjectType: r.subjectType,
  subject: r.subject,
  kind: r.kind,
  keyId: r.keyId,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
  createdBy: r.createdBy,
  ...(r.note ? { note: r.note } : {}),
});

export function validateSubject(t: string, subject: string): CredentialSubjectType {
  if (t !== 'client' && t !== 'user') throw new CredentialError('invalid', 'subject type must be "client" or "user"');
  if (!SUBJECT.test(subject)) throw new CredentialError('invalid', 'subject must be 1-256 characters without control characters');
  return t;
}

export class CredentialMap implements CredentialAdmin {
  constructor(
    private readonly store: CredentialStore,
    private readonly keys: KeyRing | undefined,
    private readonly clock: Clock = systemClock,
  ) {}

  private ring(): KeyRing {
    if (!this.keys) throw new CredentialError('no_key', 'no encryption key: set SIDECAR_SECRET_KEY or SIDECAR_SECRET_KEY_FILE (openssl rand -base64 32)');
    return this.keys;
  }

  async list(): Promise<CredentialSummary[]> {
    return (await this.store.list()).map(summary);
  }

  async get(subjectType: CredentialSubjectType, subject: string): Promise<CredentialSummary | undefined> {
    const r = await this.store.get(subjectType, subject);
    return r && summary(r);
  }

  async set(input: SetCredentialInput): Promise<CredentialSummary> {
    const t = validateSubject(input.subjectType, input.subject);
    const kind = input.kind ?? 'jira-pat';
    if (kind !== 'jira-pat') throw new CredentialError('invalid', 'kind must be "jira-pat"');
    const secret = input.secret.trim();
    if (!SECRET.test(secret)) throw new CredentialError('invalid', 'the credential must be 8-4096 visible ASCII characters (a Jira personal access token)');
    if (input.note !== undefined && !/^[^\x00-\x1f\x7f]{0,200}$/.test(input.note)) throw new CredentialError('invalid', 'note: at most 200 characters without control characters');
    const sealed = this.ring().seal(secret, aadOf(t, input.subject, kind));
    const saved = await this.store.upsert({
      subjectType: t,
      subject: input.subject,
      kind,
      ...sealed,
      at: this.clock.now(),
      createdBy: input.createdBy,
      ...(input.note !== undefined ? { note: input.note } : {}),
    });
    return summary(saved);
  }

  async delete(subjectType: CredentialSubjectType, subject: string): Promise<boolean> {
    return this.store.delete(subjectType, subject);
  }

  /**
   * The plaintext credential for a subject, or undefined when none is stored. Rejects with
   * CredentialError('no_key' | 'undecryptable') when one is stored but cannot be read: the caller
   * must refuse, never forward without it. Not part of CredentialAdmin.
   */
  async reveal(subjectType: CredentialSubjectType, subject: string): Promise<{ secret: string; kind: CredentialKind; keyId: string } | undefined> {
    const r = await this.store.get(subjectType, subject);
    if (!r) return undefined;
    try {
      return { secret: this.ring().open(r, aadOf(r.subjectType, r.subject, r.kind)), kind: r.kind, keyId: r.keyId };
    } catch (e) {
      if (e instanceof KeyRingError) throw new CredentialError('undecryptable', `stored credential for ${subjectType}:${subject}: ${e.message}`);
      throw e;
    }
  }

  /** Re-encrypts every row not sealed by the primary key (idempotent; a failed row is reported, not lost). */
  async rotate(): Promise<RotateResult> {
    const ring = this.ring();
    const primary = ring.primary.id;
    const out: RotateResult = { reencrypted: 0, alreadyCurrent: (await this.store.countByKey()).get(primary) ?? 0, failed: [] };
    for (const r of await this.store.listNotSealedWith(primary)) {
      const aad = aadOf(r.subjectType, r.subject, r.kind);
      let plain: string;
      try {
        plain = ring.open(r, aad);
      } catch (e) {
        out.failed.push({ subjectType: r.subjectType, subject: r.subject, keyId: r.keyId, reason: (e as Error).message });
        continue;
      }
      if (await this.store.reseal(r.subjectType, r.subject, r, ring.seal(plain, aad))) out.reencrypted++;
      else out.alreadyCurrent++; // replaced (or deleted) concurrently: set() seals with the primary
    }
    return out;
  }

  async status(): Promise<CredentialStatus> {
    const byKey = await this.store.countByKey();
    const count = [...byKey.values()].reduce((a, b) => a + b, 0);
    if (!this.keys) return { keyLoaded: false, keyIds: [], count, notOnPrimary: count };
    return { keyLoaded: true, primaryKeyId: this.keys.primary.id, keyIds: this.keys.keyIds, count, notOnPrimary: count - (byKey.get(this.keys.primary.id) ?? 0) };
  }
}
