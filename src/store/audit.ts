// The SQLite audit sink: rows are queued in memory (bounded) and written in batches, one transaction
// per batch, on a timer or setImmediate, never synchronously inside a request. The hash chain is
// extended at flush time in queue order (audit-chain.ts).
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
import type { Db } from './db.js';
import { ADMIN_COLUMNS, REQUEST_COLUMNS, chainHead, hashRow, type ChainRow } from './audit-chain.js';

export type AuditSettings = Pick<Config['audit'], 'queueMax' | 'batchSize' | 'flushIntervalMs'>;

export interface SqliteAuditSinkOptions {
  db: Db;
  /** Read on every use, so a config reload takes effect without a restart. */
  settings: () => AuditSettings;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
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

/**
 * A string as SQLite will give it back: lone UTF-16 surrogates (possible in JWT claims) become
 * U+FFFD when stored as UTF-8, so they are replaced before hashing or verify would see an edit.
 */
const stored = (v: string | null): string | null => (v === null ? null : (v as string & { toWellFormed(): string }).toWellFormed());

/** AuditRecord -> the row as stored (snake_case columns, integers only so the hash is stable). */
export function toRow(r: AuditRecord, id: number): ChainRow {
  return {
    id,
    time: Math.trunc(r.time),
    request_id: stored(r.requestId),
    decision: stored(r.decision),
    reason: stored(r.reason),
    status: Math.trunc(r.status),
    method: stored(r.method),
    path: stored(r.path),
    client_ip: stored(r.clientIp),
    user: stored(r.user),
    credential_kind: stored(r.credentialKind),
    token_id: stored(r.tokenId),
    client_id: stored(r.clientId),
    issuer: stored(r.issuer),
    latency_ms: Math.max(0, Math.round(r.latencyMs)),
    upstream_status: r.upstreamStatus === null ? null : Math.trunc(r.upstreamStatus),
    route: stored(r.route),
    stage: stored(r.stage),
    rule: stored(r.rule),
  };
}

const errCode = (e: unknown) => String((e as { code?: unknown })?.code ?? '');
const isBusy = (e: unknown) => /^SQLITE_(BUSY|LOCKED)/.test(errCode(e));
const isFull = (e: unknown) => /^SQLITE_FULL/.test(errCode(e)) || (e as NodeJS.ErrnoException)?.code === 'ENOSPC';

export class SqliteAuditSink implements AuditSink {
  private queue: AuditRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  /** Storage refused the last write (disk full, I/O error): not accepting until a write succeeds. */
  private storageFailing: AuditFailureReason | undefined;
  private closed = false;
  private droppedSinceLog = 0;
  private droppedTotal = 0;
  private lastDropLog = 0;
  private readonly insert;
  private readonly writeBatch;

  constructor(private readonly o: SqliteAuditSinkOptions) {
    const cols = [...REQUEST_COLUMNS, 'prev_hash', 'row_hash'];
    this.insert = o.db.prepare(`INSERT INTO audit_log (${cols.join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')})`);
    // The head is read inside the transaction, so rows written by another writer (a second process
    // on the same data dir, a restore) are chained onto instead of forked from.
    this.writeBatch = o.db.transaction((records: AuditRecord[]) => {
      let head = chainHead(o.db, 'request');
      for (const r of records) {
        const row = toRow(r, head.id + 1);
        const rowHash = hashRow(head.hash, row, REQUEST_COLUMNS);
        row.prev_hash = head.hash;
        row.row_hash = rowHash;
        this.insert.run(row);
        head = { id: row.id as number, hash: rowHash };
      }
    });
  }

  /** Rows waiting to be written. */
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
    this.queue.push(record);
    this.o.metrics.auditQueue.set(this.queue.length);
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
    if (this.retryTimer || this.closed) return; // a backoff is pending: it flushes when due
    if (this.queue.length >= this.o.settings().batchSize) {
      if (!this.immediate) this.immediate = setImmediate(() => this.tick());
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.tick(), this.o.settings().flushIntervalMs);
      this.timer.unref();
    }
  }

  private tick(): void {
    this.immediate = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.retryTimer = undefined;
    if (this.closed) return;
    this.flushOnce();
    if (this.queue.length && !this.retryTimer) this.schedule();
  }

  /** Writes one batch; on failure keeps the rows and arms a backoff retry. Returns rows written. */
  private flushOnce(): number {
    if (!this.queue.length) return 0;
    const batch = this.queue.slice(0, this.o.settings().batchSize);
    try {
      this.writeBatch(batch);
    } catch (e) {
      this.onWriteError(e, batch.length);
      return 0;
    }
    this.queue.splice(0, batch.length);
    this.o.metrics.auditQueue.set(this.queue.length);
    if (this.storageFailing) this.o.logger.warn({ queued: this.queue.length }, 'audit storage recovered');
    this.storageFailing = undefined;
    this.backoffMs = 0;
    return batch.length;
  }

  private onWriteError(e: unknown, rows: number): void {
    this.backoffMs = Math.min(5000, this.backoffMs ? this.backoffMs * 2 : 50);
    if (isBusy(e)) {
      // Another process holds the write lock (a CLI command): wait; the queue absorbs it.
      this.o.logger.warn({ code: errCode(e), retryInMs: this.backoffMs, queued: this.queue.length }, 'audit database busy; retrying');
    } else {
      const reason: AuditFailureReason = isFull(e) ? 'storage_full' : 'write_failed';
      if (!this.storageFailing) {
        this.o.metrics.auditFailures.inc({ reason });
        this.o.logger.error({ err: e, reason, rows, queued: this.queue.length, retryInMs: this.backoffMs }, 'audit write failed; rows kept queued, audit.onFailure applies');
      }
      this.storageFailing = reason;
    }
    if (!this.closed) {
      this.retryTimer = setTimeout(() => this.tick(), this.backoffMs);
      this.retryTimer.unref();
    }
  }

  /** Writes everything queued, in batches, retrying busy/failed writes for up to maxWaitMs. */
  async close(maxWaitMs = 30_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    if (this.immediate) clearImmediate(this.immediate);
    const deadline = Date.now() + maxWaitMs;
    while (this.queue.length) {
      if (this.flushOnce() === 0) {
        if (Date.now() >= deadline) break;
        await new Promise((r) => setTimeout(r, this.backoffMs || 50));
      }
    }
    if (this.queue.length) {
      this.o.metrics.auditFailures.inc({ reason: this.storageFailing ?? 'write_failed' }, this.queue.length);
      this.o.logger.error({ rowsNotWritten: this.queue.length }, 'audit rows could not be written before shutdown');
    }
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
