// Reading the audit log on SQLite: filtered keyset pages (newest first), export chunks (oldest
// first) and counts. Each call is one short statement, so memory stays flat whatever the range and
// the shared connection is never held by an open iterator (the sink and retention keep writing in
// between). Filters on a column with a deferred index (audit-index.ts) read that index table merged
// with the newest rows it has no entries for yet; broad range filters walk the time index.
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';
import type { AuditFilters, AuditPageRequest, AuditPosition, AuditRow } from '../audit-store.js';
import { REQUEST_COLUMNS } from '../../audit/chain.js';
import { DEFERRED_INDEXES, throughIdSql, type DeferredIndex } from './audit-index.js';

/** The filters SQL knows: the replica is the store's to answer (SQLite holds one). */
type SqlFilters = Omit<AuditFilters, 'replica'>;

/** Range filters whose own index would return rows out of time order (a sort per page). */
const RANGE_PROBE = 10_000;

/** The value each partial index leaves out (migration 0006): nearly every row has it. */
const UNINDEXED = { decision: 'allow', status: 200 } as const;
const sqlLiteral = (v: string | number) => (typeof v === 'number' ? String(v) : `'${v}'`);
/** The status index holds every status but 200: every class other than 2xx is in it. */
const statusClassIndexed = (statusClass: number) => statusClass !== Math.trunc(UNINDEXED.status / 100);

/** How a filter names a column: as is, or table-qualified in the deferred-index arm of a query. */
type Col = (column: string) => string;
const plain: Col = (c) => c;

interface Clause {
  sql: string[];
  params: unknown[];
}

/**
 * WHERE clause + parameters for the filters. Every column here but credential_kind and would_deny
 * has an index ending in time (a SQLite or a deferred one); those two have none, and are only ever
 * checked on the rows the chosen index walks (deferredFor and broadRanges never count them).
 * `broad` lists range filters (status class, path prefix) that match at least RANGE_PROBE rows: for
 * those, searching their own index means sorting every match on each page (seconds at millions of
 * rows), while walking the time index and filtering finds a page after about limit / selectivity
 * rows. A leading `+` keeps SQLite from using that index (sqlite.org/optoverview.html#disqualifying_where_clause_terms_using_unary_).
 */
function where(f: SqlFilters, broad: ReadonlySet<'status' | 'path'> = new Set(), col: Col = plain): Clause {
  const sql: string[] = [];
  const params: unknown[] = [];
  const add = (s: string, ...p: unknown[]) => {
    sql.push(s);
    params.push(...p);
  };
  if (f.from !== undefined) add(`${col('time')} >= ?`, f.from);
  if (f.to !== undefined) add(`${col('time')} < ?`, f.to);
  if (f.user !== undefined) add(`${col('user')} = ?`, f.user);
  if (f.client !== undefined) add(`${col('client_id')} = ?`, f.client);
  if (f.token !== undefined) add(`${col('token_id')} = ?`, f.token);
  if (f.ip !== undefined) add(`${col('client_ip')} = ?`, f.ip);
  // The decision and status indexes leave out UNINDEXED values (migration 0006): a query for another
  // value states the partial index's own condition, literally, so SQLite may use that index.
  const partial = (c: 'decision' | 'status', indexed: boolean) => (indexed ? ` AND ${col(c)} <> ${sqlLiteral(UNINDEXED[c])}` : '');
  if (f.decision !== undefined) add(`${col('decision')} = ?${partial('decision', f.decision !== UNINDEXED.decision)}`, f.decision);
  if (f.status !== undefined) add(`${col('status')} = ?${partial('status', f.status !== UNINDEXED.status)}`, f.status);
  if (f.statusClass !== undefined) {
    const st = broad.has('status') ? `+${col('status')}` : col('status');
    add(`${st} >= ? AND ${st} < ?${partial('status', statusClassIndexed(f.statusClass) && !broad.has('status'))}`, f.statusClass * 100, f.statusClass * 100 + 100);
  }
  // A range instead of LIKE: it can use the (path, time) index and has no wildcard characters to escape.
  const pa = broad.has('path') ? `+${col('path')}` : col('path');
  if (f.path !== undefined) add(`${pa} >= ? AND ${pa} < ?`, f.path, `${f.path}\u{10FFFF}`);
  // No index on these two (see the note above where()): a term on the rows another index (or the
  // time index) finds, so the order stays the walked index's.
  if (f.credentialKind !== undefined) add(`${col('credential_kind')} = ?`, f.credentialKind);
  if (f.wouldDeny === 'any') add(`${col('would_deny')} IS NOT NULL`);
  else if (f.wouldDeny !== undefined) add(`${col('would_deny')} = ?`, f.wouldDeny);
  return { sql, params };
}

/**
 * The deferred index (audit-index.ts) the query walks: an equality filter's (token, user, client,
 * then ip: the narrower first), else a path prefix's unless it is broad (then the time index serves
 * it better, see where()).
 */
function deferredFor(f: SqlFilters, broad: ReadonlySet<'status' | 'path'>): DeferredIndex | undefined {
  if (f.token !== undefined) return DEFERRED_INDEXES.token;
  if (f.user !== undefined) return DEFERRED_INDEXES.user;
  if (f.client !== undefined) return DEFERRED_INDEXES.client;
  if (f.ip !== undefined) return DEFERRED_INDEXES.ip;
  if (f.path !== undefined && !broad.has('path')) return DEFERRED_INDEXES.path;
  return undefined;
}

interface SelectOptions {
  columns: readonly string[];
  /** Order by (time, id); none for a count. */
  order?: 'ASC' | 'DESC';
  /** A keyset position condition, named parameters only (it appears in both arms of a deferred query). */
  after?: (col: Col) => string;
  limit?: number;
}

/**
 * The SELECT for the filters. A filter with a deferred index (user, token, client, ip, path) reads three arms, merged in
 * (time, id) order: rows that have index entries, walking each of the index's two tables in order,
 * and the newest rows that have none yet (at most about audit.indexBatchRows), by rowid. Same rows and order as
 * one SQLite index would give; each arm reads its own through_id in the same statement.
 */
function selectSql(f: SqlFilters, broad: ReadonlySet<'status' | 'path'>, o: SelectOptions): { sql: string; params: unknown[] } {
  const arm = (col: Col, from: string, first: string | undefined) => {
    const w = where(f, broad, col);
    const conds = [...(first ? [first] : []), ...w.sql, ...(o.after ? [o.after(col)] : [])];
    return { sql: `SELECT ${o.columns.map(col).join(', ')} FROM ${from}${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''}`, params: w.params };
  };
  const tail = `${o.order ? ` ORDER BY time ${o.order}, id ${o.order}` : ''}${o.limit !== undefined ? ` LIMIT ${Math.trunc(o.limit)}` : ''}`;
  const ix = deferredFor(f, broad);
  if (!ix) {
    const a = arm(plain, 'audit_log', undefined);
    return { sql: a.sql + tail, params: a.params };
  }
  const x: Col = (c) => (c === 'time' || c === 'id' || c === ix.column ? `x.${c}` : `a.${c}`);
  // Both tiers of the index (audit-index.ts): a row's entry is in exactly one of them.
  const tier = (table: string) => arm(x, `${table} x JOIN audit_log a ON a.id = x.id`, `x.id <= ${throughIdSql(ix)}`);
  const main = tier(ix.table);
  const recent = tier(ix.recent);
  // NOT INDEXED: these rows are read by rowid range and sorted (they are few). Walking the time index
  // instead would pass over the whole older log looking for this arm's next row.
  const newest = arm(plain, 'audit_log NOT INDEXED', `id > ${throughIdSql(ix)}`);
  return { sql: `${main.sql} UNION ALL ${recent.sql} UNION ALL ${newest.sql}${tail}`, params: [...main.params, ...recent.params, ...newest.params] };
}

/** Which range filters are broad (see where()); probed through their index, at most RANGE_PROBE entries each. */
function broadRanges(db: Db, f: SqlFilters): Set<'status' | 'path'> {
  const broad = new Set<'status' | 'path'>();
  const indexedDecision = f.decision !== undefined && f.decision !== UNINDEXED.decision;
  const indexedStatus = f.status !== undefined && f.status !== UNINDEXED.status;
  // Indexed equalities only: credentialKind and wouldDeny have no index to narrow the rows with, so
  // with those alone a range still needs its probe.
  const hasEquality = indexedDecision || indexedStatus || [f.user, f.client, f.token, f.ip].some((v) => v !== undefined);
  if (hasEquality) return broad; // an equality index already narrows the rows and keeps time order
  // Each range through its own index, as where() writes it when the range is not broad.
  const probe = (from: string, w: Clause) =>
    (db.prepare(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${from} WHERE ${w.sql.join(' AND ')} LIMIT ${RANGE_PROBE})`).get(...w.params) as { n: number }).n >= RANGE_PROBE;
  // 2xx has no index (200 is left out of it): always walk the time index. Others: probe the partial index.
  if (f.statusClass !== undefined && (!statusClassIndexed(f.statusClass) || probe('audit_log', where({ statusClass: f.statusClass })))) broad.add('status');
  // The path index's two tables; rows newer than its through_id (at most audit.indexBatchRows) are not
  // counted: this only picks the plan, the query itself reads them.
  const tiers = `(SELECT path, time, id FROM ${DEFERRED_INDEXES.path.table} UNION ALL SELECT path, time, id FROM ${DEFERRED_INDEXES.path.recent})`;
  if (f.path !== undefined && probe(tiers, where({ path: f.path }))) broad.add('path');
  return broad;
}

/** Every stored column of audit_log, in the order rowOf reads them. */
export const COLUMN_LIST = [...REQUEST_COLUMNS, 'prev_hash', 'row_hash'];
export type RawRow = Array<string | number | null>;

/** A raw row (COLUMN_LIST order) as the store's record: no object with snake_case keys in between. */
export const rowOf = (replica: string, r: RawRow): AuditRow => ({
  replica,
  id: r[0] as number,
  time: r[1] as number,
  requestId: r[2] as string,
  decision: r[3] as AuditRow['decision'],
  reason: r[4] as string,
  status: r[5] as number,
  method: r[6] as string,
  path: r[7] as string,
  clientIp: r[8] as string,
  user: r[9] as string | null,
  credentialKind: r[10] as string | null,
  tokenId: r[11] as string | null,
  clientId: r[12] as string | null,
  issuer: r[13] as string | null,
  latencyMs: r[14] as number,
  upstreamStatus: r[15] as number | null,
  route: r[16] as string | null,
  stage: r[17] as string | null,
  rule: r[18] as string | null,
  wouldDeny: r[19] as string | null,
  userAgent: r[20] as string | null,
  facts: r[21] as string | null,
  prevHash: r[22] as string,
  rowHash: r[23] as string,
});

/** A keyset bound on this replica's rows: (time, id) and the id at that time to stop at. */
export interface Keyset {
  t: number;
  id: number;
}

/**
 * A position in (time, replica, id) order as a bound on one replica's rows in (time, id) order. At
 * the position's own time, another replica's position lies before or after all of this replica's
 * rows there; an id bound of 0 or MAX_SAFE_INTEGER says which (ids start at 1).
 * DESC reads `time <= t AND NOT (time = t AND id >= bound)`; ASC `time >= t AND NOT (time = t AND id <= bound)`.
 */
export function keysetOf(p: AuditPosition, replica: string, order: 'ASC' | 'DESC'): Keyset {
  if (p.replica === replica) return { t: p.time, id: p.id };
  const allAtTimeFollow = order === 'DESC' ? replica < p.replica : replica > p.replica;
  if (order === 'DESC') return { t: p.time, id: allAtTimeFollow ? Number.MAX_SAFE_INTEGER : 0 };
  return { t: p.time, id: allAtTimeFollow ? 0 : Number.MAX_SAFE_INTEGER };
}

/**
 * The page query. The cursor becomes the time bound itself (`time <= t`, ties broken by id) and
 * replaces `to`: with two upper bounds SQLite may range-scan on the looser one and re-read every
 * earlier page's rows on each page. (A cursor at or past `to` is the looser one: dropped instead.)
 */
function pageSql(db: Db, filters: SqlFilters, cursor: Keyset | undefined, limit: number): { sql: string; params: unknown[] } {
  const f = cursor ? { ...filters, to: undefined } : filters;
  const q = selectSql(f, broadRanges(db, filters), {
    columns: COLUMN_LIST,
    order: 'DESC',
    limit,
    after: cursor && ((c) => `${c('time')} <= @t AND NOT (${c('time')} = @t AND ${c('id')} >= @id)`),
  });
  return { sql: q.sql, params: cursor ? [...q.params, { t: cursor.t, id: cursor.id }] : q.params };
}

/** The SQL of a second page (with a cursor), for EXPLAIN QUERY PLAN in tests. */
export const auditQuerySql = (db: Db, filters: SqlFilters) => pageSql(db, filters, { t: Number.MAX_SAFE_INTEGER, id: Number.MAX_SAFE_INTEGER }, 101);

/** Statements kept: a deferred-index query is a UNION whose prepare costs more than a short page. */
const MAX_STATEMENTS = 128;
/** Filter sets whose broad ranges an export keeps between its chunks. */
const MAX_EXPORTS = 32;

/** The request-row reads of one SQLite store (one replica). */
export class SqliteAuditQueries {
  private readonly statements = new Map<string, Statement>();
  private readonly exportBroad = new Map<string, Set<'status' | 'path'>>();

  constructor(
    private readonly db: Db,
    private readonly replica: string,
  ) {}

  /** The filters without the replica, or undefined when they ask for another replica's rows (none here). */
  private own(f: AuditFilters): SqlFilters | undefined {
    const { replica, ...rest } = f;
    return replica === undefined || replica === this.replica ? rest : undefined;
  }

  private statement(sql: string): Statement {
    let s = this.statements.get(sql);
    if (!s) {
      if (this.statements.size >= MAX_STATEMENTS) this.statements.clear();
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private rows(q: { sql: string; params: unknown[] }): AuditRow[] {
    const raw = this.statement(q.sql).raw(true).all(...q.params) as RawRow[];
    return raw.map((r) => rowOf(this.replica, r));
  }

  /** Newest first, keyset-paged on (time, id): page N costs the same as page 1. */
  page(filters: AuditFilters, req: AuditPageRequest): AuditRow[] {
    const f = this.own(filters);
    if (!f) return [];
    let cursor = req.after && keysetOf(req.after, this.replica, 'DESC');
    if (cursor && f.to !== undefined && cursor.t >= f.to) cursor = undefined;
    return this.rows(pageSql(this.db, f, cursor, Math.max(1, Math.trunc(req.limit))));
  }

  /**
   * Oldest first, one export chunk. The position is the lower time bound itself (it replaces
   * `from`, as the cursor replaces `to` in a page). Which ranges are broad is probed at an export's
   * first chunk and kept for the chunks after it, as one plan for the whole export.
   */
  chunk(filters: AuditFilters, req: AuditPageRequest): AuditRow[] {
    const f = this.own(filters);
    if (!f) return [];
    let start: Keyset = { t: f.from ?? -Number.MAX_SAFE_INTEGER, id: 0 };
    if (req.after) {
      const k = keysetOf(req.after, this.replica, 'ASC');
      if (f.from === undefined || k.t >= f.from) start = k;
    }
    const key = JSON.stringify(f);
    let broad = req.after ? this.exportBroad.get(key) : undefined;
    if (!broad) {
      broad = broadRanges(this.db, f);
      if (this.exportBroad.size >= MAX_EXPORTS) this.exportBroad.clear();
      this.exportBroad.set(key, broad);
    }
    const q = selectSql({ ...f, from: undefined }, broad, {
      columns: COLUMN_LIST,
      order: 'ASC',
      limit: Math.max(1, Math.trunc(req.limit)),
      after: (c) => `${c('time')} >= @t AND NOT (${c('time')} = @t AND ${c('id')} <= @id)`,
    });
    return this.rows({ sql: q.sql, params: [...q.params, start] });
  }

  /** Rows matching the filters (the progress bar's total). */
  count(filters: AuditFilters): number {
    const f = this.own(filters);
    if (!f) return 0;
    const q = selectSql(f, new Set(), { columns: ['id'] });
    return this.statement(`SELECT COUNT(*) AS n FROM (${q.sql})`).pluck().get(...q.params) as number;
  }
}
