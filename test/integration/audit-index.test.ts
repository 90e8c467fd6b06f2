// The deferred user index (audit-index.ts, migration 0006): entries added in sorted batches by the
// writer, queries that merge them with the newest rows read by rowid. Checked against brute force on
// a real SQLite file written by the real worker: same rows, same order, every page, before and after
// retention, with request times out of id order (a slow request is written after faster later ones).
import { afterEach, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { auditFixture, auditRecord, disposeFixture, waitFor, type AuditFixture } from '../helpers/audit.js';
import { countAudit, exportAudit, queryAudit, type AuditEntry, type AuditFilters } from '../../src/store/audit-query.js';
import { runRetention } from '../../src/store/audit-retention.js';
import { verifyChain } from '../../src/store/audit-chain.js';
import { MIGRATIONS_DIR, listMigrations, migrate } from '../../src/store/migrate.js';
import { tempDir } from '../helpers/sidecar.js';
import type { Db } from '../../src/store/db.js';

const T0 = 1_767_225_600_000;
let fx: AuditFixture | undefined;
afterEach(async () => {
  await disposeFixture(fx);
  fx = undefined;
});

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Rows with users u0..u6 (some anonymous), times jittered by up to ±20 s so they are not in id order, some equal. */
async function writeRows(f: AuditFixture, n: number, seed = 7): Promise<void> {
  const r = rng(seed);
  for (let i = 1; i <= n; i++) {
    const user = r() < 0.1 ? null : `u${Math.floor(r() * 7)}`;
    f.sink.write(auditRecord(i, { user, time: T0 + i * 1000 + Math.round((r() - 0.5) * 40) * 1000 }));
  }
  await waitFor(() => f.sink.queued === 0, 'rows written');
}

const throughId = (db: Db) => db.prepare("SELECT through_id FROM audit_index_state WHERE name = 'audit_by_user'").pluck().get() as number;

/** What an ordinary index would return: every row, filtered in JS, newest (time, id) first. */
function bruteForce(db: Db, pred: (e: { user: string | null; time: number; decision: string }) => boolean): number[] {
  const rows = db.prepare('SELECT id, time, user, decision FROM audit_log').all() as Array<{ id: number; time: number; user: string | null; decision: string }>;
  return rows
    .filter(pred)
    .sort((a, b) => b.time - a.time || b.id - a.id)
    .map((r) => r.id);
}

function pagedIds(db: Db, f: AuditFilters, limit: number): number[] {
  const ids: number[] = [];
  let cursor: string | undefined;
  for (;;) {
    const p = queryAudit(db, f, { limit, cursor });
    ids.push(...p.items.map((e) => e.id));
    if (!p.nextCursor) return ids;
    cursor = p.nextCursor;
  }
}

async function exportedIds(db: Db, f: AuditFilters): Promise<number[]> {
  let text = '';
  for await (const chunk of exportAudit(db, f, 'ndjson')) text += String(chunk);
  return text
    .trimEnd()
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as AuditEntry).id);
}

/** Query, page, count and export by user (plus a time range and another filter) all equal brute force. */
async function expectSameAsBruteForce(db: Db): Promise<void> {
  const from = T0 + 300_000;
  const to = T0 + 900_000;
  const cases: Array<[AuditFilters, (e: { user: string | null; time: number; decision: string }) => boolean]> = [
    [{ user: 'u3' }, (e) => e.user === 'u3'],
    [{ user: 'u5', from, to }, (e) => e.user === 'u5' && e.time >= from && e.time < to],
    [{ user: 'u1', decision: 'deny' }, (e) => e.user === 'u1' && e.decision === 'deny'],
    [{ user: 'nobody' }, () => false],
    // Filter values are bound parameters in both arms, never SQL.
    [{ user: "u3' OR '1'='1" }, () => false],
    [{ user: 'u3', path: "/rest/' OR 1=1 --" }, () => false],
  ];
  for (const [f, pred] of cases) {
    const want = bruteForce(db, pred);
    expect(pagedIds(db, f, 1000), JSON.stringify(f)).toEqual(want);
    expect(pagedIds(db, f, 9), JSON.stringify(f)).toEqual(want);
    expect(countAudit(db, f)).toBe(want.length);
    expect(await exportedIds(db, f)).toEqual([...want].reverse());
  }
}

describe('deferred user index', () => {
  it('the writer adds entries every indexBatchRows rows, in the batch transaction, exactly one per row with a user', async () => {
    fx = auditFixture({ batchSize: 37, indexBatchRows: 100 });
    await writeRows(fx, 1000);
    const db = fx.db;
    const through = throughId(db);
    // Filled at the first batch end at least 100 rows after the last fill: never more than 100 + 37 rows behind.
    expect(through).toBeGreaterThan(1000 - 137);
    expect(through).toBeLessThan(1000);
    const entries = db.prepare('SELECT user, time, id FROM audit_by_user ORDER BY id').all();
    expect(entries).toEqual(db.prepare('SELECT user, time, id FROM audit_log WHERE user IS NOT NULL AND id <= ? ORDER BY id').all(through));
    expect(entries.length).toBeGreaterThan(700);
  });

  it('queries, pages, counts and exports by user exactly as an ordinary index would, with rows on both sides of through_id', async () => {
    fx = auditFixture({ batchSize: 50, indexBatchRows: 300 });
    await writeRows(fx, 1000);
    const through = throughId(fx.db);
    expect(through).toBeGreaterThan(0);
    expect(through).toBeLessThan(1000); // some rows are still without entries: both arms are read
    await expectSameAsBruteForce(fx.db);
  });

  it('retention deletes the entries with their rows, and queries still match brute force', async () => {
    fx = auditFixture({ batchSize: 50, indexBatchRows: 200 });
    await writeRows(fx, 1000);
    fx.clock.set(T0 + 86_400_000 + 500_000); // rows older than T0 + 500 s are past 1 day
    const res = await runRetention(fx.db, fx.clock, { retentionDays: 1, maxEntries: 600, batchRows: 64 });
    expect(res.deletedByAge + res.deletedByCount).toBeGreaterThan(400);
    const orphans = fx.db.prepare('SELECT COUNT(*) FROM audit_by_user x LEFT JOIN audit_log a ON a.id = x.id WHERE a.id IS NULL').pluck().get();
    expect(orphans).toBe(0);
    expect(verifyChain(fx.db, 'request').ok).toBe(true);
    await expectSameAsBruteForce(fx.db);
  });

  it('a failing index fill fails the whole batch: nothing written, retried whole once the fault is gone, chain intact', async () => {
    fx = auditFixture({ batchSize: 25, indexBatchRows: 50, flushIntervalMs: 5 });
    await writeRows(fx, 40); // below indexBatchRows: no fill yet
    expect(throughId(fx.db)).toBe(0);
    // A real SQLite error inside the fill (the worker's own connection sees the trigger).
    fx.db.exec("CREATE TRIGGER no_entries BEFORE INSERT ON audit_by_user BEGIN SELECT RAISE(ABORT, 'injected index fault'); END");
    for (let i = 41; i <= 60; i++) fx.sink.write(auditRecord(i));
    await waitFor(() => !fx!.sink.isAccepting(), 'the failed batch stops acceptance');
    expect(fx.db.prepare('SELECT MAX(id) FROM audit_log').pluck().get()).toBe(40);
    fx.db.exec('DROP TRIGGER no_entries');
    await waitFor(() => fx!.sink.queued === 0, 'the batch retried after the fault');
    expect(fx.db.prepare('SELECT MAX(id) FROM audit_log').pluck().get()).toBe(60);
    expect(throughId(fx.db)).toBe(60);
    expect(fx.db.prepare('SELECT COUNT(*) FROM audit_by_user').pluck().get()).toBe(fx.db.prepare('SELECT COUNT(*) FROM audit_log WHERE user IS NOT NULL').pluck().get());
    expect(verifyChain(fx.db, 'request').ok).toBe(true);
  });
});

describe('migration 0006', () => {
  it('moves an existing log onto the index table (every row gets its entry, through_id is the last id, the old index is gone) and makes the decision/status indexes partial', () => {
    const dir = tempDir('mig6-');
    const older = path.join(dir, 'migrations');
    mkdirSync(older);
    for (const f of listMigrations().filter((f) => f < '0006')) copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(older, f));
    const db = new Database(path.join(dir, 'db.sqlite'));
    try {
      migrate(db, older);
      const ins = db.prepare("INSERT INTO audit_log VALUES (?, ?, ?, 'allow', 'allowed', 200, 'GET', '/rest/x', '10.0.0.1', ?, 'jwt', NULL, NULL, NULL, 1, 200, 'guarded', NULL, NULL, '', '')");
      for (let i = 1; i <= 500; i++) ins.run(i, T0 + i, `r${i}`, i % 9 === 0 ? null : `u${i % 4}`);
      migrate(db);
      expect(throughId(db)).toBe(500);
      expect(db.prepare('SELECT user, time, id FROM audit_by_user ORDER BY id').all()).toEqual(db.prepare('SELECT user, time, id FROM audit_log WHERE user IS NOT NULL ORDER BY id').all());
      expect(db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'audit_log_user'").pluck().get()).toBe(0);
      const indexSql = (name: string) => db.prepare('SELECT sql FROM sqlite_master WHERE name = ?').pluck().get(name);
      expect(indexSql('audit_log_decision')).toMatch(/WHERE decision <> 'allow'$/);
      expect(indexSql('audit_log_status')).toMatch(/WHERE status <> 200$/);
      expect(pagedIds(db, { user: 'u2' }, 50)).toEqual(bruteForce(db, (e) => e.user === 'u2'));
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
