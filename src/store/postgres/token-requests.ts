// TokenRequestStore on PostgreSQL: the same statements as sqlite/token-requests.ts, JSONB for the
// list columns. Each status step is one conditional UPDATE: under READ COMMITTED a second replica's
// UPDATE of the same row waits for the first to commit, then re-checks `status = …` on the new row
// version and changes nothing, so two admins (or two claims) racing on two replicas get one true.
import type pg from 'pg';
import type { NewTokenRequest, TokenRequestDecision, TokenRequestRecord, TokenRequestStatus, TokenRequestStore } from '../token-request-store.js';
import { assertDecision, REQUEST_COLUMNS, tokenRequestColumnsOf, tokenRequestRecordOf, type TokenRequestRow as Row } from '../sqlite/token-requests.js';

export class PgTokenRequestStore implements TokenRequestStore {
  constructor(private readonly pool: pg.Pool) {}

  async insert(r: NewTokenRequest): Promise<void> {
    const c = tokenRequestColumnsOf(r);
    await this.pool.query(
      `INSERT INTO token_requests (id, owner, name, access, paths, ip_allowlist, days, justification, groups, status, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10)`,
      [c.id, c.owner, c.name, c.access, c.paths, c.ip_allowlist, c.days, c.justification, c.groups, c.created_at],
    );
  }

  async get(id: string): Promise<TokenRequestRecord | undefined> {
    const r = (await this.pool.query<Row>(`SELECT ${REQUEST_COLUMNS} FROM token_requests WHERE id = $1`, [id])).rows[0];
    return r && tokenRequestRecordOf(r);
  }

  async list(filter: { owner?: string; status?: TokenRequestStatus } = {}): Promise<TokenRequestRecord[]> {
    const where: string[] = [];
    const args: string[] = [];
    if (filter.owner !== undefined) (args.push(filter.owner), where.push(`owner = $${args.length}`));
    if (filter.status !== undefined) (args.push(filter.status), where.push(`status = $${args.length}`));
    // Byte order for ties (COLLATE "C"), as SQLite's: the order must not depend on the database's locale.
    const sql = `SELECT ${REQUEST_COLUMNS} FROM token_requests ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id COLLATE "C"`;
    return (await this.pool.query<Row>(sql, args)).rows.map(tokenRequestRecordOf);
  }

  async decide(id: string, d: TokenRequestDecision): Promise<boolean> {
    assertDecision(d);
    const r = await this.pool.query("UPDATE token_requests SET status = $1, decided_at = $2, decided_by = $3, comment = $4 WHERE id = $5 AND status = 'pending'", [
      d.status,
      d.at,
      d.by,
      d.comment ?? null,
      id,
    ]);
    return (r.rowCount ?? 0) > 0;
  }

  async markIssued(id: string, tokenId: string): Promise<boolean> {
    const r = await this.pool.query("UPDATE token_requests SET status = 'issued', token_id = $1 WHERE id = $2 AND status = 'approved'", [tokenId, id]);
    return (r.rowCount ?? 0) > 0;
  }

  async withdraw(id: string, owner: string, at: number): Promise<boolean> {
    const r = await this.pool.query("UPDATE token_requests SET status = 'withdrawn', decided_at = $1, decided_by = $2 WHERE id = $3 AND owner = $2 AND status = 'pending'", [at, owner, id]);
    return (r.rowCount ?? 0) > 0;
  }
}
