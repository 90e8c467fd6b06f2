// TokenRequestStore on SQLite: prepared statements, JSON text for the list columns. Every status
// step is one conditional UPDATE (WHERE status = the step's start), so it happens at most once.
import type { Statement } from 'better-sqlite3';
import type { NewTokenRequest, TokenRequestDecision, TokenRequestRecord, TokenRequestStatus, TokenRequestStore } from '../token-request-store.js';
import type { Db } from './db.js';

/** A token_requests row; `L`: how the list columns come back (JSON text here, parsed JSONB in PostgreSQL). */
export interface TokenRequestRow<L = string[]> {
  id: string;
  owner: string;
  name: string;
  access: TokenRequestRecord['access'];
  paths: L;
  ip_allowlist: L;
  days: number | null;
  justification: string;
  groups: L;
  status: TokenRequestStatus;
  created_at: number;
  decided_at: number | null;
  decided_by: string | null;
  comment: string | null;
  token_id: string | null;
}

export const REQUEST_COLUMNS = 'id, owner, name, access, paths, ip_allowlist, days, justification, groups, status, created_at, decided_at, decided_by, comment, token_id';

export function tokenRequestRecordOf(r: TokenRequestRow): TokenRequestRecord {
  const rec: TokenRequestRecord = {
    id: r.id,
    owner: r.owner,
    name: r.name,
    access: r.access,
    paths: r.paths,
    ipAllowlist: r.ip_allowlist,
    justification: r.justification,
    groups: r.groups,
    status: r.status,
    createdAt: r.created_at,
  };
  if (r.days !== null) rec.days = r.days;
  if (r.decided_at !== null) rec.decidedAt = r.decided_at;
  if (r.decided_by !== null) rec.decidedBy = r.decided_by;
  if (r.comment !== null) rec.comment = r.comment;
  if (r.token_id !== null) rec.tokenId = r.token_id;
  return rec;
}

const recordOf = (r: TokenRequestRow<string>): TokenRequestRecord =>
  tokenRequestRecordOf({ ...r, paths: JSON.parse(r.paths) as string[], ip_allowlist: JSON.parse(r.ip_allowlist) as string[], groups: JSON.parse(r.groups) as string[] });

/** decide() moves a request to approved or denied only (issued and withdrawn have their own steps). */
export function assertDecision(d: TokenRequestDecision): void {
  if (d.status !== 'approved' && d.status !== 'denied') throw new TypeError(`a decision is "approved" or "denied", not ${JSON.stringify(d.status)}`);
}

/** The columns of a new request, both dialects (the lists as JSON text). */
export function tokenRequestColumnsOf(r: NewTokenRequest) {
  return {
    id: r.id,
    owner: r.owner,
    name: r.name,
    access: r.access,
    paths: JSON.stringify(r.paths),
    ip_allowlist: JSON.stringify(r.ipAllowlist),
    days: r.days ?? null,
    justification: r.justification,
    groups: JSON.stringify(r.groups),
    created_at: r.createdAt,
  };
}

export class SqliteTokenRequestStore implements TokenRequestStore {
  private readonly stmt: {
    insert: Statement;
    byId: Statement<[string]>;
    decide: Statement<[string, number, string, string | null, string]>;
    issue: Statement<[string, string]>;
    withdraw: Statement<[number, string, string, string]>;
  };

  constructor(private readonly db: Db) {
    this.stmt = {
      insert: db.prepare(
        `INSERT INTO token_requests (id, owner, name, access, paths, ip_allowlist, days, justification, groups, status, created_at)
         VALUES (@id, @owner, @name, @access, @paths, @ip_allowlist, @days, @justification, @groups, 'pending', @created_at)`,
      ),
      byId: db.prepare(`SELECT ${REQUEST_COLUMNS} FROM token_requests WHERE id = ?`),
      decide: db.prepare("UPDATE token_requests SET status = ?, decided_at = ?, decided_by = ?, comment = ? WHERE id = ? AND status = 'pending'"),
      issue: db.prepare("UPDATE token_requests SET status = 'issued', token_id = ? WHERE id = ? AND status = 'approved'"),
      withdraw: db.prepare("UPDATE token_requests SET status = 'withdrawn', decided_at = ?, decided_by = ? WHERE id = ? AND owner = ? AND status = 'pending'"),
    };
  }

  async insert(r: NewTokenRequest): Promise<void> {
    this.stmt.insert.run(tokenRequestColumnsOf(r));
  }

  async get(id: string): Promise<TokenRequestRecord | undefined> {
    const r = this.stmt.byId.get(id) as TokenRequestRow<string> | undefined;
    return r && recordOf(r);
  }

  async list(filter: { owner?: string; status?: TokenRequestStatus } = {}): Promise<TokenRequestRecord[]> {
    const where: string[] = [];
    const args: string[] = [];
    if (filter.owner !== undefined) (where.push('owner = ?'), args.push(filter.owner));
    if (filter.status !== undefined) (where.push('status = ?'), args.push(filter.status));
    // Prepared per call: admin and self-service reads, far from the request path.
    const sql = `SELECT ${REQUEST_COLUMNS} FROM token_requests ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id`;
    return (this.db.prepare(sql).all(...args) as Array<TokenRequestRow<string>>).map(recordOf);
  }

  async decide(id: string, d: TokenRequestDecision): Promise<boolean> {
    assertDecision(d);
    return this.stmt.decide.run(d.status, d.at, d.by, d.comment ?? null, id).changes > 0;
  }

  async markIssued(id: string, tokenId: string): Promise<boolean> {
    return this.stmt.issue.run(tokenId, id).changes > 0;
  }

  async withdraw(id: string, owner: string, at: number): Promise<boolean> {
    return this.stmt.withdraw.run(at, owner, id, owner).changes > 0;
  }
}
