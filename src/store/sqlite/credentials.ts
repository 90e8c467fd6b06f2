// CredentialStore on SQLite (better-sqlite3): prepared statements, BLOBs for the seal.
import type { Statement } from 'better-sqlite3';
import type { CredentialRecord, CredentialSeal, CredentialStore, CredentialSubjectType, CredentialWrite } from '../credential-store.js';
import type { Db } from './db.js';

/** An identity_credentials row as both drivers return it (BLOB and BYTEA both come back as Buffer). */
export interface CredentialRow {
  subject_type: CredentialRecord['subjectType'];
  subject: string;
  kind: CredentialRecord['kind'];
  key_id: string;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
  created_at: number;
  updated_at: number;
  created_by: string;
  note: string | null;
}

export const CREDENTIAL_COLUMNS = 'subject_type, subject, kind, key_id, iv, ciphertext, tag, created_at, updated_at, created_by, note';

export function credentialRecordOf(r: CredentialRow): CredentialRecord {
  const rec: CredentialRecord = {
    subjectType: r.subject_type,
    subject: r.subject,
    kind: r.kind,
    keyId: r.key_id,
    iv: r.iv,
    ciphertext: r.ciphertext,
    tag: r.tag,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    createdBy: r.created_by,
  };
  if (r.note !== null) rec.note = r.note;
  return rec;
}

export class SqliteCredentialStore implements CredentialStore {
  private readonly stmt: {
    all: Statement<[]>;
    get: Statement<[string, string]>;
    upsert: Statement;
    del: Statement<[string, string]>;
    byKey: Statement<[]>;
    notSealedWith: Statement<[string]>;
    reseal: Statement;
    restore: Statement;
  };

  constructor(private readonly db: Db) {
    this.stmt = {
      all: db.prepare(`SELECT ${CREDENTIAL_COLUMNS} FROM identity_credentials ORDER BY subject_type, subject`),
      get: db.prepare(`SELECT ${CREDENTIAL_COLUMNS} FROM identity_credentials WHERE subject_type = ? AND subject = ?`),
      upsert: db.prepare(
        `INSERT INTO identity_credentials (subject_type, subject, kind, key_id, iv, ciphertext, tag, created_at, updated_at, created_by, note)
         VALUES (@subject_type, @subject, @kind, @key_id, @iv, @ciphertext, @tag, @at, @at, @created_by, @note)
         ON CONFLICT (subject_type, subject) DO UPDATE SET kind = excluded.kind, key_id = excluded.key_id, iv = excluded.iv,
           ciphertext = excluded.ciphertext, tag = excluded.tag, updated_at = excluded.updated_at, created_by = excluded.created_by, note = excluded.note
         RETURNING ${CREDENTIAL_COLUMNS}`,
      ),
      del: db.prepare('DELETE FROM identity_credentials WHERE subject_type = ? AND subject = ?'),
      byKey: db.prepare('SELECT key_id, COUNT(*) AS n FROM identity_credentials GROUP BY key_id'),
      notSealedWith: db.prepare(`SELECT ${CREDENTIAL_COLUMNS} FROM identity_credentials WHERE key_id != ? ORDER BY subject_type, subject`),
      reseal: db.prepare(
        `UPDATE identity_credentials SET key_id = @key_id, iv = @iv, ciphertext = @ciphertext, tag = @tag
         WHERE subject_type = @subject_type AND subject = @subject AND key_id = @old_key_id AND iv = @old_iv`,
      ),
      restore: db.prepare(`INSERT INTO identity_credentials (${CREDENTIAL_COLUMNS}) VALUES (${CREDENTIAL_COLUMNS.split(', ').map(() => '?').join(', ')})`),
    };
  }

  async list() {
    return (this.stmt.all.all() as CredentialRow[]).map(credentialRecordOf);
  }

  async get(subjectType: CredentialSubjectType, subject: string) {
    const r = this.stmt.get.get(subjectType, subject) as CredentialRow | undefined;
    return r && credentialRecordOf(r);
  }

  async upsert(c: CredentialWrite) {
    const r = this.stmt.upsert.get({
      subject_type: c.subjectType,
      subject: c.subject,
      kind: c.kind,
      key_id: c.keyId,
      iv: c.iv,
      ciphertext: c.ciphertext,
      tag: c.tag,
      at: c.at,
      created_by: c.createdBy,
      note: c.note ?? null,
    }) as CredentialRow;
    return credentialRecordOf(r);
  }

  async delete(subjectType: CredentialSubjectType, subject: string) {
    return this.stmt.del.run(subjectType, subject).changes > 0;
  }

  async countByKey() {
    return new Map((this.stmt.byKey.all() as Array<{ key_id: string; n: number }>).map((r) => [r.key_id, r.n]));
  }

  async listNotSealedWith(keyId: string) {
    return (this.stmt.notSealedWith.all(keyId) as CredentialRow[]).map(credentialRecordOf);
  }

  async reseal(subjectType: CredentialSubjectType, subject: string, expected: Pick<CredentialSeal, 'keyId' | 'iv'>, next: CredentialSeal) {
    const r = this.stmt.reseal.run({
      key_id: next.keyId,
      iv: next.iv,
      ciphertext: next.ciphertext,
      tag: next.tag,
      subject_type: subjectType,
      subject,
      old_key_id: expected.keyId,
      old_iv: expected.iv,
    });
    return r.changes > 0;
  }

  async restore(rows: readonly CredentialRecord[]) {
    this.db.transaction(() => {
      for (const r of rows) this.stmt.restore.run(...credentialColumnsOf(r));
    })();
  }
}

/** A record as its row's columns, in CREDENTIAL_COLUMNS order. */
export const credentialColumnsOf = (r: CredentialRecord) =>
  [r.subjectType, r.subject, r.kind, r.keyId, r.iv, r.ciphertext, r.tag, r.createdAt, r.updatedAt, r.createdBy, r.note ?? null] as const;
