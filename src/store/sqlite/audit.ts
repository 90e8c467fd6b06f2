// AuditStore on SQLite (better-sqlite3): one replica, the file's. Request rows are written in
// batches by a worker thread on its own connection (audit-worker.ts) or inline on this one; admin
// rows one at a time on this one. The tables have no replica column: every row reports the
// store's replica name, and (time, replica, id) order is (time, id) here.
//
// Beside it: audit-writer.ts (the batch transaction), audit-index.ts (deferred index tables),
// audit-query.ts (filters, keyset pages, export chunks), audit-chain.ts (head, verify) and
// audit-retention.ts (pruning with the anchor).
import { Worker } from 'node:worker_threads';
import type { TopDimension, TopGroup } from '../audit-store.js';
import type { Statement } from 'better-sqlite3';
import type { Logger } from '../../log.js';
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
import { ADMIN_COLUMNS, adminColumnsOf, GENESIS, hashRow, requestColumnsOf, type ChainRow } from '../../audit/chain.js';
import { ROWS_SEPARATOR, stored } from '../../audit/encode.js';
import type { Db } from './db.js';
import { chainHeadReader, CHAINS, verifyChain } from './audit-chain.js';
import { deferredIndexCatchUp } from './audit-index.js';
import { COLUMN_LIST, keysetOf, rowOf, SqliteAuditQueries, type RawRow } from './audit-query.js';
import { runRetention } from './audit-retention.js';
import { requestChainWriter, toWriteError } from './audit-writer.js';
import type { AuditBatchMessage, AuditBatchReply, AuditWorkerData } from './audit-worker.js';

/** On the main connection, in the event loop (the pre-worker behaviour; faults injected on `db` apply). */
class InlineWriter implements AuditBatchWriter {
  private readonly tx;
  constructor(db: Db) {
    this.tx = requestChainWriter(db);
  }
  write(rows: string[], indexBatchRows: number): AuditWriteError | undefined {
    try {
      this.tx(rows, indexBatchRows);
      return undefined;
    } catch (e) {
      return toWriteError(e);
    }
  }
  keepAlive(): void {}
  async close(): Promise<void> {}
}

/**
 * The worker's entry. From dist it is the compiled audit-worker.js beside this file. From the TS
 * sources (vitest, `node --import tsx`) there is no .js beside us and a Worker cannot load .ts by
 * itself; on Node 20 `execArgv: ['--import', 'tsx']` does not reach a worker's entry module either
 * (ERR_UNKNOWN_FILE_EXTENSION), so a two-line bootstrap registers tsx's loader inside the worker and
 * then imports the .ts source. That runs the same source the tests load, never a stale dist build.
 */
/**
 * The writer's own V8 heap, kept small: it holds one batch at a time (100 rows by default, well under
 * 1 MB), but with V8's defaults it grew like a server's heap (the old generation up to 4 × its live
 * size before a full GC): with the audit writer inline instead, RSS after minutes of load was 50–70 MB
 * lower. A limit of at most 256 MB makes V8 grow the heap by 1.3 × at most, and 256 MB leaves room
 * for batches far above the default (50,000 rows of 2 KB: 100 MB).
 */
const AUDIT_WORKER_LIMITS = { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 8 };

function spawnAuditWorker(workerData: AuditWorkerData): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./audit-worker.js', here), { workerData, resourceLimits: AUDIT_WORKER_LIMITS });
  const tsx = import.meta.resolve('tsx/esm/api'); // its ESM build (the CJS build's register() is broken here)
  const entry = new URL('./audit-worker.ts', here).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData, resourceLimits: AUDIT_WORKER_LIMITS });
}

/** In a worker thread with its own connection: the transaction and hashing leave the event loop. */
class WorkerWriter implements AuditBatchWriter {
  private worker: Worker | undefined;
  private seq = 0;
  private pending: { seq: number; resolve: (e: AuditWriteError | undefined) => void } | undefined;
  private alive = false;

  constructor(
    private readonly data: AuditWorkerData,
    private readonly logger: Logger | undefined,
  ) {}

  private spawn(): Worker {
    const w = spawnAuditWorker(this.data);
    // Like the flush timer: a sink nobody closes does not keep the process alive; close() refs it.
    if (!this.alive) w.unref();
    let failure: Error | undefined;
    w.on('message', (m: AuditBatchReply) => {
      const p = this.pending;
      if (!p || p.seq !== m.seq) return;
      this.pending = undefined;
      p.resolve(m.error);
    });
    w.on('error', (e) => {
      failure = e;
      this.logger?.error({ err: e }, 'audit worker failed; a new one takes the next batch');
    });
    w.on('exit', (code) => {
      if (this.worker === w) this.worker = undefined;
      // The batch under way is not confirmed: it stays queued and is sent again (to a new worker).
      // The cause goes with it, so the sink's log names it even without a logger here.
      const p = this.pending;
      this.pending = undefined;
      p?.resolve({ kind: 'write_failed', code: 'AUDIT_WORKER_EXIT', message: `audit worker exited with code ${code}${failure ? `: ${failure.message}` : ''}` });
    });
    return w;
  }

  write(rows: string[], indexBatchRows: number): Promise<AuditWriteError | undefined> {
    return new Promise((resolve) => {
      const seq = ++this.seq;
      this.pending = { seq, resolve };
      try {
        (this.worker ??= this.spawn()).postMessage({ seq, rows: rows.join(ROWS_SEPARATOR), indexBatchRows } satisfies AuditBatchMessage);
      } catch (e) {
        this.pending = undefined;
        resolve(toWriteError(e));
      }
    });
  }

  keepAlive(): void {
    this.alive = true;
    this.worker?.ref();
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}

type AdminRowRaw = { id: number; time: number; actor: string; action: string; target: string | null; before_json: string | null; after_json: string | null; prev_hash: string; row_hash: string };
const ADMIN_SELECT = 'SELECT id, time, actor, action, target, before_json, after_json, prev_hash, row_hash FROM admin_audit';

const adminRowOf = (replica: string, r: AdminRowRaw): AdminAuditRow => ({
  replica,
  id: r.id,
  time: r.time,
  actor: r.actor,
  action: r.action,
  target: r.target,
  beforeJson: r.before_json,
  afterJson: r.after_json,
  prevHash: r.prev_hash,
  rowHash: r.row_hash,
});

type AnchorRaw = { last_id: number; last_hash: string; last_time: number; deleted_total: number; updated_at: number };

export interface SqliteAuditStoreOptions {
  /** Where a worker's own failure is logged (the batch it had is failed and retried regardless). */
  logger?: Logger;
}

/** The audit column each overview dimension groups by (fixed names: never from input). */
const TOP_COLUMNS: Record<TopDimension, string> = { user: 'user', token: 'token_id', client: 'client_id', path: 'path' };

export class SqliteAuditStore implements AuditStore {
  private readonly queries: SqliteAuditQueries;
  private readonly appendAdminTx: (row: NewAdminRow) => number;
  private readonly stmt: {
    adminFirst: Statement;
    adminAfter: Statement;
    overview: Statement<[number, number]>;
    present: Record<ChainKind, Statement<[]>>;
  };

  constructor(
    private readonly db: Db,
    readonly replica: string,
    private readonly opts: SqliteAuditStoreOptions = {},
  ) {
    this.queries = new SqliteAuditQueries(db, replica);
    const head = chainHeadReader(db, 'admin');
    const insert = db.prepare(
      'INSERT INTO admin_audit (id, time, actor, action, target, before_json, after_json, prev_hash, row_hash) VALUES (@id, @time, @actor, @action, @target, @before_json, @after_json, @prev_hash, @row_hash)',
    );
    const tx = db.transaction((r: NewAdminRow): number => {
      const h = head();
      // stored(): the text SQLite gives back (lone surrogates as U+FFFD), so verify recomputes this hash.
      const row: ChainRow = {
        id: h.id + 1,
        time: Math.trunc(r.time),
        actor: stored(r.actor),
        action: stored(r.action),
        target: stored(r.target),
        before_json: stored(r.beforeJson),
        after_json: stored(r.afterJson),
      };
      insert.run({ ...row, prev_hash: h.hash, row_hash: hashRow(h.hash, row, ADMIN_COLUMNS) });
      return row.id as number;
    });
    // IMMEDIATE: the write lock before the head is read, so another process cannot fork the chain.
    this.appendAdminTx = (r) => tx.immediate(r);
    this.stmt = {
      adminFirst: db.prepare(`${ADMIN_SELECT} ORDER BY time DESC, id DESC LIMIT @limit`),
      // The same keyset shape as request pages: one range bound on the time index, ties by id.
      adminAfter: db.prepare(`${ADMIN_SELECT} WHERE time <= @t AND NOT (time = @t AND id >= @id) ORDER BY time DESC, id DESC LIMIT @limit`),
      present: {
        request: db.prepare("SELECT 1 FROM audit_log UNION ALL SELECT 1 FROM audit_anchor WHERE chain = 'request' LIMIT 1"),
        admin: db.prepare("SELECT 1 FROM admin_audit UNION ALL SELECT 1 FROM audit_anchor WHERE chain = 'admin' LIMIT 1"),
      },
      overview: db.prepare('SELECT latency_ms AS l, decision AS d, reason AS r, count(*) AS n FROM audit_log WHERE time >= ? AND time < ? GROUP BY l, d, r ORDER BY l'),
    };
  }

  requestWriter(mode: 'worker' | 'inline'): AuditBatchWriter {
    // An in-memory database cannot be opened by a second connection: it is written inline. Pragmas
    // are per connection, so a fault injected on `db` (max_page_count as a full disk) only reaches
    // the inline writer.
    if (mode === 'inline' || this.db.memory) return new InlineWriter(this.db);
    return new WorkerWriter({ file: this.db.name, busyTimeoutMs: Number(this.db.pragma('busy_timeout', { simple: true })) || 0 }, this.opts.logger);
  }

  async appendAdmin(row: NewAdminRow): Promise<number> {
    return this.appendAdminTx(row);
  }

  async page(filters: AuditFilters, req: AuditPageRequest): Promise<AuditRow[]> {
    return this.queries.page(filters, req);
  }

  async chunk(filters: AuditFilters, req: AuditPageRequest): Promise<AuditRow[]> {
    return this.queries.chunk(filters, req);
  }

  async count(filters: AuditFilters): Promise<number> {
    return this.queries.count(filters);
  }

  async adminPage(req: AuditPageRequest): Promise<AdminAuditRow[]> {
    const limit = Math.max(1, Math.trunc(req.limit));
    const rows = (req.after ? this.stmt.adminAfter.all({ ...keysetOf(req.after, this.replica, 'DESC'), limit }) : this.stmt.adminFirst.all({ limit })) as AdminRowRaw[];
    return rows.map((r) => adminRowOf(this.replica, r));
  }

  /** The replica's chains that hold rows or an anchor (request first); none on a fresh database. */
  async chains(): Promise<ChainId[]> {
    return (['request', 'admin'] as const).filter((kind) => this.stmt.present[kind].get() !== undefined).map((kind) => ({ kind, replica: this.replica }));
  }

  async verify(chain: ChainId, onProgress?: (checked: number) => void): Promise<ChainReport> {
    if (chain.replica !== this.replica) return { chain, ok: true, count: 0, anchorId: 0, headId: 0, headHash: GENESIS };
    return verifyChain(this.db, chain, onProgress);
  }

  async prune(settings: RetentionSettings): Promise<RetentionResult> {
    const r = await runRetention(this.db, settings);
    if (!settings.signal?.aborted) {
      // Fresh statistics (STAT4 samples) help the planner with the remaining filter choices.
      this.db.pragma('analysis_limit = 1000');
      this.db.pragma('optimize');
    }
    return r;
  }

  async overview(start: number, end: number): Promise<OverviewGroup[]> {
    const rows = this.stmt.overview.all(start, end) as Array<{ l: number; d: string; r: string; n: number }>;
    return rows.map((g) => ({ latencyMs: g.l, decision: g.d, reason: g.r, count: g.n }));
  }

  async top(start: number, end: number, dimension: TopDimension, limit: number): Promise<{ byRequests: TopGroup[]; byRefusals: TopGroup[] }> {
    const column = TOP_COLUMNS[dimension];
    const n = Math.max(1, Math.min(1000, Math.trunc(limit) || 1));
    const grouped = `SELECT ${column} AS key, count(*) AS requests, sum(decision = 'deny') AS refusals FROM audit_log
      WHERE time >= ? AND time < ? AND ${column} IS NOT NULL GROUP BY ${column}`;
    const byRequests = this.db.prepare(`${grouped} ORDER BY requests DESC, key LIMIT ${n}`).all(start, end) as TopGroup[];
    const byRefusals = this.db.prepare(`${grouped} HAVING refusals > 0 ORDER BY refusals DESC, key LIMIT ${n}`).all(start, end) as TopGroup[];
    return { byRequests, byRefusals };
  }

  // ---- copying a store: another replica's chain is empty here (SQLite holds this store's only)

  async anchorOf(chain: ChainId): Promise<ChainAnchor | undefined> {
    if (chain.replica !== this.replica) return undefined;
    const a = this.db.prepare('SELECT last_id, last_hash, last_time, deleted_total, updated_at FROM audit_anchor WHERE chain = ?').get(chain.kind) as AnchorRaw | undefined;
    return a && { lastId: a.last_id, lastHash: a.last_hash, lastTime: a.last_time, deletedTotal: a.deleted_total, updatedAt: a.updated_at };
  }

  async headOf(chain: ChainId): Promise<ChainHead> {
    if (chain.replica !== this.replica) return { id: 0, hash: GENESIS };
    return chainHeadReader(this.db, chain.kind)();
  }

  async readChain(chain: ChainId, afterId: number, limit: number): Promise<ChainRows> {
    const n = Math.max(1, Math.trunc(limit));
    if (chain.kind === 'request') {
      if (chain.replica !== this.replica) return { kind: 'request', rows: [] };
      const raw = this.db.prepare(`SELECT ${COLUMN_LIST.join(', ')} FROM audit_log WHERE id > ? ORDER BY id LIMIT ?`).raw(true).all(afterId, n) as RawRow[];
      return { kind: 'request', rows: raw.map((r) => rowOf(this.replica, r)) };
    }
    if (chain.replica !== this.replica) return { kind: 'admin', rows: [] };
    const rows = this.db.prepare(`${ADMIN_SELECT} WHERE id > ? ORDER BY id LIMIT ?`).all(afterId, n) as AdminRowRaw[];
    return { kind: 'admin', rows: rows.map((r) => adminRowOf(this.replica, r)) };
  }

  async restoreChain(chain: ChainId, batch: ChainRows): Promise<void> {
    this.ownChain(chain, batch);
    const { table, columns } = CHAINS[chain.kind];
    const cols = [...columns, 'prev_hash', 'row_hash'];
    const insert = this.db.prepare(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`);
    const stored: ChainRow[] = batch.kind === 'request' ? batch.rows.map(requestColumnsOf) : batch.rows.map(adminColumnsOf);
    // Request rows get their deferred index entries in the same transaction (audit-index.ts):
    // queries read only the rows after an index's through_id from the table itself.
    const catchUp = chain.kind === 'request' ? deferredIndexCatchUp(this.db) : undefined;
    this.db
      .transaction(() => {
        for (const r of stored) insert.run(cols.map((c) => r[c] ?? null));
        if (catchUp && stored.length) catchUp(stored.reduce((max, r) => Math.max(max, r.id as number), -Infinity));
      })
      .immediate();
  }

  async restoreAnchor(chain: ChainId, a: ChainAnchor): Promise<void> {
    this.ownChain(chain);
    this.db
      .prepare(
        `INSERT INTO audit_anchor (chain, last_id, last_hash, last_time, deleted_total, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (chain) DO UPDATE SET last_id = excluded.last_id, last_hash = excluded.last_hash, last_time = excluded.last_time,
           deleted_total = excluded.deleted_total, updated_at = excluded.updated_at`,
      )
      .run(chain.kind, a.lastId, a.lastHash, a.lastTime, a.deletedTotal, a.updatedAt);
  }

  /** The tables have no replica column: rows of another replica would silently become this one's. */
  private ownChain(chain: ChainId, batch?: ChainRows): void {
    if (chain.replica !== this.replica) throw new Error(`this SQLite store holds the chains of replica "${this.replica}" only, not "${chain.replica}"`);
    if (!batch) return;
    if (batch.kind !== chain.kind) throw new Error(`${batch.kind} rows given for the ${chain.kind} chain`);
    const other = batch.rows.find((r) => r.replica !== chain.replica);
    if (other) throw new Error(`row ${other.id} belongs to replica "${other.replica}", not "${chain.replica}"`);
  }
}
