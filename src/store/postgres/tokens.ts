// TokenStore on PostgreSQL: the same statements as sqlite/tokens.ts, JSONB for the list columns.
import type pg from 'pg';
import type { ApiTokenRecord, NewApiToken, TokenStore, TokenUse } from '../token-store.js';
import { tokenRecordOf, type TokenRow as Row } from '../sqlite/tokens.js';

const COLUMNS = 'id, owner, name, access, paths, groups, ip_allowlist, rate_limit, created_at, expires_at, last_used_at, last_used_ip, revoked_at, created_by';

export class PgTokenStore implements TokenStore {
  constructor(private readonly pool: pg.Pool) {}

  async insert(t: NewApiToken): Promise<void> {
    await this.pool.query(
      `INSERT INTO api_tokens (id, token_hash, owner, name, access, paths, groups, ip_allowlist, rate_limit, created_at, expires_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        t.id,
        t.tokenHash,
        t.owner,
        t.name,
        t.access,
        JSON.stringify(t.paths),
        JSON.stringify(t.groups),
        JSON.stringify(t.ipAllowlist),
        t.rateLimit ? JSON.stringify(t.rateLimit) : null,
        t.createdAt,
        t.expiresAt,
        t.createdBy,
      ],
    );
  }

  async findByHash(tokenHash: string) {
    const r = (await this.pool.query<Row & { token_hash: string }>(`SELECT ${COLUMNS}, token_hash FROM api_tokens WHERE token_hash = $1`, [tokenHash])).rows[0];
    return r ? { record: tokenRecordOf(r), tokenHash: r.token_hash } : undefined;
  }

  async get(id: string): Promise<ApiTokenRecord | undefined> {
    const r = (await this.pool.query<Row>(`SELECT ${COLUMNS} FROM api_tokens WHERE id = $1`, [id])).rows[0];
    return r && tokenRecordOf(r);
  }

  async list(filter: { owner?: string } = {}): Promise<ApiTokenRecord[]> {
    const q =
      filter.owner === undefined
        ? this.pool.query<Row>(`SELECT ${COLUMNS} FROM api_tokens ORDER BY created_at DESC, id COLLATE "C"`)
        : this.pool.query<Row>(`SELECT ${COLUMNS} FROM api_tokens WHERE owner = $1 ORDER BY created_at DESC, id COLLATE "C"`, [filter.owner]);
    return (await q).rows.map(tokenRecordOf);
  }

  async revoke(id: string, at: number): Promise<boolean> {
    return ((await this.pool.query('UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [at, id])).rowCount ?? 0) > 0;
  }

  async recordUses(uses: readonly TokenUse[]): Promise<void> {
    if (uses.length === 0) return;
    // One statement for the batch; never moves last_used_at backwards (replicas stamping the same token).
    await this.pool.query(
      `UPDATE api_tokens t SET last_used_at = u.at, last_used_ip = u.ip
         FROM unnest($1::text[], $2::bigint[], $3::text[]) AS u(id, at, ip)
        WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at < u.at)`,
      [uses.map((u) => u.id), uses.map((u) => u.at), uses.map((u) => u.ip)],
    );
  }
}
