// The audit sink: rows are queued in memory (bounded) and written in batches, one transaction per
// batch, on a timer or setImmediate, never synchronously inside a request. The hash chain is
// extended by the store's writer at flush time in queue order (AuditStore.requestWriter: on SQLite
// a worker thread on its own connection by default, so the transaction no longer stalls the event
// loop that serves requests; store/sqlite/audit.ts).
// This side keeps the queue, the counters and the logs; one batch is under way at a time, and its
// rows leave the queue only when the writer confirms them (audit.queueMax counts unconfirmed rows).
//
// Nothing is dropped silently: when the queue is full or the storage refuses writes, isAccepting()
// turns false (the audit middleware then applies audit.onFailure), every row that cannot be queued
// is counted in sidecar_audit_failures_total and a log line says so. Rows already queued stay queued
// and are retried with backoff until the storage recovers; close() writes everything still queued.
import type { AuditRecord, AuditSink } from '../pipeline/audit/sink.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../pipeline/metrics/metrics.js';
import type { Config } from '../config/schema.js';
import type { AuditBatchWriter, AuditWriteError } from '../store/audit-store.js';
import { encodeRow } from './encode.js';

export type AuditSettings = Pick<Config['audit'], 'queueMax' | 'batchSize' | 'flushIntervalMs' | 'indexBatchRows'>;

export interface QueuedAuditSinkOptions {
  /** Where batches go: the store's request writer (AuditStore.requestWriter), owned by the sink from here on (closed by close()). */
  writer: AuditBatchWriter;
  /** Read on every use, so a config reload takes effect without a restart. */
  settings: () => AuditSettings;
  logger: Logger;
  metrics: Metrics;
}

/** Failure reasons (the `reason` label of sidecar_audit_failures_total). */
export type AuditFailureReason = 'queue_full' | 'storage_full' | 'write_failed' | 'closed';

export class QueuedAuditSink implements AuditSink {
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
  private readonly writer: AuditBatchWriter;

  constructor(private readonly o: QueuedAuditSinkOptions) {
    // sidecar_audit_queue_length is read when the registry collects (a scrape), not set per row:
    // exact at every scrape, and no prom-client call on the request path.
    const gauge = o.metrics.auditQueue;
    (gauge as unknown as { collect?: () => void }).collect = () => gauge.set(this.queue.length);
    this.writer = o.writer;
  }

  /** Rows waiting to be written (including a batch sent to the writer and not yet confirmed). */
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

  /**
   * Start-up warm-up (http/warm-up.ts): an empty batch, so the writer is ready before real traffic
   * (on SQLite its worker thread started, connection open, statements prepared: ≈ 0.25 s of CPU that
   * would otherwise fall into the first second of load). Nothing is written; skipped when rows are queued.
   */
  warm(): Promise<void> {
    if (this.inFlight || this.queue.length || this.closed) return Promise.resolve();
    const r = this.writer.write([], this.o.settings().indexBatchRows);
    if (!(r instanceof Promise)) return Promise.resolve();
    const p = r.then(
      () => {
        this.inFlight = undefined;
        if (this.queue.length) this.schedule();
      },
      () => void (this.inFlight = undefined),
    );
    this.inFlight = p;
    return p;
  }

  /** Start-up warm-up: the row encoded as write() would, then dropped (nothing is queued, counted or written). */
  rehearse(record: AuditRecord): void {
    encodeRow(record);
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
   * retry is armed. A writer answering synchronously (SQLite inline) settles at once; one answering
   * with a promise (a worker, a network database) leaves that promise pending here.
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

  private settle(err: AuditWriteError | undefined, rows: number, started: number): void {
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

  private onWriteError(err: AuditWriteError, rows: number): void {
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
   * closes the writer (a worker stops). Rows are refused from the first call on.
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
