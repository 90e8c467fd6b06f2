// The deferred indexes (store/sqlite/audit-index.ts, migrations 0006 and 0007: user, client IP, path, API token,
// client app): entries
// added in sorted batches by the writer, queries that merge them with the newest rows read by rowid. Checked against brute force on
// a real SQLite file written by the real worker: same rows, same order, every page, before and after
// retention, with request times out of id order (a slow request is written after faster later ones).
import { afterEach, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { auditFixture, auditRecord, disposeFixture, REPLICA, verifyChain, waitFor, type AuditFixture } from '../helpers/audit.js';
import { queryAudit, type AuditEntry } from '../../src/audit/query.js';
import { exportAudit } from '../../src/audit/export.js';
import type { AuditFilters } from '../../src/store/audit-store.js';
import { SqliteAuditStore } from '../../src/store/sqlite/audit.js';
import { MIGRATIONS_DIR, listMigrations, migrate } from '../../src/store/sqlite/migrate.js';
import { tempDir } from '../helpers/sidecar.js';
import type { Db } from '../../src/store/sqlite/db.js';
import { deferredIndexFiller, SWEEP_CHUNK_MIN, SWEEP_FILLS } from '../../src/store/sqlite/audit-index.js';
import { openDb } from '../../src/store/sqlite/db.js';

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

/**
 * Rows with users u0..u6 (some anonymous), addresses 10.0.0.0..4, paths under /rest/api/2/issue/P-0..29
 * and /rest/agile/1.0/board/0..2 (prefixes of each other: P-1 and P-12), times jittered by up to ±20 s
 * so they are not in id order, some equal.
 */
async function writeRows(f: AuditFixture, n: number, seed = 7): Promise<void> {
  const r = rng(seed);
  for (let i = 1; i <= n; i++) {
    const user = r() < 0.1 ? null : `u${Math.floor(r() * 7)}`;
    const clientIp = `10.0.0.${Math.floor(r() * 5)}`;
    const p = r() < 0.3 ? `/rest/agile/1.0/board/${Math.floor(r() * 3)}` : `/rest/api/2/issue/P-${Math.floor(r() * 30)}`;
    const tokenId = r() < 0.5 ? null : `tok${Math.floor(r() * 6)}`;
    const clientId = r() < 0.4 ? null : `app-${Math.floor(r() * 4)}`;
    f.sink.write(auditRecord(i, { user, clientIp, path: p, tokenId, clientId, time: T0 + i * 1000 + Math.round((r() - 0.5) * 40) * 1000 }));
  }
  await waitFor(() => f.sink.queued === 0, 'rows written');
}

const INDEXED = [
  ['audit_by_user', 'user'],
  ['audit_by_ip', 'client_ip'],
  ['audit_by_path', 'path'],
  ['audit_by_token', 'token_id'],
  ['audit_by_client', 'client_id'],
] as const;
const TABLES = INDEXED.map(([t]) => t);
const throughIdOf = (db: Db, table: string) => (db.prepare('SELECT through_id FROM audit_index_state WHERE name = ?').pluck().get(table) as number | undefined) ?? 0;
/** The lowest through_id of all (each index has its own: the writer fills one per batch). */
const throughId = (db: Db) => Math.min(...TABLES.map((t) => throughIdOf(db, t)));
/** An index's entries in both its tiers (migration 0014: the writer fills the recent one, sweeps move them to the main one), by id. */
const entriesOf = (db: Db, table: string, column: string) =>
  db.prepare(`SELECT ${column}, time, id FROM ${table} UNION ALL SELECT ${column}, time, id FROM ${table}_recent ORDER BY id`).all();
/** An audit_log row with the columns the index tests read (the rest fixed; no chain: these files are not verified). */
const namedInsert = (db: Db) =>
  db.prepare(
    "INSERT INTO audit_log (id, time, request_id, decision, reason, status, method, path, client_ip, user, credential_kind, token_id, client_id, latency_ms, upstream_status, route, prev_hash, row_hash) VALUES (@id, @time, 'r' || @id, 'allow', 'allowed', 200, 'GET', @path, @ip, @user, 'jwt', @token, @client, 1, 200, 'guarded', '', '')",
  );
const countOf = (db: Db, table: string) => db.prepare(`SELECT (SELECT COUNT(*) FROM ${table}) + (SELECT COUNT(*) FROM ${table}_recent)`).pluck().get() as number;

type Row = { user: string | null; client_ip: string; path: string; token_id: string | null; client_id: string | null; time: number; decision: string };
/** What an ordinary index would return: every row, filtered in JS, newest (time, id) first. */
function bruteForce(db: Db, pred: (e: Row) => boolean): number[] {
  const rows = db.prepare('SELECT id, time, user, client_ip, path, token_id, client_id, decision FROM audit_log').all() as Array<Row & { id: number }>;
  return rows
    .filter(pred)
    .sort((a, b) => b.time - a.time || b.id - a.id)
    .map((r) => r.id);
}

/** Through the store and the API's paging, as GET /api/audit reads them. */
async function pagedIds(db: Db, f: AuditFilters, limit: number): Promise<number[]> {
  const store = new SqliteAuditStore(db, REPLICA);
  const ids: number[] = [];
  let cursor: string | undefined;
  for (;;) {
    const p = await queryAudit(store, f, { limit, cursor });
    ids.push(...p.items.map((e) => e.id));
    if (!p.nextCursor) return ids;
    cursor = p.nextCursor;
  }
}

async function exportedIds(db: Db, f: AuditFilters): Promise<number[]> {
  let text = '';
  for await (const chunk of exportAudit(new SqliteAuditStore(db, REPLICA), f, 'ndjson')) text += String(chunk);
  return text
    .trimEnd()
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as AuditEntry).id);
}

/** Query, page, count and export by user, ip and path (plus a time range and other filters) all equal brute force. */
async function expectSameAsBruteForce(db: Db): Promise<void> {
  const from = T0 + 300_000;
  const to = T0 + 900_000;
  const cases: Array<[AuditFilters, (e: Row) => boolean]> = [
    [{ user: 'u3' }, (e) => e.user === 'u3'],
    [{ ip: '10.0.0.3' }, (e) => e.client_ip === '10.0.0.3'],
    [{ ip: '10.0.0.1', from, to }, (e) => e.client_ip === '10.0.0.1' && e.time >= from && e.time < to],
    [{ path: '/rest/agile/' }, (e) => e.path.startsWith('/rest/agile/')],
    [{ path: '/rest/api/2/issue/P-1' }, (e) => e.path.startsWith('/rest/api/2/issue/P-1')],
    [{ path: '/rest/api/2/issue/P-2', decision: 'deny', from }, (e) => e.path.startsWith('/rest/api/2/issue/P-2') && e.decision === 'deny' && e.time >= from],
    [{ user: 'u2', path: '/rest/agile/' }, (e) => e.user === 'u2' && e.path.startsWith('/rest/agile/')],
    [{ ip: '10.0.0.2', path: '/rest/api/' }, (e) => e.client_ip === '10.0.0.2' && e.path.startsWith('/rest/api/')],
    [{ user: 'u4', ip: '10.0.0.4' }, (e) => e.user === 'u4' && e.client_ip === '10.0.0.4'],
    [{ token: 'tok2', user: 'u1' }, (e) => e.token_id === 'tok2' && e.user === 'u1'],
    [{ client: 'app-3', path: '/rest/agile/', from }, (e) => e.client_id === 'app-3' && e.path.startsWith('/rest/agile/') && e.time >= from],
    [{ token: 'nope' }, () => false],
    [{ ip: '10.0.0.9' }, () => false],
    [{ path: '/nothing/' }, () => false],
    [{ user: 'u5', from, to }, (e) => e.user === 'u5' && e.time >= from && e.time < to],
    [{ user: 'u1', decision: 'deny' }, (e) => e.user === 'u1' && e.decision === 'deny'],
    [{ user: 'nobody' }, () => false],
    // Filter values are bound parameters in both arms, never SQL.
    [{ user: "u3' OR '1'='1" }, () => false],
    [{ user: 'u3', path: "/rest/' OR 1=1 --" }, () => false],
    [{ ip: "10.0.0.1' OR '1'='1" }, () => false],
    [{ path: "/rest/' OR 1=1 --" }, () => false],
  ];
  // Every address and every path (as a prefix) in the log, so the rows right after through_id are filtered for too.
  const distinct = (column: string) => db.prepare(`SELECT DISTINCT ${column} FROM audit_log`).pluck().all() as string[];
  for (const ip of distinct('client_ip')) cases.push([{ ip }, (e) => e.client_ip === ip]);
  for (const token of distinct('token_id')) if (token !== null) cases.push([{ token }, (e) => e.token_id === token]);
  for (const client of distinct('client_id')) if (client !== null) cases.push([{ client }, (e) => e.client_id === client]);
  for (const p of distinct('path')) cases.push([{ path: p }, (e) => e.path.startsWith(p)]);
  for (const [f, pred] of cases) {
    const want = bruteForce(db, pred);
    expect(await pagedIds(db, f, 1000), JSON.stringify(f)).toEqual(want);
    expect(await pagedIds(db, f, 9), JSON.stringify(f)).toEqual(want);
    expect(await new SqliteAuditStore(db, REPLICA).count(f)).toBe(want.length);
    expect(await exportedIds(db, f)).toEqual([...want].reverse());
  }
}

describe('deferred indexes (user, client IP, path)', () => {
  it('the writer adds entries every indexBatchRows rows, in the batch transaction, exactly one per row with a value', async () => {
    fx = auditFixture({ batchSize: 37, indexBatchRows: 100 });
    await writeRows(fx, 1000);
    const db = fx.db;
    for (const [table, column] of INDEXED) {
      const through = throughIdOf(db, table);
      // Filled at a batch end at least 100 rows after its last fill, one index per batch (the others
      // may be due in the same batch): never more than 100 + 5 × 37 rows behind.
      expect(through, table).toBeGreaterThan(1000 - 100 - INDEXED.length * 37);
      expect(through, table).toBeLessThanOrEqual(1000);
      const entries = entriesOf(db, table, column);
      expect(entries, table).toEqual(db.prepare(`SELECT ${column}, time, id FROM audit_log WHERE ${column} IS NOT NULL AND id <= ? ORDER BY id`).all(through));
      expect(entries.length, table).toBeGreaterThan(column === 'token_id' || column === 'client_id' ? 300 : 700);
      // A log of fewer than DIRECT_FILL_ROWS rows is filled straight into the main tables.
      expect(db.prepare(`SELECT COUNT(*) FROM ${table}_recent`).pluck().get(), table).toBe(0);
    }
  });

  it('with indexBatchRows 1 every index is due at every batch: they are filled in turn (furthest behind first), none waits for ever', async () => {
    fx = auditFixture({ batchSize: 10, indexBatchRows: 1 });
    for (let i = 1; i <= 200; i++) {
      fx.sink.write(auditRecord(i, { tokenId: `tok${i % 3}` }));
      // One batch at a time, so every batch is exactly 10 rows.
      if (i % 10 === 0) await waitFor(() => fx!.sink.queued === 0, `rows up to ${i}`);
    }
    for (const table of TABLES) {
      // One index step per batch: a fill, or a sweep's chunk when the last step was a fill and a
      // sweep is due (every eighth fill, with indexBatchRows 1). Among five indexes each is filled at
      // least every tenth batch.
      expect(throughIdOf(fx.db, table), table).toBeGreaterThanOrEqual(200 - 2 * TABLES.length * 10);
    }
  });

  it('queries, pages, counts and exports by user, ip, path, token and client exactly as an ordinary index would, with rows on both sides of through_id', async () => {
    fx = auditFixture({ batchSize: 50, indexBatchRows: 300 });
    await writeRows(fx, 1030);
    for (const table of TABLES) {
      const through = throughIdOf(fx.db, table);
      expect(through, table).toBeGreaterThan(0);
      expect(through, table).toBeLessThan(1030); // some rows are still without entries: both arms are read
    }
    await expectSameAsBruteForce(fx.db);
  });

  it('retention deletes the entries with their rows, and queries still match brute force', async () => {
    fx = auditFixture({ batchSize: 50, indexBatchRows: 200 });
    await writeRows(fx, 1000);
    fx.clock.set(T0 + 86_400_000 + 500_000); // rows older than T0 + 500 s are past 1 day
    const res = await fx.store.prune({ retentionDays: 1, maxEntries: 600, batchRows: 64, now: fx.clock.now() });
    expect(res.deletedByAge + res.deletedByCount).toBeGreaterThan(400);
    for (const table of TABLES.flatMap((t) => [t, `${t}_recent`])) {
      const orphans = fx.db.prepare(`SELECT COUNT(*) FROM ${table} x LEFT JOIN audit_log a ON a.id = x.id WHERE a.id IS NULL`).pluck().get();
      expect(orphans, table).toBe(0);
    }
    expect((await verifyChain(fx.db, 'request')).ok).toBe(true);
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
    for (const table of TABLES) expect(countOf(fx.db, table), table).toBe(0);
    fx.db.exec('DROP TRIGGER no_entries');
    await waitFor(() => fx!.sink.queued === 0, 'the batch retried after the fault');
    expect(fx.db.prepare('SELECT MAX(id) FROM audit_log').pluck().get()).toBe(60);
    expect(throughIdOf(fx.db, 'audit_by_user')).toBe(60);
    expect(countOf(fx.db, 'audit_by_user')).toBe(fx.db.prepare('SELECT COUNT(*) FROM audit_log WHERE user IS NOT NULL').pluck().get());
    // The other two are filled by the batches that follow, one per batch.
    for (const batch of [61, 62]) {
      fx.sink.write(auditRecord(batch));
      await waitFor(() => fx!.sink.queued === 0, `row ${batch} written`);
    }
    expect(throughIdOf(fx.db, 'audit_by_ip')).toBe(61);
    expect(throughIdOf(fx.db, 'audit_by_path')).toBe(62);
    for (const table of ['audit_by_ip', 'audit_by_path']) expect(countOf(fx.db, table), table).toBe(throughIdOf(fx.db, table));
    expect((await verifyChain(fx.db, 'request')).ok).toBe(true);
  });
});

/**
 * A real file, migrated, with the writer's index step (deferredIndexFiller) taking the recent tier
 * from the first fill (not only past DIRECT_FILL_ROWS rows), driven batch by batch by the test.
 */
async function onTierFile(run: (db: Db, ins: ReturnType<typeof namedInsert>, step: ReturnType<typeof deferredIndexFiller>) => Promise<void>): Promise<void> {
  const dir = tempDir('audit-tiers-');
  const { db } = openDb(dir, { migrate: true });
  try {
    await run(db, namedInsert(db), deferredIndexFiller(db, 0));
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('deferred indexes in two tiers (migration 0014): fills into the recent table, sweeps into the main one', () => {
  /** No entry in both tiers, and together they hold exactly one entry per row up to through_id with a value. */
  const expectOneEntryPerRow = (db: Db) => {
    for (const [table, column] of INDEXED) {
      const both = db.prepare(`SELECT COUNT(*) FROM ${table} m JOIN ${table}_recent r ON r.id = m.id`).pluck().get();
      expect(both, table).toBe(0);
      expect(entriesOf(db, table, column), table).toEqual(
        db.prepare(`SELECT ${column}, time, id FROM audit_log WHERE ${column} IS NOT NULL AND id <= ? ORDER BY id`).all(throughIdOf(db, table)),
      );
    }
  };

  it(`a sweep starts once a recent table holds ${SWEEP_FILLS} fills' worth and moves it into the main table in chunks, one per batch; every row keeps exactly one entry, and queries equal brute force mid-sweep`, async () => {
    // The writer's own step function on a real file, batch by batch (50 rows each), so each state
    // between two chunks can be looked at. indexBatchRows 200: a sweep is due every 1,600 rows,
    // in chunks of SWEEP_CHUNK_MIN (1,000) entries.
    await onTierFile(async (db, ins, step) => {
      const r = rng(11);
      let id = 0;
      let midSweepChecks = 0;
      const mainSizes: number[] = [];
      for (let batch = 0; batch < 120; batch++) {
        db.transaction(() => {
          for (let k = 0; k < 50; k++) {
            id++;
            ins.run({ id, time: T0 + id * 1000 + Math.round((r() - 0.5) * 40) * 1000, user: r() < 0.1 ? null : `u${Math.floor(r() * 7)}`, ip: `10.0.0.${Math.floor(r() * 5)}`, path: `/rest/api/2/issue/P-${Math.floor(r() * 30)}`, token: r() < 0.5 ? null : `tok${Math.floor(r() * 6)}`, client: null });
          }
          step(id, 200);
        })();
        expectOneEntryPerRow(db);
        const size = (table: string) => db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;
        const main = TABLES.reduce((n, t) => n + size(t), 0);
        // A chunk of 1,000 moved and more are left: the middle of a sweep.
        if (main - (mainSizes.at(-1) ?? 0) === SWEEP_CHUNK_MIN && midSweepChecks < 2) {
          midSweepChecks++;
          await expectSameAsBruteForce(db);
        }
        mainSizes.push(main);
        for (const t of TABLES) expect(size(`${t}_recent`), t).toBeLessThanOrEqual(2 * SWEEP_FILLS * 200 + 10 * 50);
      }
      expect(midSweepChecks).toBe(2);
      // The main tier grew in steps of at most one chunk per batch.
      expect(mainSizes[0]).toBe(0);
      expect(mainSizes.at(-1)).toBeGreaterThan(2 * SWEEP_FILLS * 200);
      for (let i = 1; i < mainSizes.length; i++) expect(mainSizes[i]! - mainSizes[i - 1]!).toBeLessThanOrEqual(SWEEP_CHUNK_MIN);
      // A completed sweep records the through_id it started from.
      expect(throughIdOf(db, 'audit_by_ip_recent')).toBeGreaterThanOrEqual(SWEEP_FILLS * 200);
      await expectSameAsBruteForce(db);
    });
  });

  it('a failing sweep fails its transaction: nothing moved, no entry lost or doubled; the sweep goes on in the batches after', async () => {
    await onTierFile(async (db, ins, step) => {
      let id = 0;
      const batch = () =>
        db.transaction(() => {
          for (let k = 0; k < 50; k++) {
            id++;
            ins.run({ id, time: T0 + id * 1000, user: `u${id % 7}`, ip: `10.0.0.${id % 5}`, path: `/rest/api/2/issue/P-${id % 30}`, token: `tok${id % 3}`, client: `app-${id % 2}` });
          }
          step(id, 20);
        })();
      for (let b = 0; b < 12; b++) batch(); // 600 rows: every index filled past a sweep's threshold (160)
      // A real SQLite error inside whichever sweep runs next.
      for (const t of TABLES) db.exec(`CREATE TRIGGER no_sweep_${t} BEFORE INSERT ON ${t} BEGIN SELECT RAISE(ABORT, 'injected sweep fault'); END`);
      let failure: unknown;
      for (let b = 0; b < 4 && !failure; b++) {
        try {
          batch();
        } catch (e) {
          failure = e;
        }
      }
      expect(String(failure)).toMatch(/injected sweep fault/);
      // The failed batch left nothing: neither its rows nor any move.
      id = db.prepare('SELECT MAX(id) FROM audit_log').pluck().get() as number;
      expect(id % 50).toBe(0);
      expectOneEntryPerRow(db);
      for (const t of TABLES) db.exec(`DROP TRIGGER no_sweep_${t}`);
      for (let b = 0; b < 30; b++) batch();
      expect(TABLES.reduce((n, t) => n + (db.prepare(`SELECT COUNT(*) FROM ${t}`).pluck().get() as number), 0)).toBeGreaterThan(0);
      expectOneEntryPerRow(db);
      await expectSameAsBruteForce(db);
    });
  });

  it('with indexBatchRows 1 a fill is due at every batch and a sweep at every eighth: they take turns, neither waits for ever', async () => {
    await onTierFile(async (db, ins, step) => {
      let id = 0;
      const main = () => TABLES.reduce((n, t) => n + (db.prepare(`SELECT COUNT(*) FROM ${t}`).pluck().get() as number), 0);
      for (let b = 0; b < 200; b++) {
        db.transaction(() => {
          for (let k = 0; k < 10; k++) {
            id++;
            ins.run({ id, time: T0 + id, user: `u${id % 7}`, ip: `10.0.0.${id % 5}`, path: `/p/${id % 3}`, token: null, client: null });
          }
          step(id, 1);
        })();
      }
      // Fills got every other batch at least: each of the five indexes was filled at least every tenth batch.
      for (const t of TABLES) expect(throughIdOf(db, t), t).toBeGreaterThanOrEqual(id - 2 * TABLES.length * 10);
      // And the sweeps got the others (chunks of SWEEP_CHUNK_MIN): most entries are in the main tables.
      expect(main()).toBeGreaterThan(id);
      expectOneEntryPerRow(db);
    });
  });
});

/** A database migrated up to (not including) `before`, with `rows` written by `fill`, then migrated to the end. */
async function migratedFrom(before: string, fill: (db: Db) => void, check: (db: Db) => Promise<void>): Promise<void> {
  const dir = tempDir('mig-');
  const older = path.join(dir, 'migrations');
  mkdirSync(older);
  for (const f of listMigrations().filter((f) => f < before)) copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(older, f));
  const db = new Database(path.join(dir, 'db.sqlite'));
  try {
    migrate(db, older);
    db.transaction(() => fill(db))();
    migrate(db);
    await check(db);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const insertRow = (db: Db) =>
  db.prepare("INSERT INTO audit_log VALUES (@id, @time, @rid, 'allow', 'allowed', 200, 'GET', @path, @ip, @user, 'jwt', @token, @client, NULL, 1, 200, 'guarded', NULL, NULL, '', '')");

describe('migrations 0006, 0007 and 0014', () => {
  it('0014 adds empty recent tables, each marked swept through the through_id of its index; what was indexed stays in the main tables and queries match brute force', async () => {
    await migratedFrom(
      '0014',
      (db) => {
        const ins = namedInsert(db);
        for (let i = 1; i <= 300; i++) ins.run({ id: i, time: T0 + ((i * 37) % 300), path: `/rest/api/2/issue/P-${i % 11}`, ip: `10.0.0.${i % 5}`, user: `u${i % 4}`, token: null, client: null });
        // What the writer did before 0014: entries for rows up to 200 in the main tables.
        for (const [table, column] of INDEXED) {
          db.prepare(`INSERT INTO ${table} (${column}, time, id) SELECT ${column}, time, id FROM audit_log WHERE id <= 200 AND ${column} IS NOT NULL`).run();
          db.prepare('INSERT INTO audit_index_state (name, through_id) VALUES (?, 200) ON CONFLICT (name) DO UPDATE SET through_id = 200').run(table);
        }
      },
      async (db) => {
        for (const [table] of INDEXED) {
          expect(db.prepare(`SELECT COUNT(*) FROM ${table}_recent`).pluck().get(), table).toBe(0);
          expect(throughIdOf(db, `${table}_recent`), table).toBe(200);
          expect(throughIdOf(db, table), table).toBe(200);
        }
        expect(await pagedIds(db, { user: 'u1' }, 17)).toEqual(bruteForce(db, (e) => e.user === 'u1'));
        expect(await pagedIds(db, { ip: '10.0.0.3' }, 17)).toEqual(bruteForce(db, (e) => e.client_ip === '10.0.0.3'));
        expect(await pagedIds(db, { path: '/rest/api/2/issue/P-1' }, 17)).toEqual(bruteForce(db, (e) => e.path.startsWith('/rest/api/2/issue/P-1')));
      },
    );
  });

  it('0006 moves an existing log onto the user index table (every row gets its entry, through_id is the last id, the old index is gone) and makes the decision/status indexes partial', async () => {
    await migratedFrom(
      '0006',
      (db) => {
        const ins = insertRow(db);
        for (let i = 1; i <= 500; i++) ins.run({ id: i, time: T0 + i, rid: `r${i}`, path: '/rest/x', ip: '10.0.0.1', user: i % 9 === 0 ? null : `u${i % 4}`, token: null, client: null });
      },
      async (db) => {
        expect(throughId(db)).toBe(500);
        expect(db.prepare('SELECT user, time, id FROM audit_by_user ORDER BY id').all()).toEqual(db.prepare('SELECT user, time, id FROM audit_log WHERE user IS NOT NULL ORDER BY id').all());
        expect(db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'audit_log_user'").pluck().get()).toBe(0);
        const indexSql = (name: string) => db.prepare('SELECT sql FROM sqlite_master WHERE name = ?').pluck().get(name);
        expect(indexSql('audit_log_decision')).toMatch(/WHERE decision <> 'allow'$/);
        expect(indexSql('audit_log_status')).toMatch(/WHERE status <> 200$/);
        expect(await pagedIds(db, { user: 'u2' }, 50)).toEqual(bruteForce(db, (e) => e.user === 'u2'));
      },
    );
  });

  it('0007 moves an existing log onto the ip, path, token and client index tables and drops their SQLite indexes; queries match brute force', async () => {
    await migratedFrom(
      '0007',
      (db) => {
        const ins = insertRow(db);
        // Times out of id order, as a slow request's row is written after faster later ones.
        for (let i = 1; i <= 600; i++) {
          const token = i % 3 === 0 ? `tok${i % 5}` : null;
          const client = i % 4 === 0 ? `app-${i % 7}` : null;
          ins.run({ id: i, time: T0 + ((i * 37) % 600), rid: `r${i}`, path: `/rest/api/2/issue/P-${i % 13}`, ip: `10.0.0.${i % 6}`, user: `u${i % 4}`, token, client });
        }
      },
      async (db) => {
        // The user index keeps its own through_id (0 here: these rows were inserted after 0006 by hand).
        for (const [table, column] of INDEXED.filter(([t]) => t !== 'audit_by_user')) {
          expect(throughIdOf(db, table), table).toBe(600);
          expect(db.prepare(`SELECT ${column}, time, id FROM ${table} ORDER BY id`).all(), table).toEqual(
            db.prepare(`SELECT ${column}, time, id FROM audit_log WHERE ${column} IS NOT NULL ORDER BY id`).all(),
          );
        }
        expect(db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name IN ('audit_log_ip', 'audit_log_path', 'audit_log_token', 'audit_log_client')").pluck().get()).toBe(0);
        expect(await pagedIds(db, { token: 'tok3' }, 30)).toEqual(bruteForce(db, (e) => e.token_id === 'tok3'));
        expect(await pagedIds(db, { client: 'app-2' }, 30)).toEqual(bruteForce(db, (e) => e.client_id === 'app-2'));
        expect(await pagedIds(db, { ip: '10.0.0.4' }, 30)).toEqual(bruteForce(db, (e) => e.client_ip === '10.0.0.4'));
        expect(await pagedIds(db, { path: '/rest/api/2/issue/P-1' }, 30)).toEqual(bruteForce(db, (e) => e.path.startsWith('/rest/api/2/issue/P-1')));
      },
    );
  });
});
