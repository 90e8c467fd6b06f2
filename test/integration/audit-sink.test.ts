// The sink under pressure: a busy database is retried, a full disk stops acceptance without losing
// queued rows, and a full queue follows audit.onFailure through the real pipeline.
import { rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { auditFixture, disposeFixture, auditRecord, failureCount, logCapture, sinkOn, verifyChain, waitFor, type AuditFixture } from '../helpers/audit.js';
import { startTestSidecar, tempDir, type TestSidecar } from '../helpers/sidecar.js';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { dbPath, openDb } from '../../src/store/sqlite/db.js';

let fx: AuditFixture | undefined;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  await disposeFixture(fx);
  fx = undefined;
  for (const c of cleanups.splice(0).reverse()) await c();
});

const count = (db: Database.Database) => (db.prepare('SELECT COUNT(*) AS n FROM audit_log').get() as { n: number }).n;
/** One sample of the Prometheus text ("name{labels} value"); undefined when absent. */
function metricValue(text: string, sample: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

describe('QueuedAuditSink on the SQLite store', () => {
  it('retries SQLITE_BUSY with backoff and then writes every queued row', async () => {
    fx = auditFixture({ batchSize: 5 });
    fx.db.pragma('busy_timeout = 0'); // fail fast instead of blocking the loop inside the test
    const cap = logCapture();
    fx.sink = sinkOn(fx, { logger: cap.logger });
    const other = new Database(dbPath(fx.dataDir));
    other.exec('BEGIN IMMEDIATE'); // another process holds the write lock
    for (let i = 1; i <= 12; i++) expect(fx.sink.write(auditRecord(i))).toBe(true);
    await waitFor(() => cap.lines.some((l) => l.includes('audit database busy')), 'a busy retry');
    expect(count(fx.db)).toBe(0);
    expect(fx.sink.queued).toBe(12);
    expect(fx.sink.isAccepting()).toBe(true); // busy is not a failure: the queue absorbs it
    other.exec('COMMIT');
    other.close();
    await waitFor(() => fx!.sink.queued === 0, 'the queue to drain');
    expect(count(fx.db)).toBe(12);
    expect(await verifyChain(fx.db, 'request')).toMatchObject({ ok: true, count: 12 });
    // The writer's work per batch: busy attempts and written batches apart, and every row once.
    const text = await fx.metrics.registry.metrics();
    expect(metricValue(text, 'sidecar_audit_rows_written_total')).toBe(12);
    expect(metricValue(text, 'sidecar_audit_write_seconds_count{result="ok"}')).toBeGreaterThanOrEqual(3); // 12 rows in batches of at most 5
    expect(metricValue(text, 'sidecar_audit_write_seconds_count{result="busy"}')).toBeGreaterThanOrEqual(1);
  });

  it('disk full: stops accepting, counts and logs it, keeps the rows and writes them when space returns', async () => {
    fx = auditFixture({ batchSize: 50 });
    const cap = logCapture();
    // Inline: max_page_count (the "full disk") is a per-connection pragma, so it only reaches a
    // writer using fx.db. The worker's failure path is covered in audit-worker.test.ts.
    fx.sink = sinkOn(fx, { logger: cap.logger, writer: 'inline' });
    const pages = fx.db.pragma('page_count', { simple: true }) as number;
    fx.db.pragma(`max_page_count = ${pages}`); // the "disk" is full at its current size
    let written = 0;
    for (let i = 1; fx.sink.isAccepting(); i++) {
      expect(i).toBeLessThan(40_000);
      expect(fx.sink.write(auditRecord(i, { path: `/rest/api/2/issue/${'x'.repeat(200)}-${i}` }))).toBe(true);
      written++;
      if (i % 500 === 0) await new Promise((r) => setImmediate(r)); // let flushes run
    }
    expect(await failureCount(fx.metrics, 'storage_full')).toBe(1);
    expect(cap.lines.some((l) => l.includes('"reason":"storage_full"'))).toBe(true);
    // Rows of requests already under way are still queued, not dropped.
    expect(fx.sink.write(auditRecord(written + 1))).toBe(true);
    written++;
    fx.db.pragma('max_page_count = 1073741823');
    await waitFor(() => fx!.sink.queued === 0 && fx!.sink.isAccepting(), 'recovery');
    expect(count(fx.db)).toBe(written);
    expect(await verifyChain(fx.db, 'request')).toMatchObject({ ok: true, count: written });
    const text = await fx.metrics.registry.metrics();
    expect(metricValue(text, 'sidecar_audit_write_seconds_count{result="storage_full"}')).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'sidecar_audit_rows_written_total')).toBe(written);
  });

  it('a full queue refuses rows, counted by reason; close() still writes everything queued', async () => {
    fx = auditFixture({ queueMax: 100, batchSize: 1000, flushIntervalMs: 3_600_000 });
    const queueLength = async () => Number(/^sidecar_audit_queue_length (\d+)$/m.exec(await fx!.metrics.registry.metrics())?.[1]);
    expect(await queueLength()).toBe(0);
    for (let i = 1; i <= 100; i++) expect(fx.sink.write(auditRecord(i))).toBe(true);
    expect(await queueLength()).toBe(100);
    expect(fx.sink.isAccepting()).toBe(false);
    expect(fx.sink.write(auditRecord(101))).toBe(false);
    expect(await failureCount(fx.metrics, 'queue_full')).toBe(1);
    await fx.sink.close();
    expect(count(fx.db)).toBe(100);
    expect(await queueLength()).toBe(0);
    expect(fx.sink.write(auditRecord(102))).toBe(false);
    expect(await failureCount(fx.metrics, 'closed')).toBe(1);
  });
});

describe('queue overflow through the pipeline follows audit.onFailure', () => {
  let upstream: JiraUpstream;
  async function start(onFailure: 'deny' | 'allow'): Promise<{ s: TestSidecar; dataDir: string }> {
    upstream = await startJiraUpstream();
    cleanups.push(() => upstream.close());
    const dataDir = tempDir();
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    // batchSize > queueMax and an hour-long timer: nothing flushes until close, so the queue fills.
    const s = await startTestSidecar(upstream.url, { audit: { onFailure, queueMax: 100, batchSize: 1000, flushIntervalMs: 3_600_000 } }, { dataDir });
    return { s, dataDir };
  }
  const metric = async (s: TestSidecar) => {
    const text = await (await fetch(`${s.adminUrl}/metrics`)).text();
    return Number(/sidecar_audit_failures_total\{reason="queue_full"\} (\d+)/.exec(text)?.[1] ?? 0);
  };
  const rows = async (dataDir: string) => {
    const { db } = openDb(dataDir);
    try {
      return { n: count(db), chain: await verifyChain(db, 'request') };
    } finally {
      db.close();
    }
  };

  it('deny: 503 audit_unavailable, nothing reaches Jira, the refusal is counted', async () => {
    const { s, dataDir } = await start('deny');
    for (let i = 0; i < 100; i++) expect((await fetch(`${s.proxyUrl}/rest/test/echo?i=${i}`)).status).toBe(200);
    const seen = upstream.seen.length;
    const res = await fetch(`${s.proxyUrl}/rest/test/echo?i=overflow`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: 'audit_unavailable' });
    expect(upstream.seen.length).toBe(seen);
    expect(await metric(s)).toBeGreaterThanOrEqual(1);
    // Jira's own UI is outside protectedPaths and not audited: an audit outage must not take it down.
    const ui = await fetch(`${s.proxyUrl}/secure/Dashboard.jspa`);
    expect(ui.status).toBe(200);
    expect(upstream.seen.some((r) => r.url === '/secure/Dashboard.jspa')).toBe(true);
    const ready = await fetch(`${s.adminUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { missing: string[] }).missing).toContain('audit');
    await s.close();
    expect(await rows(dataDir)).toMatchObject({ n: 100, chain: { ok: true } });
  });

  it('allow: forwarded (200) and the missing row is counted in the metric', async () => {
    const { s, dataDir } = await start('allow');
    for (let i = 0; i < 100; i++) expect((await fetch(`${s.proxyUrl}/rest/test/echo?i=${i}`)).status).toBe(200);
    expect(await metric(s)).toBe(0);
    const res = await fetch(`${s.proxyUrl}/rest/test/echo?i=overflow`);
    expect(res.status).toBe(200);
    expect(upstream.seen.some((r) => r.url.includes('i=overflow'))).toBe(true);
    expect(await metric(s)).toBe(1);
    expect((await fetch(`${s.adminUrl}/readyz`)).status).toBe(200); // allow: still serving
    await s.close();
    expect(await rows(dataDir)).toMatchObject({ n: 100, chain: { ok: true } });
  });
});
