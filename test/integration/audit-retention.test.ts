// Retention: deletes exactly the expired rows (time injected through the Clock) and the oldest rows
// beyond maxEntries, in small batches, and moves the anchor so verify still passes.
import { afterEach, describe, expect, it } from 'vitest';
import { auditFixture, disposeFixture, auditRecord, restartSink, verifyChain, waitFor, type AuditFixture } from '../helpers/audit.js';
import { recordAdminAction } from '../../src/audit/record-admin.js';
import { fixedClock } from '../../src/clock.js';
import { startTestSidecar } from '../helpers/sidecar.js';
import { startJiraUpstream } from '../../src/demo/jira-upstream.js';

const DAY = 86_400_000;
const T0 = 1_767_225_600_000;
let fx: AuditFixture | undefined;
afterEach(async () => {
  await disposeFixture(fx);
  fx = undefined;
});

const ids = (f: AuditFixture, table = 'audit_log') => (f.db.prepare(`SELECT id FROM ${table} ORDER BY id`).all() as Array<{ id: number }>).map((r) => r.id);

describe('audit retention', () => {
  it('deletes exactly the rows older than retentionDays, in batches, and verify still passes', async () => {
    fx = auditFixture({ batchSize: 1000 });
    // 2,500 rows one per hour over ~104 days.
    for (let i = 0; i < 2500; i++) fx.sink.write(auditRecord(i, { time: T0 + i * 3_600_000 }));
    await fx.sink.close();
    fx.clock.set(T0 + 2499 * 3_600_000 + 1); // "now": just after the newest row
    const cutoff = fx.clock.now() - 30 * DAY;
    const expired = (fx.db.prepare('SELECT COUNT(*) AS n FROM audit_log WHERE time < ?').get(cutoff) as { n: number }).n;
    expect(expired).toBeGreaterThan(1000); // more than one batch of 333
    const r = await fx.store.prune({ retentionDays: 30, maxEntries: 1_000_000, batchRows: 333, now: fx.clock.now() });
    expect(r).toEqual({ deletedByAge: expired, deletedByCount: 0 });
    expect((fx.db.prepare('SELECT COUNT(*) AS n FROM audit_log WHERE time < ?').get(cutoff) as { n: number }).n).toBe(0);
    expect(ids(fx)[0]).toBe(expired + 1);
    expect(ids(fx)).toHaveLength(2500 - expired);
    const anchor = fx.db.prepare("SELECT * FROM audit_anchor WHERE chain = 'request'").get() as { last_id: number; deleted_total: number };
    expect(anchor).toMatchObject({ last_id: expired, deleted_total: expired });
    expect(await verifyChain(fx.db, 'request')).toMatchObject({ ok: true, count: 2500 - expired, anchorId: expired });
    // A second pass at the same time deletes nothing.
    expect(await fx.store.prune({ retentionDays: 30, maxEntries: 1_000_000, batchRows: 333, now: fx.clock.now() })).toEqual({ deletedByAge: 0, deletedByCount: 0 });
  });

  it('keeps at most maxEntries rows (oldest go first) and the chain continues across the anchor', async () => {
    fx = auditFixture({ batchSize: 1000 });
    for (let i = 0; i < 3000; i++) fx.sink.write(auditRecord(i, { time: T0 + i }));
    await fx.sink.close();
    const r = await fx.store.prune({ retentionDays: 3650, maxEntries: 1000, batchRows: 400, now: fx.clock.now() });
    expect(r).toEqual({ deletedByAge: 0, deletedByCount: 2000 });
    expect(ids(fx)).toEqual(Array.from({ length: 1000 }, (_, i) => 2001 + i));
    // New rows chain onto the remaining head; verify walks from the anchor through them.
    restartSink(fx);
    for (let i = 0; i < 10; i++) fx.sink.write(auditRecord(5000 + i));
    await fx.sink.close();
    expect(await verifyChain(fx.db, 'request')).toMatchObject({ ok: true, count: 1010, anchorId: 2000, headId: 3010 });
  });

  it('an emptied chain restarts from its anchor, and the admin chain is pruned by age', async () => {
    fx = auditFixture();
    for (let i = 0; i < 5; i++) fx.sink.write(auditRecord(i, { time: T0 + i }));
    await fx.sink.close();
    await recordAdminAction(fx.store, fx.clock, { actor: 'admin', action: 'config.update' });
    fx.clock.set(T0 + 100 * DAY);
    await recordAdminAction(fx.store, fx.clock, { actor: 'admin', action: 'token.revoke' });
    const r = await fx.store.prune({ retentionDays: 90, maxEntries: 1000, now: fx.clock.now() });
    expect(r.deletedByAge).toBe(5 + 1);
    expect(ids(fx)).toEqual([]);
    expect(ids(fx, 'admin_audit')).toEqual([2]);
    expect(await verifyChain(fx.db, 'admin')).toMatchObject({ ok: true, count: 1, anchorId: 1 });
    restartSink(fx);
    fx.sink.write(auditRecord(99));
    await fx.sink.close();
    expect(ids(fx)).toEqual([6]);
    expect(await verifyChain(fx.db, 'request')).toMatchObject({ ok: true, count: 1, anchorId: 5 });
  });

  it('runs at sidecar start (time from the injected clock) and on demand through services.audit', async () => {
    fx = auditFixture();
    for (let i = 0; i < 100; i++) fx.sink.write(auditRecord(i, { time: T0 + i * DAY })); // one per day
    await fx.sink.close();
    const upstream = await startJiraUpstream();
    const clock = fixedClock(T0 + 99 * DAY + 1);
    const s = await startTestSidecar(upstream.url, { audit: { retentionDays: 30 } }, { clock, dataDir: fx.dataDir });
    try {
      const live = () => (fx!.db.prepare('SELECT COUNT(*) AS n FROM audit_log').get() as { n: number }).n;
      await waitFor(() => live() === 30, 'retention at start'); // days 70..99 are younger than 30 days
      clock.advance(10 * DAY);
      expect(await s.runtime.deps.services.audit!.runRetention()).toEqual({ deletedByAge: 10, deletedByCount: 0 });
      expect(await verifyChain(fx.db, 'request')).toMatchObject({ ok: true, count: 20, anchorId: 80 });
    } finally {
      await s.close();
      await upstream.close();
    }
  });
});
