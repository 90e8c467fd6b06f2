// AuditStore on PostgreSQL: one shared log for every replica of a cluster, each replica appending
// to request and admin chains of its own (audit-store.ts). The chain format is audit/chain.ts and
// the semantics are those of the SQLite store (writer, verify, retention); the differences are
// what several processes on one database need:
// - a writer takes a transaction-scoped advisory lock per chain before reading its head, so two
//   processes started with the same replica name queue behind each other instead of forking it;
// - retention runs on one replica at a time (a session advisory lock on a fixed key);
// - the planner has statistics, so range filters need no probe to choose between indexes.
// Schema: migrations/postgres/0003_audit.sql.
import type pg from 'pg';
import { ADMIN_COLUMNS, adminColumnsOf, ChainWalk, GENESIS, hashCanonical, hashRow, REQUEST_COLUMNS, REQUEST_REQUIRED_COLUMNS, requestColumnsOf, type ChainRow } from '../../audit/chain.js';
import { ENCODED_COLUMNS, padEncoded, rowJson, stored } from '../../audit/encode.js';
import type { TopDimension, TopGroup } from '../audit-store.js';
import type {
  AdminAuditRow,
  AuditBatchWriter,
  AuditFilters,
  AuditPageRequest,
  AuditRow,
  AuditStore,
  AuditWriteError,
  ChainAnchor,
  ChainHead,
  ChainId,
  ChainKind,
  ChainReport,
  ChainRows,
  NewAdminRow,
  OverviewGroup,
  RetentionResult,
  RetentionSettings,
} from '../audit-store.js';
import { inTransaction } from './pool.js';

/** pg_try_advisory_lock key of the retention pass: any fixed bigint; this one spells "jas-prun". */
export const PRUNE_LOCK_KEY = '7665534679758566766';

/**
 * How long a writer waits for another writer of the same chain (lock_timeout). Past it the batch
 * answers 'busy' and the sink retries: shorter than the pool's statement_timeout, which would
 * cancel the wait as an error ('write_failed', which stops acceptance) instead.
 */
const LOCK_WAIT_MS = 2000;

/** Rows per statement while verifying: memory stays flat whatever the chain's length. */
const VERIFY_BATCH = 5000;

const DAY_MS = 86_400_000;

type Queryable = Pick<pg.Pool, 'query'>;

const CHAINS: Record<ChainKind, { table: string; columns: readonly string[] }> = {
  request: { table: 'audit_log', columns: REQUEST_COLUMNS },
  admin: { table: 'admin_audit', columns: ADMIN_COLUMNS },
};

/** The audit column each overview dimension groups by (fixed names: never from input). */
const TOP_COLUMNS: Record<TopDimension, string> = { user: '"user"', token: 'token_id', client: 'client_id', path: 'path' };

/** "user" is a reserved word in PostgreSQL (SQLite takes it bare). */
const ident = (column: string) => (column === 'user' ? '"user"' : column);

/** SQL types of the non-text chain columns (arrays bound to unnest need them spelled out). */
const COLUMN_TYPES: Record<string, string> = { id: 'bigint', time: 'bigint', status: 'integer', latency_ms: 'integer', upstream_status: 'integer' };

/**
 * PostgreSQL refuses U+0000 in text (SQLite stores it), and a string from a client (a JWT claim, a
 * decoded path) may hold one: it becomes U+FFFD before hashing, as stored() does for lone
 * surrogates, so a row that reaches the table verifies. JSON.stringify writes U+0000 as \u0000; a
 * literal backslash-u0000 in a string matches too and only costs a needless re-encode.
 */
const NUL = /\0/g;
const noNul = (v: string | null): string | null => (v === null ? null : v.replace(NUL, '\uFFFD'));
function encodedWithoutNul(encoded: string): string {
  if (!encoded.includes('\\u0000')) return encoded;
  const values = JSON.parse(encoded) as unknown[];
  return JSON.stringify(values.map((v) => (typeof v === 'string' ? noNul(v) : v)));
}

// ---- writing ----

interface Head {
  id: number;
  hash: string;
}

/**
 * The head of this replica's chain (its newest row, else its retention anchor, else genesis), read
 * under a transaction-scoped advisory lock on the chain: a second writer of the same chain waits
 * until this transaction ends and then reads the head it wrote. The lock is its own statement so
 * the head read's snapshot is taken after the previous holder committed (READ COMMITTED). One round
 * trip for the timeout and the lock: the FROM subquery calls a volatile function, so the planner
 * never flattens it and set_config runs before the lock is requested.
 */
async function lockedHead(c: pg.PoolClient, kind: ChainKind, replica: string): Promise<Head> {
  await c.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0)) FROM (SELECT set_config('lock_timeout', $2, true)) AS t`, [
    `audit:${kind}:${replica}`,
    `${LOCK_WAIT_MS}ms`,
  ]);
  return readHead(c, kind, replica);
}

/** The head itself (newest row, else anchor, else genesis), without a lock. */
async function readHead(c: Queryable, kind: ChainKind, replica: string): Promise<Head> {
  const { table } = CHAINS[kind];
  const r = await c.query<Head>(
    `SELECT id, hash FROM (
       (SELECT id, row_hash AS hash, 1 AS pri FROM ${table} WHERE replica = $1 ORDER BY id DESC LIMIT 1)
       UNION ALL
       SELECT last_id, last_hash, 2 FROM audit_anchor WHERE kind = $2 AND replica = $1
     ) AS h ORDER BY pri LIMIT 1`,
    [replica, kind],
  );
  return r.rows[0] ?? { id: 0, hash: GENESIS };
}

/**
 * A chain's rows, every column bound as one array and zipped back into rows by unnest: one
 * statement per batch whatever its size (a VALUES list would bind rows x 21 parameters, past the
 * protocol's 65,535 at ~3,000 rows). The columns: the id, the values, the links. The writer binds
 * request rows so; a copy (restoreChain) binds rows of either chain as another store read them.
 */
const chainInsert = (kind: ChainKind) => {
  const { table, columns } = CHAINS[kind];
  const cols = [...columns, 'prev_hash', 'row_hash'];
  return {
    cols,
    sql: `INSERT INTO ${table} (replica, ${cols.map(ident).join(', ')})
  SELECT $1::text, * FROM unnest(${cols.map((c, i) => `$${i + 2}::${COLUMN_TYPES[c] ?? 'text'}[]`).join(', ')})`,
  };
};
const INSERT: Record<ChainKind, { cols: string[]; sql: string }> = { request: chainInsert('request'), admin: chainInsert('admin') };

async function appendRequests(pool: pg.Pool, replica: string, rows: readonly string[]): Promise<void> {
  // Parsed before the lock is taken: the lock is held only for hashing and the statements.
  const encoded = rows.map(encodedWithoutNul);
  const columns: unknown[][] = ENCODED_COLUMNS.map(() => new Array<unknown>(rows.length));
  encoded.forEach((e, r) => {
    const values = JSON.parse(e) as unknown;
    if (!Array.isArray(values) || values.length < REQUEST_REQUIRED_COLUMNS - 1 || values.length > ENCODED_COLUMNS.length) throw new Error(`audit row ${r} is not an encoded row (audit/encode.ts)`);
    padEncoded(values as Array<string | number | null>).forEach((v, c) => (columns[c]![r] = v));
  });
  await inTransaction(pool, async (c) => {
    let { id, hash } = await lockedHead(c, 'request', replica);
    const ids = new Array<number>(rows.length);
    const prev = new Array<string>(rows.length);
    const next = new Array<string>(rows.length);
    encoded.forEach((e, r) => {
      ids[r] = ++id;
      prev[r] = hash;
      hash = next[r] = hashCanonical(hash, rowJson(id, e));
    });
    await c.query(INSERT.request.sql, [replica, ids, ...columns, prev, next]);
  });
}

/** SQLSTATE -> how the sink treats a failed batch (audit-store.ts AuditWriteError). */
export function pgWriteErrorKind(code: string): AuditWriteError['kind'] {
  // Class 53: insufficient resources (disk_full 53100, out_of_memory, too_many_connections).
  if (code.startsWith('53')) return 'storage_full';
  // Another writer or a conflict: lock_not_available (our lock_timeout), serialization, deadlock.
  if (code === '55P03' || code === '40001' || code === '40P01') return 'busy';
  return 'write_failed';
}

function toWriteError(e: unknown): AuditWriteError {
  const code = String((e as { code?: unknown })?.code ?? '');
  return { kind: pgWriteErrorKind(code), code, message: String((e as Error)?.message ?? e) };
}

/**
 * This replica's request chain writer. The mode is SQLite's choice of thread: here the I/O is
 * asynchronous already and hashing costs a few µs per row, so both modes write from the event loop.
 */
class PgRequestWriter implements AuditBatchWriter {
  constructor(
    private readonly pool: pg.Pool,
    private readonly replica: string,
  ) {}

  /** indexBatchRows is SQLite's deferred-index batch: PostgreSQL's indexes are written with the rows. */
  async write(rows: string[]): Promise<AuditWriteError | undefined> {
    if (rows.length === 0) return undefined;
    try {
      await appendRequests(this.pool, this.replica, rows);
      return undefined;
    } catch (e) {
      return toWriteError(e);
    }
  }

  /** A pending query keeps its socket, and so the process, alive. */
  keepAlive(): void {}

  /** The pool belongs to Stores and is ended by Stores.close. */
  async close(): Promise<void> {}
}

// ---- reading ----

/** Columns of a request row, named as AuditRow. */
const ROW_COLUMNS = [
  'replica', 'id', 'time', 'request_id AS "requestId"', 'decision', 'reason', 'status', 'method', 'path', 'client_ip AS "clientIp"', '"user"',
  'credential_kind AS "credentialKind"', 'token_id AS "tokenId"', 'client_id AS "clientId"', 'issuer', 'latency_ms AS "latencyMs"',
  'upstream_status AS "upstreamStatus"', 'route', 'stage', 'rule', 'would_deny AS "wouldDeny"', 'user_agent AS "userAgent"', 'facts', 'prev_hash AS "prevHash"', 'row_hash AS "rowHash"',
].join(', ');

const ADMIN_ROW_COLUMNS =
  'replica, id, time, actor, action, target, before_json AS "beforeJson", after_json AS "afterJson", prev_hash AS "prevHash", row_hash AS "rowHash"';

const ANCHOR_COLUMNS = 'last_id AS "lastId", last_hash AS "lastHash", last_time AS "lastTime", deleted_total AS "deletedTotal", updated_at AS "updatedAt"';

/** Positional parameters, each with its type spelled out (a bare $n next to a row comparison is ambiguous). */
class Params {
  readonly values: unknown[] = [];
  add(v: unknown, type: 'bigint' | 'integer' | 'text'): string {
    this.values.push(v);
    return `$${this.values.length}::${type}`;
  }
}

/** No stored string holds U+0000 (noNul), and PostgreSQL refuses one as a parameter: nothing can match. */
const unmatchable = (f: AuditFilters) => [f.user, f.client, f.token, f.ip, f.path, f.replica, f.decision, f.credentialKind, f.wouldDeny].some((v) => v?.includes('\0'));

/**
 * WHERE terms of the filters. Times are rounded up: stored times are integers, so `time >= 1.5`
 * and `time < 1.5` mean >= 2 and < 2, and a bigint parameter takes no fraction.
 */
function filterTerms(f: AuditFilters, p: Params): string[] {
  const t: string[] = [];
  if (f.from !== undefined) t.push(`time >= ${p.add(Math.ceil(f.from), 'bigint')}`);
  if (f.to !== undefined) t.push(`time < ${p.add(Math.ceil(f.to), 'bigint')}`);
  if (f.user !== undefined) t.push(`"user" = ${p.add(f.user, 'text')}`);
  if (f.client !== undefined) t.push(`client_id = ${p.add(f.client, 'text')}`);
  if (f.token !== undefined) t.push(`token_id = ${p.add(f.token, 'text')}`);
  if (f.ip !== undefined) t.push(`client_ip = ${p.add(f.ip, 'text')}`);
  if (f.replica !== undefined) t.push(`replica = ${p.add(f.replica, 'text')}`);
  // The partial indexes' own predicates, literally, so the planner may pick them (the migration).
  if (f.decision !== undefined) t.push(`decision = ${p.add(f.decision, 'text')}${f.decision !== 'allow' ? ` AND decision <> 'allow'` : ''}`);
  if (f.status !== undefined) t.push(`status = ${p.add(f.status, 'integer')}${f.status !== 200 ? ' AND status <> 200' : ''}`);
  if (f.statusClass !== undefined) {
    const lo = f.statusClass * 100;
    t.push(`status >= ${p.add(lo, 'integer')} AND status < ${p.add(lo + 100, 'integer')}${f.statusClass !== 2 ? ' AND status <> 200' : ''}`);
  }
  // A range, as on SQLite: no wildcard to escape (% and _ are plain characters), and byte order
  // (COLLATE "C") puts every string that starts with p inside [p, p || U+10FFFF).
  if (f.path !== undefined) t.push(`path >= ${p.add(f.path, 'text')} AND path < ${p.add(`${f.path}\u{10FFFF}`, 'text')}`);
  // No index on either: the planner filters the rows another index walks, in that index's order.
  if (f.credentialKind !== undefined) t.push(`credential_kind = ${p.add(f.credentialKind, 'text')}`);
  if (f.wouldDeny === 'any') t.push('would_deny IS NOT NULL');
  else if (f.wouldDeny !== undefined) t.push(`would_deny = ${p.add(f.wouldDeny, 'text')}`);
  return t;
}

const whereSql = (terms: readonly string[]) => (terms.length ? ` WHERE ${terms.join(' AND ')}` : '');

/** LIMIT of a page request: a whole number of rows, at least one (as the SQLite store reads it). */
const limitOf = (req: AuditPageRequest) => Math.min(Number.MAX_SAFE_INTEGER, Math.max(1, Math.trunc(req.limit) || 1));

/** The keyset term: rows strictly after `after` in the listing's order. */
function afterTerm(req: AuditPageRequest, dir: 'ASC' | 'DESC', p: Params): string[] {
  const a = req.after;
  if (!a) return [];
  return [`(time, replica, id) ${dir === 'DESC' ? '<' : '>'} (${p.add(a.time, 'bigint')}, ${p.add(a.replica, 'text')}, ${p.add(a.id, 'bigint')})`];
}

/** A page (DESC) or chunk (ASC) as SQL; exported so tests can EXPLAIN it against the indexes. */
export function listQuery(filters: AuditFilters, req: AuditPageRequest, dir: 'ASC' | 'DESC'): { sql: string; values: unknown[] } {
  const p = new Params();
  // Past the first chunk the keyset is the bound the listing starts from: the period's own bound on
  // that side (from, ascending; to, descending) is implied by it and left out, else the planner starts
  // each chunk's index scan at that bound and walks every row read before again (measured: replaying a
  // million rows took minutes instead of seconds).
  // (Only when it is implied: a cursor from a client may point anywhere.)
  const a = req.after;
  const implied = a !== undefined && (dir === 'ASC' ? filters.from === undefined || a.time >= filters.from : filters.to === undefined || a.time < filters.to);
  const f = implied ? { ...filters, ...(dir === 'ASC' ? { from: undefined } : { to: undefined }) } : filters;
  const terms = [...filterTerms(f, p), ...afterTerm(req, dir, p)];
  return { sql: `SELECT ${ROW_COLUMNS} FROM audit_log${whereSql(terms)} ORDER BY time ${dir}, replica ${dir}, id ${dir} LIMIT ${limitOf(req)}`, values: p.values };
}

// ---- retention ----

/** Which rows at the front of a chain a retention step deletes: a boolean SQL term on the row. */
interface Cut {
  sql: string;
  params: unknown[];
}

const olderThan = (time: number): Cut => ({ sql: 'time < $3::bigint', params: [time] });
/** At or before a position in (time, replica, id) order: the cut of the count step. */
const atOrBefore = (pos: { time: number; replica: string; id: number }): Cut => ({
  sql: '(time, replica, id) <= ($3::bigint, $4::text, $5::bigint)',
  params: [pos.time, pos.replica, pos.id],
});

const UPSERT_ANCHOR = `INSERT INTO audit_anchor (kind, replica, last_id, last_hash, last_time, deleted_total, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
  ON CONFLICT (kind, replica) DO UPDATE SET last_id = excluded.last_id, last_hash = excluded.last_hash, last_time = excluded.last_time,
    deleted_total = audit_anchor.deleted_total + excluded.deleted_total, updated_at = excluded.updated_at`;

/** BEGIN/COMMIT on a client already held (the retention pass keeps its lock's connection). */
async function onClient<T>(c: pg.PoolClient, fn: () => Promise<T>): Promise<T> {
  await c.query('BEGIN');
  try {
    const out = await fn();
    await c.query('COMMIT');
    return out;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => {});
    throw e;
  }
}

/**
 * Deletes up to batchRows rows from the front of one chain, as far as the cut holds in id order
 * (the first row it does not hold for ends the prefix, as on SQLite), and moves the anchor to the
 * last deleted row in the same transaction: verify never sees rows gone without their anchor.
 */
async function pruneBatch(c: pg.PoolClient, chain: ChainId, cut: Cut, batchRows: number, now: number): Promise<number> {
  const { table } = CHAINS[chain.kind];
  return onClient(c, async () => {
    const rows = (
      await c.query<{ id: number; time: number; row_hash: string; cut: boolean }>(
        `SELECT id, time, row_hash, ${cut.sql} AS cut FROM ${table} WHERE replica = $1 ORDER BY id LIMIT $2`,
        [chain.replica, batchRows, ...cut.params],
      )
    ).rows;
    let n = 0;
    while (n < rows.length && rows[n]!.cut) n++;
    if (n === 0) return 0;
    const last = rows[n - 1]!;
    const deleted = (await c.query(`DELETE FROM ${table} WHERE replica = $1 AND id BETWEEN $2 AND $3`, [chain.replica, rows[0]!.id, last.id])).rowCount ?? 0;
    await c.query(UPSERT_ANCHOR, [chain.kind, chain.replica, last.id, last.row_hash, last.time, deleted, now]);
    return deleted;
  });
}

/** pruneBatch until a batch comes back short or the signal fires; the awaits let requests in between. */
async function pruneChain(c: pg.PoolClient, chain: ChainId, cut: Cut, batchRows: number, s: RetentionSettings): Promise<number> {
  let total = 0;
  for (;;) {
    if (s.signal?.aborted) return total;
    const n = await pruneBatch(c, chain, cut, batchRows, s.now);
    total += n;
    if (n < batchRows) return total;
  }
}

// ---- the store ----

export class PgAuditStore implements AuditStore {
  constructor(
    private readonly pool: pg.Pool,
    readonly replica: string,
  ) {}

  requestWriter(_mode: 'worker' | 'inline'): AuditBatchWriter {
    return new PgRequestWriter(this.pool, this.replica);
  }

  async appendAdmin(row: NewAdminRow): Promise<number> {
    const values = {
      time: Math.trunc(row.time),
      actor: noNul(stored(row.actor)),
      action: noNul(stored(row.action)),
      target: noNul(stored(row.target)),
      before_json: noNul(stored(row.beforeJson)),
      after_json: noNul(stored(row.afterJson)),
    };
    return inTransaction(this.pool, async (c) => {
      const head = await lockedHead(c, 'admin', this.replica);
      const r: ChainRow = { id: head.id + 1, ...values };
      const rowHash = hashRow(head.hash, r, ADMIN_COLUMNS);
      await c.query(
        `INSERT INTO admin_audit (replica, id, time, actor, action, target, before_json, after_json, prev_hash, row_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [this.replica, r.id, values.time, values.actor, values.action, values.target, values.before_json, values.after_json, head.hash, rowHash],
      );
      return r.id as number;
    });
  }

  page(filters: AuditFilters, req: AuditPageRequest): Promise<AuditRow[]> {
    return this.list(filters, req, 'DESC');
  }

  chunk(filters: AuditFilters, req: AuditPageRequest): Promise<AuditRow[]> {
    return this.list(filters, req, 'ASC');
  }

  private async list(filters: AuditFilters, req: AuditPageRequest, dir: 'ASC' | 'DESC'): Promise<AuditRow[]> {
    if (unmatchable(filters)) return [];
    const q = listQuery(filters, req, dir);
    return (await this.pool.query<AuditRow>(q.sql, q.values)).rows;
  }

  async count(filters: AuditFilters): Promise<number> {
    if (unmatchable(filters)) return 0;
    const p = new Params();
    const r = await this.pool.query<{ n: number }>(`SELECT count(*) AS n FROM audit_log${whereSql(filterTerms(filters, p))}`, p.values);
    return r.rows[0]!.n;
  }

  async adminPage(req: AuditPageRequest): Promise<AdminAuditRow[]> {
    const p = new Params();
    const sql = `SELECT ${ADMIN_ROW_COLUMNS} FROM admin_audit${whereSql(afterTerm(req, 'DESC', p))} ORDER BY time DESC, replica DESC, id DESC LIMIT ${limitOf(req)}`;
    return (await this.pool.query<AdminAuditRow>(sql, p.values)).rows;
  }

  chains(): Promise<ChainId[]> {
    return chainsOf(this.pool);
  }

  /**
   * Walks one chain in id order from its anchor, inside one REPEATABLE READ snapshot: rows written
   * and pruned meanwhile by any replica are not seen, so they cannot look like breaks. Keyset
   * batches of VERIFY_BATCH rows: each statement is short (statement_timeout) and memory flat.
   */
  async verify(chain: ChainId, onProgress?: (checked: number) => void): Promise<ChainReport> {
    const { table, columns } = CHAINS[chain.kind];
    const select = `SELECT ${columns.map(ident).join(', ')}, prev_hash, row_hash FROM ${table} WHERE replica = $1 AND id > $2 ORDER BY id LIMIT ${VERIFY_BATCH}`;
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const anchor = (
        await c.query<{ last_id: number; last_hash: string }>('SELECT last_id, last_hash FROM audit_anchor WHERE kind = $1 AND replica = $2', [
          chain.kind,
          chain.replica,
        ])
      ).rows[0];
      const walk = new ChainWalk(chain, anchor && { id: anchor.last_id, hash: anchor.last_hash }, columns, onProgress);
      // Below any id: a row planted before the anchor is walked too, and reported.
      let after: number | string = '-9223372036854775808';
      for (;;) {
        const rows = (await c.query<ChainRow>(select, [chain.replica, after])).rows;
        for (const row of rows) {
          const broken = walk.step(row);
          if (broken) return broken;
        }
        if (rows.length < VERIFY_BATCH) break;
        after = rows[rows.length - 1]!.id as number;
      }
      return walk.done();
    } finally {
      await c.query('ROLLBACK').catch(() => {});
      c.release();
    }
  }

  /**
   * One retention pass, on one replica of the cluster at a time: the others find the lock taken and
   * return zeros (the holder is doing the same work). The lock is a session lock on the pass's own
   * connection, released before the connection returns to the pool, or with it when it breaks.
   */
  async prune(s: RetentionSettings): Promise<RetentionResult> {
    const c = await this.pool.connect();
    let broken: Error | undefined;
    try {
      const locked = (await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [PRUNE_LOCK_KEY])).rows[0]!.ok;
      if (!locked) return { deletedByAge: 0, deletedByCount: 0 };
      try {
        return await prunePass(c, s);
      } finally {
        await c.query('SELECT pg_advisory_unlock($1::bigint)', [PRUNE_LOCK_KEY]).catch((e: Error) => (broken = e));
      }
    } finally {
      // A connection whose unlock failed is closed, not pooled: its session may still hold the lock.
      c.release(broken);
    }
  }

  async overview(start: number, end: number): Promise<OverviewGroup[]> {
    const r = await this.pool.query<OverviewGroup>(
      `SELECT latency_ms AS "latencyMs", decision, reason, count(*) AS count FROM audit_log WHERE time >= $1::bigint AND time < $2::bigint
        GROUP BY latency_ms, decision, reason ORDER BY latency_ms, decision, reason`,
      [Math.ceil(start), Math.ceil(end)],
    );
    return r.rows;
  }

  async top(start: number, end: number, dimension: TopDimension, limit: number): Promise<{ byRequests: TopGroup[]; byRefusals: TopGroup[] }> {
    const column = TOP_COLUMNS[dimension];
    const n = Math.max(1, Math.min(1000, Math.trunc(limit) || 1));
    const grouped = `SELECT ${column} AS key, count(*)::int AS requests, (count(*) FILTER (WHERE decision = 'deny'))::int AS refusals FROM audit_log
      WHERE time >= $1::bigint AND time < $2::bigint AND ${column} IS NOT NULL GROUP BY ${column}`;
    const args = [Math.ceil(start), Math.ceil(end)];
    // COLLATE "C": ties ordered by code point, as SQLite orders them.
    const byRequests = (await this.pool.query<TopGroup>(`${grouped} ORDER BY requests DESC, ${column} COLLATE "C" LIMIT ${n}`, args)).rows;
    const byRefusals = (await this.pool.query<TopGroup>(`${grouped} HAVING count(*) FILTER (WHERE decision = 'deny') > 0 ORDER BY refusals DESC, ${column} COLLATE "C" LIMIT ${n}`, args)).rows;
    return { byRequests, byRefusals };
  }

  // ---- copying a store

  async anchorOf(chain: ChainId): Promise<ChainAnchor | undefined> {
    return (await this.pool.query<ChainAnchor>(`SELECT ${ANCHOR_COLUMNS} FROM audit_anchor WHERE kind = $1 AND replica = $2`, [chain.kind, chain.replica])).rows[0];
  }

  headOf(chain: ChainId): Promise<ChainHead> {
    return readHead(this.pool, chain.kind, chain.replica);
  }

  async readChain(chain: ChainId, afterId: number, limit: number): Promise<ChainRows> {
    const n = limitOf({ limit });
    const args = [chain.replica, afterId];
    if (chain.kind === 'request') {
      const rows = (await this.pool.query<AuditRow>(`SELECT ${ROW_COLUMNS} FROM audit_log WHERE replica = $1 AND id > $2::bigint ORDER BY id LIMIT ${n}`, args)).rows;
      return { kind: 'request', rows };
    }
    const rows = (await this.pool.query<AdminAuditRow>(`SELECT ${ADMIN_ROW_COLUMNS} FROM admin_audit WHERE replica = $1 AND id > $2::bigint ORDER BY id LIMIT ${n}`, args)).rows;
    return { kind: 'admin', rows };
  }

  async restoreChain(chain: ChainId, batch: ChainRows): Promise<void> {
    if (batch.kind !== chain.kind) throw new Error(`${batch.kind} rows given for the ${chain.kind} chain`);
    const other = batch.rows.find((r) => r.replica !== chain.replica);
    if (other) throw new Error(`row ${other.id} belongs to replica "${other.replica}", not "${chain.replica}"`);
    if (batch.rows.length === 0) return;
    const stored: ChainRow[] = batch.kind === 'request' ? batch.rows.map(requestColumnsOf) : batch.rows.map(adminColumnsOf);
    const { cols, sql } = INSERT[chain.kind];
    // Under the chain's writer lock: a replica of that name writing meanwhile waits, or the batch fails busy, never interleaves.
    await inTransaction(this.pool, async (c) => {
      await lockedHead(c, chain.kind, chain.replica);
      await c.query(sql, [chain.replica, ...cols.map((col) => stored.map((r) => r[col] ?? null))]);
    });
  }

  async restoreAnchor(chain: ChainId, a: ChainAnchor): Promise<void> {
    await this.pool.query(
      `INSERT INTO audit_anchor (kind, replica, last_id, last_hash, last_time, deleted_total, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (kind, replica) DO UPDATE SET last_id = excluded.last_id, last_hash = excluded.last_hash, last_time = excluded.last_time,
         deleted_total = excluded.deleted_total, updated_at = excluded.updated_at`,
      [chain.kind, chain.replica, a.lastId, a.lastHash, a.lastTime, a.deletedTotal, a.updatedAt],
    );
  }
}

/**
 * Every (kind, replica) with rows or an anchor (a chain pruned to nothing still has its head there).
 * The distinct replicas come from a skip scan of the primary key, one index probe per replica, not
 * a pass over every row.
 */
async function chainsOf(db: Queryable): Promise<ChainId[]> {
  const distinct = (table: string, cte: string) =>
    `${cte} AS (SELECT min(replica) AS replica FROM ${table}
       UNION ALL SELECT (SELECT min(replica) FROM ${table} WHERE replica > ${cte}.replica) FROM ${cte} WHERE ${cte}.replica IS NOT NULL)`;
  const r = await db.query<ChainId>(
    `WITH RECURSIVE ${distinct('audit_log', 'req')}, ${distinct('admin_audit', 'adm')}
     SELECT 'request' AS kind, replica FROM req WHERE replica IS NOT NULL
     UNION SELECT 'admin', replica FROM adm WHERE replica IS NOT NULL
     UNION SELECT kind, replica FROM audit_anchor
     ORDER BY kind DESC, replica`,
  );
  return r.rows;
}

/**
 * By age over every chain, then by count over the request chains together. The count step keeps the
 * maxEntries newest request rows in (time, replica, id) order: it finds the newest row to delete
 * and cuts each chain at that position. Chains hold consecutive ids (a prefix at most is ever
 * deleted), so the row count is the sum of max - min + 1 per chain: index probes, not a count(*).
 */
async function prunePass(c: pg.PoolClient, s: RetentionSettings): Promise<RetentionResult> {
  const batchRows = Math.max(1, Math.trunc(s.batchRows ?? 1000));
  let deletedByAge = 0;
  for (const chain of await chainsOf(c)) {
    deletedByAge += await pruneChain(c, chain, olderThan(s.now - s.retentionDays * DAY_MS), batchRows, s);
  }
  if (s.signal?.aborted) return { deletedByAge, deletedByCount: 0 };
  const replicas = (await chainsOf(c)).filter((ch) => ch.kind === 'request').map((ch) => ch.replica);
  const total = (
    await c.query<{ n: number }>(
      `SELECT COALESCE(sum(hi - lo + 1), 0)::bigint AS n FROM (
         SELECT (SELECT min(id) FROM audit_log a WHERE a.replica = r.replica) AS lo, (SELECT max(id) FROM audit_log a WHERE a.replica = r.replica) AS hi
           FROM unnest($1::text[]) AS r(replica)) AS spans`,
      [replicas],
    )
  ).rows[0]!.n;
  const excess = total - Math.max(0, Math.trunc(s.maxEntries));
  if (excess <= 0) return { deletedByAge, deletedByCount: 0 };
  const pos = (
    await c.query<{ time: number; replica: string; id: number }>('SELECT time, replica, id FROM audit_log ORDER BY time, replica, id OFFSET $1 LIMIT 1', [
      excess - 1,
    ])
  ).rows[0];
  if (!pos) return { deletedByAge, deletedByCount: 0 };
  let deletedByCount = 0;
  for (const replica of replicas) {
    if (s.signal?.aborted) break;
    deletedByCount += await pruneChain(c, { kind: 'request', replica }, atOrBefore(pos), batchRows, s);
  }
  return { deletedByAge, deletedByCount };
}
