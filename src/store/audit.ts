// The SQLite audit sink: rows are queued in memory (bounded) and written in batches, one transaction
// per batch, on a timer or setImmediate, never synchronously inside a request. The hash chain is
// extended at flush time in queue order (audit-chain.ts, audit-writer.ts). By default the batches
// are written by a worker thread (audit-worker.ts) on its own connection: the transaction (~1.2 ms per
// 100 rows: inserts, indexes, hashing; ~30 ms for the one that fills the user index, audit-index.ts)
// then no longer stalls the event loop that serves requests.
// This side keeps the queue, the counters and the logs; one batch is under way at a time, and its
// rows leave the queue only when the worker confirms them (audit.queueMax counts unconfirmed rows).
//
// Nothing is dropped silently: when the queue is full or the disk refuses writes, isAccepting()
// turns false (the audit middleware then applies audit.onFailure), every row that cannot be queued
// is counted in sidecar_audit_failures_total and a log line says so. Rows already queued stay queued
// and are retried with backoff until the storage recovers; close() writes everything still queued.
import type { AuditRecord, AuditSink } from '../pipeline/audit/sink.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../pipeline/metrics/metrics.js';
import type { Config } from '../config/schema.js';
import type { Db } from './sqlite/db.js';
import { Worker } from 'node:worker_threads';
import { ADMIN_COLUMNS, chainHead, hashRow, type ChainRow } from './audit-chain.js';
import { encodeRow, requestChainWriter, stored, toWriteError, type WriteError } from './audit-writer.js';
import type { AuditBatchMessage, AuditBatchReply, AuditWorkerData } from './audit-worker.js';

export type AuditSettings = Pick<Config['audit'], 'queueMax' | 'batchSize' | 'flushIntervalMs' | 'indexBatchRows'>;

export interface SqliteAuditSinkOptions {
  db: Db;
  /** Read on every use, so a config reload takes effect without a restart. */
  settings: () => AuditSettings;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /**
   * Where batches are written: 'worker' (default) in a worker thread on its own connection to the
   * same file, off the event loop; 'inline' on `db` in the event loop. Pragmas are per connection,
   * so a fault injected on `db` (max_page_count as a full disk) only reaches the inline writer.
   */
  writer?: AuditWriterMode;
}

/** Failure reasons (the `reason` label of sidecar_audit_failures_total). */
export type AuditFailureReason = 'queue_full' | 'storage_full' | 'write_failed' | 'closed';

const SECRET_KEY = /secret|password|token|key|credential/i;
export const MASK = '***';

/**
 * Copy of a value with every string or number under a secret-looking key masked (at any depth:
 * `{clientSecret: "x"}` and `{tokens: {a: "x"}}` both become "***"). Booleans and nulls stay, so
 * "sharedSecret was set/unset" remains visible without the value.
 */
export function maskSecrets(value: unknown, masked = false): unknown {
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, masked));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = maskSecrets(v, masked || SECRET_KEY.test(k));
    return out;
  }
  if (masked && (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint')) return MASK;
  return value;
}

/** Where request rows are written (audit.writer). */
export type AuditWriterMode = 'worker' | 'inline';

/** Writes one batch of encoded rows in one transaction; returns (never throws) the error when nothing was written. */
interface BatchWriter {
  write(rows: string[], indexBatchRows: number): WriteError | undefined | Promise<WriteError | undefined>;
  /** Keep the process alive until the pending writes are answered (shutdown drain). */
  keepAlive(): void;
  close(): Promise<void>;
}

/** On the main connection, in the event loop (the pre-worker behaviour; faults injected on `db` apply). */
class InlineWriter implements BatchWriter {
  private readonly tx;
  constructor(db: Db) {
    this.tx = requestChainWriter(db);
  }
  write(rows: string[], indexBatchRows: number): WriteError | undefined {
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
function spawnAuditWorker(workerData: AuditWorkerData): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./audit-worker.js', here), { workerData });
  const tsx = import.meta.resolve('tsx/esm/api'); // its ESM build (the CJS build's register() is broken here)
  const entry = new URL('./audit-worker.ts', here).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData });
}

/** In a worker thread with its own connection: the transaction and hashing leave the event loop. */
class WorkerWriter implements BatchWriter {
  private worker: Worker | undefined;
  private seq = 0;
  private pending: { seq: number; resolve: (e: WriteError | undefined) => void } | undefined;
  private alive = false;

  constructor(
    private readonly data: AuditWorkerData,
    private readonly logger: Logger,
  ) {}

  private spawn(): Worker {
    const w = spawnAuditWorker(this.data);
    // Like the flush timer: a sink nobody closes does not keep the process alive; close() refs it.
    if (!this.alive) w.unref();
    w.on('message', (m: AuditBatchReply) => {
      const p = this.pending;
      if (!p || p.seq !== m.seq) return;
      this.pending = undefined;
      p.resolve(m.error);
    });
    w.on('error', (e) => this.logger.error({ err: e }, 'audit worker failed; a new one takes the next batch'));
    w.on('exit', (code) => {
      if (this.worker === w) this.worker = undefined;
      // The batch under way is not confirmed: it stays queued and is sent again (to a new worker).
      const p = this.pending;
      this.pending = undefined;
      p?.resolve({ kind: 'write_failed', code: 'AUDIT_WORKER_EXIT', message: `audit worker exited with code ${code}` });
    });
    return w;
  }

  write(rows: string[], indexBatchRows: number): Promise<WriteError | undefined> {
    return new Promise((resolve) => {
      const seq = ++this.seq;
      this.pending = { seq, resolve };
      try {
        (this.worker ??= this.spawn()).postMessage({ seq, rows, indexBatchRows } satisfies AuditBatchMessage);
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

export class SqliteAuditSink implements AuditSink {
  /** Rows (encodeRow) not yet confirmed written, oldest first (the batch under way, if any, is at the head). */
  private queue: string[] = [];
  /** The batch sent to the writer and not yet answered (at most one: the chain is written in order). */
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  /** Storage refused the last write (disk full, I/O error): not accepting until a write succeeds. */
  private storageFailing: AuditFailureReason | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private droppedSinceLog = 0;
  private droppedTotal = 0;
  private lastDropLog = 0;
  private readonly writer: BatchWriter;

  constructor(private readonly o: SqliteAuditSinkOptions) {
    // sidecar_audit_queue_length is read when the registry collects (a scrape), not set per row:
    // exact at every scrape, and no prom-client call on the request path.
    const gauge = o.metrics.auditQueue;
    (gauge as unknown as { collect?: () => void }).collect = () => gauge.set(this.queue.length);
    // An in-memory database cannot be opened by a second connection: it is written inline.
    const inline = (o.writer ?? 'worker') === 'inline' || o.db.memory;
    this.writer = inline
      ? new InlineWriter(o.db)
      : new WorkerWriter({ file: o.db.name, busyTimeoutMs: Number(o.db.pragma('busy_timeout', { simple: true })) || 0 }, o.logger);
  }

  /** Rows waiting to be written (including a batch sent to the worker and not yet confirmed). */
  get queued(): number {
    return this.queue.length;
  }

  /** Why rows are not accepted right now (readiness detail), or undefined. */
  unavailableReason(): AuditFailureReason | undefined {
    if (this.closed) return 'closed';
    if (this.storageFailing) return this.storageFailing;
    return this.queue.length >= this.o.settings().queueMax ? 'queue_full' : undefined;
  }

  isAccepting(): boolean {
    return !this.closed && !this.storageFailing && this.queue.length < this.o.settings().queueMax;
  }

  write(record: AuditRecord): boolean {
    if (this.closed) return this.reject('closed');
    if (this.queue.length >= this.o.settings().queueMax) return this.reject('queue_full');
    this.queue.push(encodeRow(record));
    this.schedule();
    return true;
  }

  /** A row that could not be queued: counted, and logged (at most once a second, with the count). */
  private reject(reason: AuditFailureReason): false {
    this.o.metrics.auditFailures.inc({ reason });
    this.droppedSinceLog++;
    this.droppedTotal++;
    const now = Date.now();
    if (now - this.lastDropLog >= 1000) {
      this.o.logger.error(
        { reason, rowsNotWritten: this.droppedSinceLog, rowsNotWrittenTotal: this.droppedTotal, queued: this.queue.length },
        'audit row could not be queued; audit.onFailure applies',
      );
      this.lastDropLog = now;
      this.droppedSinceLog = 0;
    }
    return false;
  }

  private schedule(): void {
    // A backoff or a batch under way is pending: it schedules the next flush when it ends.
    if (this.retryTimer || this.inFlight || this.closed) return;
    if (this.queue.length >= this.o.settings().batchSize) {
      if (!this.immediate) this.immediate = setImmediate(() => this.tick());
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.tick(), this.o.settings().flushIntervalMs);
      this.timer.unref();
    }
  }

  private tick(): void {
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.retryTimer = undefined;
    if (this.closed) return;
    void this.flush();
  }

  /**
   * Sends the head of the queue (up to batchSize rows) to the writer, unless a batch is under way.
   * The rows leave the queue only when the write is confirmed; on failure they stay and a backoff
   * retry is armed. Inline writes settle synchronously; worker writes return the pending promise.
   */
  private flush(): Promise<void> | undefined {
    if (this.inFlight || !this.queue.length) return this.inFlight;
    const settings = this.o.settings();
    const n = Math.min(this.queue.length, settings.batchSize);
    const started = performance.now();
    const r = this.writer.write(this.queue.slice(0, n), settings.indexBatchRows);
    if (!(r instanceof Promise)) {
      this.settle(r, n, started);
      return undefined;
    }
    const p = r
      .then((err) => {
        this.inFlight = undefined;
        this.settle(err, n, started);
      })
      .catch((e: unknown) => this.o.logger.error({ err: e }, 'audit flush failed'));
    this.inFlight = p;
    return p;
  }

  private settle(err: WriteError | undefined, rows: number, started: number): void {
    // Per batch, not per row: how long the writer takes, and whether it keeps up (rows written).
    this.o.metrics.auditWrites.observe({ result: err ? err.kind : 'ok' }, (performance.now() - started) / 1000);
    if (err) {
      this.onWriteError(err, rows);
      return;
    }
    this.o.metrics.auditRowsWritten.inc(rows);
    this.queue.splice(0, rows);
    if (this.storageFailing) this.o.logger.warn({ queued: this.queue.length }, 'audit storage recovered');
    this.storageFailing = undefined;
    this.backoffMs = 0;
    if (this.queue.length) this.schedule();
  }

  private onWriteError(err: WriteError, rows: number): void {
    this.backoffMs = Math.min(5000, this.backoffMs ? this.backoffMs * 2 : 50);
    if (err.kind === 'busy') {
      // Another process holds the write lock (a CLI command): wait; the queue absorbs it.
      this.o.logger.warn({ code: err.code, retryInMs: this.backoffMs, queued: this.queue.length }, 'audit database busy; retrying');
    } else {
      const reason: AuditFailureReason = err.kind;
      if (!this.storageFailing) {
        this.o.metrics.auditFailures.inc({ reason });
        this.o.logger.error(
          { code: err.code, error: err.message, reason, rows, queued: this.queue.length, retryInMs: this.backoffMs },
          'audit write failed; rows kept queued, audit.onFailure applies',
        );
      }
      this.storageFailing = reason;
    }
    if (!this.closed) {
      this.retryTimer = setTimeout(() => this.tick(), this.backoffMs);
      this.retryTimer.unref();
    }
  }

  /**
   * Writes everything queued, in batches, retrying busy/failed writes for up to maxWaitMs, then
   * stops the worker. Rows are refused from the first call on.
   */
  close(maxWaitMs = 30_000): Promise<void> {
    return (this.closing ??= this.drain(maxWaitMs));
  }

  private async drain(maxWaitMs: number): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    if (this.immediate) clearImmediate(this.immediate);
    this.writer.keepAlive();
    const deadline = Date.now() + maxWaitMs;
    while (this.queue.length) {
      if (this.inFlight) {
        await this.inFlight; // the batch already sent: its rows are confirmed or still queued after this
        continue;
      }
      const before = this.queue.length;
      await this.flush();
      if (this.queue.length === before) {
        if (Date.now() >= deadline) break;
        await new Promise((r) => setTimeout(r, this.backoffMs || 50));
      }
    }
    if (this.queue.length) {
      this.o.metrics.auditFailures.inc({ reason: this.storageFailing ?? 'write_failed' }, this.queue.length);
      this.o.logger.error({ rowsNotWritten: this.queue.length }, 'audit rows could not be written before shutdown');
    }
    await this.writer.close();
  }
}

/** One admin change, as the admin API records it. before/after are masked here, whatever the caller passes. */
export interface AdminAction {
  actor: string;
  action: string;
  target?: string | null;
  before?: unknown;
  after?: unknown;
}

const toJson = (v: unknown) => (v === undefined ? null : JSON.stringify(maskSecrets(v)));

/**
 * Appends one admin action to the admin chain, synchronously (admin changes are rare, and the
 * change should not be confirmed unless its record is stored: a throw here should fail the admin
 * request). Returns the new row id.
 */
export function recordAdminAction(db: Db, clock: Clock, a: AdminAction): number {
  const tx = db.transaction(() => {
    const head = chainHead(db, 'admin');
    const row: ChainRow = {
      id: head.id + 1,
      time: Math.trunc(clock.now()),
      actor: stored(a.actor),
      action: stored(a.action),
      target: stored(a.target ?? null),
      before_json: toJson(a.before),
      after_json: toJson(a.after),
    };
    const rowHash = hashRow(head.hash, row, ADMIN_COLUMNS);
    db.prepare(
      'INSERT INTO admin_audit (id, time, actor, action, target, before_json, after_json, prev_hash, row_hash) VALUES (@id, @time, @actor, @action, @target, @before_json, @after_json, @prev_hash, @row_hash)',
    ).run({ ...row, prev_hash: head.hash, row_hash: rowHash });
    return row.id as number;
  });
  return tx.immediate();
}
