// TokenStore on PostgreSQL: the same statements as sqlite/tokens.ts, JSONB for the list columns.
import type pg from 'pg';
import { CHANGES_CHANNEL } from './changes.js';
import type { ApiTokenDump, ApiTokenRecord, NewApiToken, TokenChanges, TokenStore, TokenUse } from '../token-store.js';
import { tokenColumnsOf, tokenRecordOf, type TokenRow as Row } from '../sqlite/tokens.js';

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
    // One statement: the notification goes out (at commit) only when this call revoked the token,
    // and the other replicas drop their cached rows (apiTokens.cacheMs) at once.
    const r = await this.pool.query(
      `WITH revoked AS (UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING id)
       SELECT pg_notify('${CHANGES_CHANNEL}', 'tokens') FROM revoked`,
      [at, id],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async shortenExpiry(id: string, at: number): Promise<boolean> {
    // Announced like a revocation: other replicas drop a cached row that still has the later expiry.
    const r = await this.pool.query(
      `WITH shortened AS (UPDATE api_tokens SET expires_at = $1 WHERE id = $2 AND revoked_at IS NULL AND expires_at > $1 RETURNING id)
       SELECT pg_notify('${CHANGES_CHANNEL}', 'tokens') FROM shortened`,
      [at, id],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async update(id: string, c: TokenChanges): Promise<boolean> {
    const sets: string[] = [];
    const args: unknown[] = [id];
    const set = (column: string, v: unknown, cast = '') => (args.push(v), sets.push(`${column} = $${args.length}${cast}`));
    if (c.name !== undefined) set('name', c.name);
    if (c.paths !== undefined) set('paths', JSON.stringify(c.paths), '::jsonb');
    if (c.ipAllowlist !== undefined) set('ip_allowlist', JSON.stringify(c.ipAllowlist), '::jsonb');
    if (c.rateLimit !== undefined) set('rate_limit', c.rateLimit ? JSON.stringify(c.rateLimit) : null, '::jsonb');
    if (c.expiresAt !== undefined) set('expires_at', c.expiresAt, '::bigint');
    if (!sets.length) return ((await this.pool.query('SELECT 1 FROM api_tokens WHERE id = $1 AND revoked_at IS NULL', [id])).rowCount ?? 0) > 0;
    // Announced like a revocation: other replicas drop a cached row with the old grants at once.
    const r = await this.pool.query(
      `WITH edited AS (UPDATE api_tokens SET ${sets.join(', ')} WHERE id = $1 AND revoked_at IS NULL RETURNING id)
       SELECT pg_notify('${CHANGES_CHANNEL}', 'tokens') FROM edited`,
      args,
    );
    return (r.rowCount ?? 0) > 0;
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

  async deleteTokens(ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    // Announced like a revocation: other replicas drop a cached row of a deleted token at once.
    const r = await this.pool.query(
      `WITH deleted AS (DELETE FROM api_tokens WHERE id = ANY($1::text[]) RETURNING id)
       SELECT count(*)::int AS n, CASE WHEN count(*) > 0 THEN pg_notify('${CHANGES_CHANNEL}', 'tokens') END FROM deleted`,
      [ids],
    );
    return (r.rows[0] as { n: number }).n;
  }

  async *dump(batchRows = 1000): AsyncIterable<ApiTokenDump[]> {
    // Byte order (COLLATE "C"), as SQLite's: the keyset must not depend on the database's locale.
    let after = '';
    for (;;) {
      const rows = (
        await this.pool.query<Row & { token_hash: string }>(
          `SELECT ${COLUMNS}, token_hash FROM api_tokens WHERE id COLLATE "C" > $1 ORDER BY id COLLATE "C" LIMIT $2`,
          [after, batchRows],
        )
      ).rows;
      if (rows.length) yield rows.map((r) => ({ ...tokenRecordOf(r), tokenHash: r.token_hash }));
      if (rows.length < batchRows) return;
      after = rows[rows.length - 1]!.id;
    }
  }

  async restore(tokens: readonly ApiTokenDump[]): Promise<void> {
    if (tokens.length === 0) return;
    const cols = tokens.map(tokenColumnsOf);
    const col = <K extends keyof (typeof cols)[number]>(k: K) => cols.map((c) => c[k]);
    // One statement per batch (atomic by itself): a column array each, zipped back into rows by unnest.
    await this.pool.query(
      `INSERT INTO api_tokens (${COLUMNS}, token_hash)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[], $7::jsonb[], $8::jsonb[],
                            $9::bigint[], $10::bigint[], $11::bigint[], $12::text[], $13::bigint[], $14::text[], $15::text[])`,
      [
        col('id'), col('owner'), col('name'), col('access'), col('paths'), col('groups'), col('ip_allowlist'), col('rate_limit'),
        col('created_at'), col('expires_at'), col('last_used_at'), col('last_used_ip'), col('revoked_at'), col('created_by'), col('token_hash'),
      ],
    );
  }
}
