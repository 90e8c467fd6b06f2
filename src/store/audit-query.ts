// Reading the audit log: filtered keyset-paged queries (GET /api/audit) and streamed exports
// (GET /api/audit/export, `audit export`). Exports read in keyset chunks of EXPORT_CHUNK rows with
// one short statement each, so memory stays flat whatever the range and the shared connection is
// never held by an open iterator (the sink and retention keep writing in between).
import { Readable } from 'node:stream';
import type { Db } from './sqlite/db.js';
import type { AuditRecord } from '../pipeline/audit/sink.js';
import type { AdminAuditEntry } from '../admin/wire.js';
import { DEFERRED_INDEXES, throughIdSql, type DeferredIndex } from './audit-index.js';
export type { AdminAuditEntry };

export interface AuditFilters {
  /** Inclusive lower bound, ms since epoch. */
  from?: number;
  /** Exclusive upper bound, ms since epoch. */
  to?: number;
  user?: string;
  client?: string;
  token?: string;
  ip?: string;
  decision?: 'allow' | 'deny' | 'passthrough' | 'error';
  /** Exact status (403) or a class: 4 means 400-499 (written "4xx" in query strings). */
  status?: number;
  statusClass?: number;
  /** Path prefix. */
  path?: string;
}

/** One audit row as the API and exports show it: the AuditRecord with its id, ISO time and chain hashes. */
export type AuditEntry = Omit<AuditRecord, 'time'> & { id: number; time: string; prevHash: string; rowHash: string };

export const ENTRY_FIELDS: ReadonlyArray<[keyof AuditEntry, string]> = [
  ['id', 'id'], ['time', 'time'], ['requestId', 'request_id'], ['decision', 'decision'], ['reason', 'reason'], ['status', 'status'],
  ['method', 'method'], ['path', 'path'], ['clientIp', 'client_ip'], ['user', 'user'], ['credentialKind', 'credential_kind'],
  ['tokenId', 'token_id'], ['clientId', 'client_id'], ['issuer', 'issuer'], ['latencyMs', 'latency_ms'],
  ['upstreamStatus', 'upstream_status'], ['route', 'route'], ['stage', 'stage'], ['rule', 'rule'], ['prevHash', 'prev_hash'], ['rowHash', 'row_hash'],
];

/** The stored columns in ENTRY_FIELDS order (every column of audit_log). */
const COLUMN_LIST = ENTRY_FIELDS.map(([, col]) => col);

type StoredRow = Record<string, string | number | null>;

function toEntry(r: StoredRow): AuditEntry {
  const e = {} as Record<string, unknown>;
  for (const [k, col] of ENTRY_FIELDS) e[k] = r[col] ?? null;
  e.time = new Date(r.time as number).toISOString();
  return e as unknown as AuditEntry;
}

export class AuditFilterError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

const DECISIONS = new Set(['allow', 'deny', 'passthrough', 'error']);

function parseTime(field: string, v: string): number {
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n)) throw new AuditFilterError(field, 'use an ISO 8601 time (2026-01-31T00:00:00Z) or ms since the epoch');
  return n;
}

/**
 * Query-string values -> AuditFilters; throws AuditFilterError naming the bad field.
 * `{from: "2026-01-01", status: "4xx", path: "/rest/api/2/"}` -> `{from: 1767225600000, statusClass: 4, path: "/rest/api/2/"}`
 */
export function parseAuditFilters(q: Record<string, string | string[] | undefined>): AuditFilters {
  const one = (k: string) => {
    const v = q[k];
    const s = Array.isArray(v) ? v[0] : v;
    return s === undefined || s === '' ? undefined : s;
  };
  const f: AuditFilters = {};
  const from = one('from');
  const to = one('to');
  if (from) f.from = parseTime('from', from);
  if (to) f.to = parseTime('to', to);
  for (const k of ['user', 'client', 'token', 'ip', 'path'] as const) {
    const v = one(k);
    if (v !== undefined) f[k] = v.slice(0, 2048);
  }
  const decision = one('decision');
  if (decision) {
    if (!DECISIONS.has(decision)) throw new AuditFilterError('decision', 'one of allow, deny, passthrough, error');
    f.decision = decision as AuditFilters['decision'];
  }
  const status = one('status');
  if (status) {
    if (/^[1-5]xx$/i.test(status)) f.statusClass = Number(status[0]);
    else if (/^[1-5]\d\d$/.test(status)) f.status = Number(status);
    else throw new AuditFilterError('status', 'an HTTP status (403) or a class (4xx)');
  }
  if (f.path !== undefined && !f.path.startsWith('/')) throw new AuditFilterError('path', 'a path prefix starting with "/"');
  return f;
}

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
 * WHERE clause + parameters for the filters (every column here has an index ending in time).
 * `broad` lists range filters (status class, path prefix) that match at least RANGE_PROBE rows: for
 * those, searching their own index means sorting every match on each page (seconds at millions of
 * rows), while walking the time index and filtering finds a page after about limit / selectivity
 * rows. A leading `+` keeps SQLite from using that index (sqlite.org/optoverview.html#disqualifying_where_clause_terms_using_unary_).
 */
function where(f: AuditFilters, broad: ReadonlySet<'status' | 'path'> = new Set(), col: Col = plain): Clause {
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
  return { sql, params };
}

/**
 * The deferred index (audit-index.ts) the query walks: an equality filter's (token, user, client,
 * then ip: the narrower first), else a path prefix's unless it is broad (then the time index serves
 * it better, see where()).
 */
function deferredFor(f: AuditFilters, broad: ReadonlySet<'status' | 'path'>): DeferredIndex | undefined {
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
 * The SELECT for the filters. A filter with a deferred index (user, token, client, ip, path) reads two arms, merged in
 * (time, id) order: rows that have index entries, walking the index table in order, and the newest
 * rows that have none yet (at most about audit.indexBatchRows), by rowid. Same rows and order as
 * one SQLite index would give; each arm reads its own through_id in the same statement.
 */
function selectSql(f: AuditFilters, broad: ReadonlySet<'status' | 'path'>, o: SelectOptions): { sql: string; params: unknown[] } {
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
  const indexed = arm(x, `${ix.table} x JOIN audit_log a ON a.id = x.id`, `x.id <= ${throughIdSql(ix)}`);
  // NOT INDEXED: these rows are read by rowid range and sorted (they are few). Walking the time index
  // instead would pass over the whole older log looking for this arm's next row.
  const newest = arm(plain, 'audit_log NOT INDEXED', `id > ${throughIdSql(ix)}`);
  return { sql: `${indexed.sql} UNION ALL ${newest.sql}${tail}`, params: [...indexed.params, ...newest.params] };
}


/** Which range filters are broad (see where()); probed through their index, at most RANGE_PROBE entries each. */
function broadRanges(db: Db, f: AuditFilters): Set<'status' | 'path'> {
  const broad = new Set<'status' | 'path'>();
  const indexedDecision = f.decision !== undefined && f.decision !== UNINDEXED.decision;
  const indexedStatus = f.status !== undefined && f.status !== UNINDEXED.status;
  const hasEquality = indexedDecision || indexedStatus || [f.user, f.client, f.token, f.ip].some((v) => v !== undefined);
  if (hasEquality) return broad; // an equality index already narrows the rows and keeps time order
  // Each range through its own index, as where() writes it when the range is not broad.
  const probe = (from: string, w: Clause) =>
    (db.prepare(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${from} WHERE ${w.sql.join(' AND ')} LIMIT ${RANGE_PROBE})`).get(...w.params) as { n: number }).n >= RANGE_PROBE;
  // 2xx has no index (200 is left out of it): always walk the time index. Others: probe the partial index.
  if (f.statusClass !== undefined && (!statusClassIndexed(f.statusClass) || probe('audit_log', where({ statusClass: f.statusClass })))) broad.add('status');
  // The path index table; rows newer than its through_id (at most audit.indexBatchRows) are not
  // counted: this only picks the plan, the query itself reads them.
  if (f.path !== undefined && probe(DEFERRED_INDEXES.path.table, where({ path: f.path }))) broad.add('path');
  return broad;
}

export interface Page {
  limit?: number;
  /** Opaque value from a previous page's nextCursor. */
  cursor?: string;
}

export interface AuditPage {
  items: AuditEntry[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

const encodeCursor = (time: number, id: number) => Buffer.from(`${time}:${id}`).toString('base64url');
function decodeCursor(c: string): [number, number] {
  const m = /^(\d+):(\d+)$/.exec(Buffer.from(c, 'base64url').toString());
  if (!m) throw new AuditFilterError('cursor', 'not a cursor returned by this API');
  return [Number(m[1]), Number(m[2])];
}

export const MAX_PAGE = 1000;

/**
 * The page query. The cursor becomes the time bound itself (`time <= t`, ties broken by id) and
 * replaces `to`: with two upper bounds SQLite may range-scan on the looser one and re-read every
 * earlier page's rows on each page.
 */
function pageSql(db: Db, filters: AuditFilters, cursor: [number, number] | undefined, limit: number): { sql: string; params: unknown[] } {
  const f = cursor ? { ...filters, to: undefined } : filters;
  const q = selectSql(f, broadRanges(db, filters), {
    columns: COLUMN_LIST,
    order: 'DESC',
    limit,
    after: cursor && ((c) => `${c('time')} <= @t AND NOT (${c('time')} = @t AND ${c('id')} >= @id)`),
  });
  return { sql: q.sql, params: cursor ? [...q.params, { t: cursor[0], id: cursor[1] }] : q.params };
}

/** Newest first, keyset-paged on (time, id): page N costs the same as page 1. */
export function queryAudit(db: Db, filters: AuditFilters, page: Page = {}): AuditPage {
  const limit = Math.min(MAX_PAGE, Math.max(1, Math.trunc(page.limit ?? 100)));
  const { sql, params } = pageSql(db, filters, page.cursor ? decodeCursor(page.cursor) : undefined, limit + 1);
  const rows = db.prepare(sql).all(...params) as StoredRow[];
  const more = rows.length > limit;
  const items = rows.slice(0, limit).map(toEntry);
  const last = rows[limit - 1];
  return { items, nextCursor: more && last ? encodeCursor(last.time as number, last.id as number) : null };
}

/** The SQL of a second page (with a cursor), for EXPLAIN QUERY PLAN in tests. */
export const auditQuerySql = (db: Db, filters: AuditFilters) => pageSql(db, filters, [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER], 101);

/** Rows matching the filters (the progress bar's total). */
export function countAudit(db: Db, filters: AuditFilters): number {
  const q = selectSql(filters, new Set(), { columns: ['id'] });
  return (db.prepare(`SELECT COUNT(*) AS n FROM (${q.sql})`).get(...q.params) as { n: number }).n;
}

// ---- CSV (RFC 4180) ----

/** A cell a spreadsheet would run as a formula (OWASP "CSV injection"): = + - @ TAB CR. */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV field: neutralised with a leading ' when it starts like a formula, then quoted (RFC 4180
 * section 2.6-2.7) when it contains a comma, a double quote, CR or LF. Numbers are written as they are.
 */
export function csvCell(v: string | number | null): string {
  if (v === null) return '';
  if (typeof v === 'number') return String(v);
  let s = FORMULA_START.test(v) ? `'${v}` : v;
  if (/[",\r\n]/.test(s)) s = `"${s.replace(/"/g, '""')}"`;
  return s;
}

const TIME_AT = COLUMN_LIST.indexOf('time');
const ID_AT = COLUMN_LIST.indexOf('id');
type RawRow = Array<string | number | null>;

export const csvHeader = () => `${COLUMN_LIST.join(',')}\r\n`;
/** One stored row (columns in ENTRY_FIELDS order) as a CSV line; time as ISO 8601. */
const csvRaw = (r: RawRow) => `${r.map((v, i) => (i === TIME_AT ? new Date(v as number).toISOString() : csvCell(v))).join(',')}\r\n`;
const ndjsonRaw = (r: RawRow) => {
  const e: Record<string, unknown> = {};
  ENTRY_FIELDS.forEach(([k], i) => (e[k] = i === TIME_AT ? new Date(r[i] as number).toISOString() : r[i]));
  return `${JSON.stringify(e)}\n`;
};

export type ExportFormat = 'csv' | 'ndjson';

export const EXPORT_CHUNK = 1000;

export interface ExportOptions {
  /** Called after each chunk with the rows written so far (progress bars). */
  onRows?: (total: number) => void;
}

/**
 * The filtered rows, oldest first, as a byte stream in CSV (with a header line, CRLF line ends) or
 * NDJSON. Reads one chunk per _read(), so a slow consumer holds at most a chunk or two in memory.
 */
export function exportAudit(db: Db, filters: AuditFilters, format: ExportFormat, opts: ExportOptions = {}): Readable {
  // Raw arrays in a fixed column order: no object per row on the hot loop of a million-row export.
  // The position after the last chunk is the lower time bound itself (it replaces `from`, see pageSql).
  const q = selectSql({ ...filters, from: undefined }, broadRanges(db, filters), {
    columns: COLUMN_LIST,
    order: 'ASC',
    limit: EXPORT_CHUNK,
    after: (c) => `${c('time')} >= @t AND NOT (${c('time')} = @t AND ${c('id')} <= @id)`,
  });
  const stmt = db.prepare(q.sql).raw(true);
  const line = format === 'csv' ? csvRaw : ndjsonRaw;
  let after: [number, number] = [filters.from ?? -Number.MAX_SAFE_INTEGER, 0];
  let total = 0;
  let headerSent = format !== 'csv';
  return new Readable({
    highWaterMark: 256 * 1024,
    read() {
      try {
        let out = '';
        if (!headerSent) {
          out = csvHeader();
          headerSent = true;
        }
        const rows = stmt.all(...q.params, { t: after[0], id: after[1] }) as RawRow[];
        for (const r of rows) out += line(r);
        const last = rows[rows.length - 1];
        if (last) {
          after = [last[TIME_AT] as number, last[ID_AT] as number];
          total += rows.length;
          opts.onRows?.(total);
        }
        if (out) this.push(out);
        if (rows.length < EXPORT_CHUNK) this.push(null);
      } catch (e) {
        this.destroy(e as Error);
      }
    },
  });
}

// ---- admin actions ----

/** Admin actions, newest first, keyset-paged on id (the admin chain is written in time order). */
export function queryAdminAudit(db: Db, page: Page = {}): { items: AdminAuditEntry[]; nextCursor: string | null } {
  const limit = Math.min(MAX_PAGE, Math.max(1, Math.trunc(page.limit ?? 100)));
  let before = Number.MAX_SAFE_INTEGER;
  if (page.cursor) {
    const m = /^(\d+)$/.exec(Buffer.from(page.cursor, 'base64url').toString());
    if (!m) throw new AuditFilterError('cursor', 'not a cursor returned by this API');
    before = Number(m[1]);
  }
  const rows = db.prepare('SELECT * FROM admin_audit WHERE id < ? ORDER BY id DESC LIMIT ?').all(before, limit + 1) as StoredRow[];
  const parse = (v: string | number | null | undefined) => (typeof v === 'string' ? (JSON.parse(v) as unknown) : null);
  const items = rows.slice(0, limit).map((r) => ({
    id: r.id as number,
    time: new Date(r.time as number).toISOString(),
    actor: r.actor as string,
    action: r.action as string,
    target: (r.target as string | null) ?? null,
    before: parse(r.before_json),
    after: parse(r.after_json),
    rowHash: r.row_hash as string,
  }));
  const last = items[limit - 1];
  return { items, nextCursor: rows.length > limit && last ? Buffer.from(String(last.id)).toString('base64url') : null };
}
