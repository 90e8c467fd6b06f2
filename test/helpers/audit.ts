// Audit test helpers: a migrated temp database, its SQLite audit store, a sink on the store's
// writer, and AuditRecord factories.
import { fixedClock } from '../../src/clock.js';
import { createLogger, type Logger } from '../../src/log.js';
import { createMetrics } from '../../src/pipeline/metrics/metrics.js';
import type { AuditRecord } from '../../src/pipeline/audit/sink.js';
import { openDb, type Db } from '../../src/store/sqlite/db.js';
import { SqliteAuditStore } from '../../src/store/sqlite/audit.js';
import type { ChainKind, ChainReport } from '../../src/store/audit-store.js';
import { QueuedAuditSink, type AuditSettings } from '../../src/audit/sink.js';
import { rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { vi } from 'vitest';
import { tempDir } from './sidecar.js';

/** The replica name of every fixture store. */
export const REPLICA = 'test-replica';

export function auditRecord(i: number, over: Partial<AuditRecord> = {}): AuditRecord {
  return {
    time: 1_767_225_600_000 + i * 1000,
    requestId: `req-${i}`,
    decision: i % 3 === 0 ? 'deny' : 'allow',
    reason: i % 3 === 0 ? 'group_not_allowed' : 'allowed',
    status: i % 3 === 0 ? 403 : 200,
    method: 'GET',
    path: `/rest/api/2/issue/DEMO-${i}`,
    clientIp: `10.0.${i % 7}.${i % 250}`,
    user: `user${i % 5}`,
    credentialKind: 'jwt',
    tokenId: null,
    clientId: i % 4 === 0 ? `app-${i % 3}` : null,
    issuer: 'entra',
    latencyMs: 3,
    upstreamStatus: i % 3 === 0 ? null : 200,
    route: 'guarded',
    stage: i % 3 === 0 ? 'authorize' : null,
    rule: i % 3 === 0 ? 'allowedGroups' : null,
    wouldDeny: null,
    userAgent: null,
    facts: null,
    ...over,
  };
}

export interface AuditFixture {
  dataDir: string;
  db: Db;
  store: SqliteAuditStore;
  sink: QueuedAuditSink;
  metrics: ReturnType<typeof createMetrics>;
  clock: ReturnType<typeof fixedClock>;
  settings: AuditSettings;
}

/** A sink on the fixture's store: its worker writer unless `writer` says inline. */
export function sinkOn(fx: Pick<AuditFixture, 'store' | 'metrics' | 'settings'>, o: { logger?: Logger; writer?: 'worker' | 'inline' } = {}): QueuedAuditSink {
  return new QueuedAuditSink({ writer: fx.store.requestWriter(o.writer ?? 'worker'), settings: () => fx.settings, logger: o.logger ?? createLogger('silent'), metrics: fx.metrics });
}

export function auditFixture(settings: Partial<AuditSettings> = {}, dataDir = tempDir('audit-')): AuditFixture {
  const { db } = openDb(dataDir);
  const metrics = createMetrics(false);
  const clock = fixedClock(1_767_225_600_000);
  const s: AuditSettings = { queueMax: 50_000, batchSize: 500, flushIntervalMs: 20, indexBatchRows: 10_000, ...settings };
  const store = new SqliteAuditStore(db, REPLICA);
  const sink = sinkOn({ store, metrics, settings: s });
  return { dataDir, db, store, sink, metrics, clock, settings: s };
}

/** A fresh sink on the same database (as after a restart): it continues the stored chain. */
export function restartSink(fx: AuditFixture): void {
  fx.sink = sinkOn(fx);
}

/** Walks one chain of a SQLite database (the fixture's, or one a sidecar wrote) through the store. */
export function verifyChain(db: Db, kind: ChainKind): Promise<ChainReport> {
  return new SqliteAuditStore(db, REPLICA).verify({ kind, replica: REPLICA });
}

export async function failureCount(m: ReturnType<typeof createMetrics>, reason: string): Promise<number> {
  const v = (await m.auditFailures.get()).values.find((x) => x.labels.reason === reason);
  return v?.value ?? 0;
}

export async function waitFor(cond: () => boolean, what: string, maxMs = 20_000): Promise<void> {
  const end = Date.now() + maxMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Closes the sink (writing what is queued), the database, and removes the data dir. */
export async function disposeFixture(fx: AuditFixture | undefined): Promise<void> {
  if (!fx) return;
  await fx.sink.close();
  fx.db.close();
  rmSync(fx.dataDir, { recursive: true, force: true });
}

/** A pino destination that keeps the lines, to wait for a log line instead of sleeping. */
export function logCapture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _e, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, logger: createLogger('warn', stream) };
}

/**
 * The audit rows the start-up warm-up builds and drops (QueuedAuditSink.rehearse), collected from
 * here on in the returned array (a spy on the prototype: every sidecar of the test file).
 */
export function collectRehearsedRows(): AuditRecord[] {
  const rows: AuditRecord[] = [];
  const rehearse = QueuedAuditSink.prototype.rehearse;
  vi.spyOn(QueuedAuditSink.prototype, 'rehearse').mockImplementation(function (this: QueuedAuditSink, r: AuditRecord) {
    rows.push(r);
    return rehearse.call(this, r);
  });
  return rows;
}
