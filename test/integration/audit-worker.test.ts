// The worker writer (audit.writer: worker, the default) on its own connection: a write the storage
// refuses stops acceptance and keeps the rows until it succeeds, a worker that dies is replaced
// without losing or duplicating rows, and the main connection never writes the request chain.
import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { auditFixture, auditRecord, disposeFixture, failureCount, logCapture, sinkOn, verifyChain, waitFor, type AuditFixture } from '../helpers/audit.js';
import { recordAdminAction } from '../../src/audit/record-admin.js';
import type { QueuedAuditSink } from '../../src/audit/sink.js';
import { createLogger } from '../../src/log.js';

let fx: AuditFixture | undefined;
afterEach(async () => {
  await disposeFixture(fx);
  fx = undefined;
});

const count = (f: AuditFixture) => (f.db.prepare('SELECT COUNT(*) AS n FROM audit_log').get() as { n: number }).n;

function workerSink(f: AuditFixture, logger = createLogger('silent')): QueuedAuditSink {
  return sinkOn(f, { logger, writer: 'worker' });
}

describe('audit worker', () => {
  it('a write the storage refuses: stops accepting, counted and logged once, rows kept and written after recovery', async () => {
    fx = auditFixture({ batchSize: 10, flushIntervalMs: 5 });
    const cap = logCapture();
    fx.sink = workerSink(fx, cap.logger);
    // A schema-level fault reaches every connection (pragmas would not): inserts fail while it exists.
    fx.db.exec("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'storage refuses'); END");
    for (let i = 1; i <= 25; i++) expect(fx.sink.write(auditRecord(i))).toBe(true);
    await waitFor(() => !fx!.sink.isAccepting(), 'the worker to report the failure');
    expect(fx.sink.unavailableReason()).toBe('write_failed');
    expect(await failureCount(fx.metrics, 'write_failed')).toBe(1);
    expect(cap.lines.filter((l) => l.includes('audit write failed')).length).toBe(1);
    expect(count(fx)).toBe(0);
    expect(fx.sink.queued).toBe(25); // nothing dropped: unconfirmed rows stay queued
    // Rows of requests already under way are still queued while failing.
    expect(fx.sink.write(auditRecord(26))).toBe(true);
    fx.db.exec('DROP TRIGGER refuse_audit');
    await waitFor(() => fx!.sink.queued === 0 && fx!.sink.isAccepting(), 'recovery');
    expect(cap.lines.some((l) => l.includes('audit storage recovered'))).toBe(true);
    expect(count(fx)).toBe(26);
    expect(await verifyChain(fx.db, 'request')).toMatchObject({ ok: true, count: 26 });
  });

  it('a worker that exits is replaced: the rows it had not confirmed are written once, by the next one', async () => {
    fx = auditFixture({ batchSize: 5, flushIntervalMs: 5 });
    fx.sink = workerSink(fx);
    for (let i = 1; i <= 5; i++) fx.sink.write(auditRecord(i));
    await waitFor(() => fx!.sink.queued === 0, 'the first batch');
    // Kill the worker from outside (as a crash would); the sink notices on its next batch.
    const worker = (fx.sink as unknown as { writer: { worker?: Worker } }).writer.worker;
    expect(worker).toBeDefined();
    await worker!.terminate();
    for (let i = 6; i <= 17; i++) expect(fx.sink.write(auditRecord(i))).toBe(true);
    await waitFor(() => fx!.sink.queued === 0 && fx!.sink.isAccepting(), 'the rows to be written by a new worker');
    await fx.sink.close();
    expect(count(fx)).toBe(17);
    expect(await verifyChain(fx.db, 'request')).toMatchObject({ ok: true, count: 17 });
  });

  it('admin actions on the main connection and request rows from the worker keep two valid chains', async () => {
    fx = auditFixture({ batchSize: 3, flushIntervalMs: 1 });
    fx.sink = workerSink(fx);
    for (let i = 1; i <= 60; i++) {
      fx.sink.write(auditRecord(i));
      if (i % 10 === 0) {
        await recordAdminAction(fx.store, fx.clock, { actor: 'admin', action: 'config.update', after: { n: i } });
        await new Promise((r) => setTimeout(r, 2)); // let batches and admin writes interleave
      }
    }
    await fx.sink.close();
    expect(count(fx)).toBe(60);
    expect(await verifyChain(fx.db, 'request')).toMatchObject({ ok: true, count: 60 });
    expect(await verifyChain(fx.db, 'admin')).toMatchObject({ ok: true, count: 6 });
  });

  it('warm() (start-up warm-up) starts the worker with an empty batch: nothing written, rows queued meanwhile follow in order', async () => {
    fx = auditFixture({ batchSize: 5, flushIntervalMs: 5 });
    fx.sink = workerSink(fx);
    const writer = (fx.sink as unknown as { writer: { worker?: Worker } }).writer;
    expect(writer.worker).toBeUndefined();
    const warmed = fx.sink.warm();
    expect(writer.worker).toBeDefined();
    for (let i = 1; i <= 7; i++) expect(fx.sink.write(auditRecord(i))).toBe(true);
    await warmed;
    await waitFor(() => fx!.sink.queued === 0, 'the rows queued during the warm-up batch');
    expect(count(fx)).toBe(7);
    expect(await verifyChain(fx.db, 'request')).toMatchObject({ ok: true, count: 7 });
    await fx.sink.warm(); // nothing queued: another empty batch, still nothing written
    expect(count(fx)).toBe(7);
  });

  it('a batch crosses to the worker as one text: values holding line feeds, separators and JSON arrive whole, each row once', async () => {
    fx = auditFixture({ batchSize: 4, flushIntervalMs: 5 });
    fx.sink = workerSink(fx);
    // A claim can hold anything: the rows are joined by a line feed, so these must not split a row.
    const odd = ['a\nb', '\n', 'x\r\ny', '\u2028\u2029', '"],["forged', '\\n', ''];
    odd.forEach((user, i) => expect(fx!.sink.write(auditRecord(i + 1, { user, userAgent: `ua${user}` }))).toBe(true));
    await fx.sink.close();
    const rows = fx.db.prepare('SELECT user, user_agent FROM audit_log ORDER BY id').all() as Array<{ user: string; user_agent: string }>;
    expect(rows).toEqual(odd.map((user) => ({ user, user_agent: `ua${user}` })));
    expect(await verifyChain(fx.db, 'request')).toMatchObject({ ok: true, count: odd.length });
  });
});
