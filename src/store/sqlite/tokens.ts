// TokenStore on SQLite (better-sqlite3): prepared statements, JSON text for the list columns.
import type { Statement } from 'better-sqlite3';
import type { ApiTokenDump, ApiTokenRecord, NewApiToken, TokenChanges, TokenStore, TokenUse } from '../token-store.js';
import type { Db } from './db.js';

/** An api_tokens row without token_hash; `L`/`R`: how the list and rate-limit columns come back (JSON text here, parsed JSONB in PostgreSQL). */
export interface TokenRow<L = string[], R = NonNullable<ApiTokenRecord['rateLimit']>> {
  id: string;
  owner: string;
  name: string;
  access: ApiTokenRecord['access'];
  paths: L;
  groups: L;
  ip_allowlist: L;
  rate_limit: R | null;
  created_at: number;
  expires_at: number;
  last_used_at: number | null;
  last_used_ip: string | null;
  revoked_at: number | null;
  created_by: string;
}
type Row = TokenRow<string, string>;

// Every column but token_hash: the hash is read only by findByHash.
const COLUMNS = 'id, owner, name, access, paths, groups, ip_allowlist, rate_limit, created_at, expires_at, last_used_at, last_used_ip, revoked_at, created_by';

export function tokenRecordOf(r: TokenRow): ApiTokenRecord {
  const rec: ApiTokenRecord = {
    id: r.id,
    owner: r.owner,
    name: r.name,
    access: r.access,
    paths: r.paths,
    groups: r.groups,
    ipAllowlist: r.ip_allowlist,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    createdBy: r.created_by,
  };
  if (r.rate_limit) rec.rateLimit = r.rate_limit;
  if (r.last_used_at !== null) rec.lastUsedAt = r.last_used_at;
  if (r.last_used_ip !== null) rec.lastUsedIp = r.last_used_ip;
  if (r.revoked_at !== null) rec.revokedAt = r.revoked_at;
  return rec;
}

const recordOf = (r: Row): ApiTokenRecord =>
  tokenRecordOf({
    ...r,
    paths: JSON.parse(r.paths) as string[],
    groups: JSON.parse(r.groups) as string[],
    ip_allowlist: JSON.parse(r.ip_allowlist) as string[],
    rate_limit: r.rate_limit ? (JSON.parse(r.rate_limit) as TokenRow['rate_limit']) : null,
  });

/**
 * byHash's row as an array (`.raw()`), COLUMNS' order then token_hash: better-sqlite3 builds an array
 * faster than an object of 15 named properties (9 against 14-15 µs a lookup, in process), and this
 * lookup runs on every API-token request.
 */
type RawRow = [
  id: string,
  owner: string,
  name: string,
  access: ApiTokenRecord['access'],
  paths: string,
  groups: string,
  ipAllowlist: string,
  rateLimit: string | null,
  createdAt: number,
  expiresAt: number,
  lastUsedAt: number | null,
  lastUsedIp: string | null,
  revokedAt: number | null,
  createdBy: string,
  tokenHash: string,
];
const rowOfRaw = (v: RawRow): Row => ({
  id: v[0],
  owner: v[1],
  name: v[2],
  access: v[3],
  paths: v[4],
  groups: v[5],
  ip_allowlist: v[6],
  rate_limit: v[7],
  created_at: v[8],
  expires_at: v[9],
  last_used_at: v[10],
  last_used_ip: v[11],
  revoked_at: v[12],
  created_by: v[13],
});

export class SqliteTokenStore implements TokenStore {
  private readonly stmt: {
    byHash: Statement<[string]>;
    byId: Statement<[string]>;
    all: Statement<[]>;
    byOwner: Statement<[string]>;
    revoke: Statement<[number, string]>;
    shorten: Statement<[number, string, number]>;
    touch: Statement<[number, string, string, number]>;
    dumpAfter: Statement<[string, number]>;
    /** One whole row: a new token (insert) or a copied one (restore). */
    row: Statement;
  };

  constructor(private readonly db: Db) {
    this.stmt = {
      byHash: db.prepare<[string]>(`SELECT ${COLUMNS}, token_hash FROM api_tokens WHERE token_hash = ?`).raw(true),
      byId: db.prepare(`SELECT ${COLUMNS} FROM api_tokens WHERE id = ?`),
      all: db.prepare(`SELECT ${COLUMNS} FROM api_tokens ORDER BY created_at DESC, id`),
      byOwner: db.prepare(`SELECT ${COLUMNS} FROM api_tokens WHERE owner = ? ORDER BY created_at DESC, id`),
      revoke: db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
      shorten: db.prepare('UPDATE api_tokens SET expires_at = ? WHERE id = ? AND revoked_at IS NULL AND expires_at > ?'),
      touch: db.prepare('UPDATE api_tokens SET last_used_at = ?, last_used_ip = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)'),
      dumpAfter: db.prepare(`SELECT ${COLUMNS}, token_hash FROM api_tokens WHERE id > ? ORDER BY id LIMIT ?`),
      row: db.prepare(
        `INSERT INTO api_tokens (${COLUMNS}, token_hash)
         VALUES (@id, @owner, @name, @access, @paths, @groups, @ip_allowlist, @rate_limit, @created_at, @expires_at, @last_used_at, @last_used_ip, @revoked_at, @created_by, @token_hash)`,
      ),
    };
  }

  async insert(t: NewApiToken): Promise<void> {
    // A new token is a row with no use and no revocation yet: the same statement as restore.
    this.stmt.row.run(tokenColumnsOf(t));
  }

  async findByHash(tokenHash: string) {
    const r = this.stmt.byHash.get(tokenHash) as RawRow | undefined;
    return r ? { record: recordOf(rowOfRaw(r)), tokenHash: r[14] } : undefined;
  }

  async get(id: string) {
    const r = this.stmt.byId.get(id) as Row | undefined;
    return r ? recordOf(r) : undefined;
  }

  async list(filter: { owner?: string } = {}) {
    const rows = (filter.owner === undefined ? this.stmt.all.all() : this.stmt.byOwner.all(filter.owner)) as Row[];
    return rows.map(recordOf);
  }

  async revoke(id: string, at: number) {
    return this.stmt.revoke.run(at, id).changes > 0;
  }

  async shortenExpiry(id: string, at: number) {
    return this.stmt.shorten.run(at, id, at).changes > 0;
  }

  async update(id: string, c: TokenChanges): Promise<boolean> {
    const sets: string[] = [];
    const args: unknown[] = [];
    const set = (column: string, v: unknown) => (sets.push(`${column} = ?`), args.push(v));
    if (c.name !== undefined) set('name', c.name);
    if (c.paths !== undefined) set('paths', JSON.stringify(c.paths));
    if (c.ipAllowlist !== undefined) set('ip_allowlist', JSON.stringify(c.ipAllowlist));
    if (c.rateLimit !== undefined) set('rate_limit', c.rateLimit ? JSON.stringify(c.rateLimit) : null);
    if (c.expiresAt !== undefined) set('expires_at', c.expiresAt);
    if (!sets.length) return this.db.prepare('SELECT 1 FROM api_tokens WHERE id = ? AND revoked_at IS NULL').get(id) !== undefined;
    return this.db.prepare(`UPDATE api_tokens SET ${sets.join(', ')} WHERE id = ? AND revoked_at IS NULL`).run(...args, id).changes > 0;
  }

  async recordUses(uses: readonly TokenUse[]) {
    this.db.transaction(() => {
      for (const u of uses) this.stmt.touch.run(u.at, u.ip, u.id, u.at);
    })();
  }

  async deleteTokens(ids: readonly string[]): Promise<number> {
    const del = this.db.prepare('DELETE FROM api_tokens WHERE id = ?');
    return this.db.transaction(() => ids.reduce((n, id) => n + del.run(id).changes, 0))();
  }

  async *dump(batchRows = 1000): AsyncIterable<ApiTokenDump[]> {
    // Keyset on the id, one short statement per batch: nothing is held open between batches.
    let after = '';
    for (;;) {
      const rows = this.stmt.dumpAfter.all(after, batchRows) as Array<Row & { token_hash: string }>;
      if (rows.length) yield rows.map((r) => ({ ...recordOf(r), tokenHash: r.token_hash }));
      if (rows.length < batchRows) return;
      after = rows[rows.length - 1]!.id;
    }
  }

  async restore(tokens: readonly ApiTokenDump[]): Promise<void> {
    this.db.transaction(() => {
      for (const t of tokens) this.stmt.row.run(tokenColumnsOf(t));
    })();
  }
}

/** A dumped token as the columns both dialects store (the lists and rate limit as JSON text). */
export function tokenColumnsOf(t: ApiTokenDump | NewApiToken) {
  return {
    id: t.id,
    owner: t.owner,
    name: t.name,
    access: t.access,
    paths: JSON.stringify(t.paths),
    groups: JSON.stringify(t.groups),
    ip_allowlist: JSON.stringify(t.ipAllowlist),
    rate_limit: t.rateLimit ? JSON.stringify(t.rateLimit) : null,
    created_at: t.createdAt,
    expires_at: t.expiresAt,
    last_used_at: (t as Partial<ApiTokenDump>).lastUsedAt ?? null,
    last_used_ip: (t as Partial<ApiTokenDump>).lastUsedIp ?? null,
    revoked_at: (t as Partial<ApiTokenDump>).revokedAt ?? null,
    created_by: t.createdBy,
    token_hash: t.tokenHash,
  };
}
