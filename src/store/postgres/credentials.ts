// CredentialStore on PostgreSQL: the same statements as sqlite/credentials.ts, BYTEA for the seal.
import type pg from 'pg';
import type { CredentialRecord, CredentialSeal, CredentialStore, CredentialSubjectType, CredentialWrite } from '../credential-store.js';
import { CREDENTIAL_COLUMNS as COLUMNS, credentialColumnsOf, credentialRecordOf, type CredentialRow as Row } from '../sqlite/credentials.js';
import { inTransaction } from './pool.js';

// Byte order, as SQLite's BINARY collation: list order must not depend on the database's locale.
const ORDER = 'ORDER BY subject_type COLLATE "C", subject COLLATE "C"';

export class PgCredentialStore implements CredentialStore {
  constructor(private readonly pool: pg.Pool) {}

  async list(): Promise<CredentialRecord[]> {
    return (await this.pool.query<Row>(`SELECT ${COLUMNS} FROM identity_credentials ${ORDER}`)).rows.map(credentialRecordOf);
  }

  async get(subjectType: CredentialSubjectType, subject: string): Promise<CredentialRecord | undefined> {
    const r = (await this.pool.query<Row>(`SELECT ${COLUMNS} FROM identity_credentials WHERE subject_type = $1 AND subject = $2`, [subjectType, subject])).rows[0];
    return r && credentialRecordOf(r);
  }

  async upsert(c: CredentialWrite): Promise<CredentialRecord> {
    const r = await this.pool.query<Row>(
      `INSERT INTO identity_credentials (subject_type, subject, kind, key_id, iv, ciphertext, tag, created_at, updated_at, created_by, note)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10)
       ON CONFLICT (subject_type, subject) DO UPDATE SET kind = excluded.kind, key_id = excluded.key_id, iv = excluded.iv,
         ciphertext = excluded.ciphertext, tag = excluded.tag, updated_at = excluded.updated_at, created_by = excluded.created_by, note = excluded.note
       RETURNING ${COLUMNS}`,
      [c.subjectType, c.subject, c.kind, c.keyId, c.iv, c.ciphertext, c.tag, c.at, c.createdBy, c.note ?? null],
    );
    return credentialRecordOf(r.rows[0]!);
  }

  async delete(subjectType: CredentialSubjectType, subject: string): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM identity_credentials WHERE subject_type = $1 AND subject = $2', [subjectType, subject])).rowCount ?? 0) > 0;
  }

  async countByKey(): Promise<Map<string, number>> {
    const r = await this.pool.query<{ key_id: string; n: number }>('SELECT key_id, COUNT(*) AS n FROM identity_credentials GROUP BY key_id');
    return new Map(r.rows.map((x) => [x.key_id, x.n]));
  }

  async listNotSealedWith(keyId: string): Promise<CredentialRecord[]> {
    return (await this.pool.query<Row>(`SELECT ${COLUMNS} FROM identity_credentials WHERE key_id <> $1 ${ORDER}`, [keyId])).rows.map(credentialRecordOf);
  }

  async reseal(subjectType: CredentialSubjectType, subject: string, expected: Pick<CredentialSeal, 'keyId' | 'iv'>, next: CredentialSeal): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE identity_credentials SET key_id = $1, iv = $2, ciphertext = $3, tag = $4
        WHERE subject_type = $5 AND subject = $6 AND key_id = $7 AND iv = $8`,
      [next.keyId, next.iv, next.ciphertext, next.tag, subjectType, subject, expected.keyId, expected.iv],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async restore(rows: readonly CredentialRecord[]): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      for (const r of rows) await c.query(`INSERT INTO identity_credentials (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, [...credentialColumnsOf(r)]);
    });
  }
}
