// The storage conformance suite on PostgreSQL (the run's embedded server): a fresh database per test.
// Below it, what only PostgreSQL has: the audit writer's and retention's advisory locks as seen by
// another session, SQLSTATE mapping, and the audit indexes' plans.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { encodeRow } from '../../src/audit/encode.js';
import { listQuery, pgWriteErrorKind, PRUNE_LOCK_KEY } from '../../src/store/postgres/audit.js';
import { openPostgresStores } from '../../src/store/postgres/stores.js';
import type { AuditFilters } from '../../src/store/audit-store.js';
import type { Stores } from '../../src/store/stores.js';
import { freshDatabase } from '../helpers/postgres.js';
import { storeConformance } from './conformance/index.js';
import { tokenRequestStoreConformance } from './conformance/token-requests.js';
import { T0, type AuditTamper, type Backend } from './conformance/harness.js';

/** Each open()'s database and the handles reopen() added to it (closed by its destroy). */
const databases = new WeakMap<Stores, { url: string; others: Stores[] }>();

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const backend: Backend = {
  name: 'postgres',
  async open() {
    const db = await freshDatabase('conf');
    const { stores } = await openPostgresStores({ url: db.url, poolSize: 4, replica: 'replica-a' });
    const others: Stores[] = [];
    databases.set(stores, { url: db.url, others });
    return {
      stores,
      destroy: async () => {
        for (const s of others) await s.close();
        await stores.close();
        await db.drop();
      },
    };
  },
  /** Another process on the same database: a pool of its own, the schema already migrated. */
  async reopen(stores, replica) {
    const d = databases.get(stores)!;
    const { stores: s } = await openPostgresStores({ url: d.url, poolSize: 4, replica: replica ?? stores.audit.replica, migrate: false });
    d.others.push(s);
    databases.set(s, d);
    return s;
  },
  async tamperAudit(stores, t: AuditTamper) {
    await withClient(databases.get(stores)!.url, async (c) => {
      const key = [t.replica, t.id];
      if ('delete' in t) {
        await c.query(`DELETE FROM ${t.table} WHERE replica = $1 AND id = $2`, key);
        return;
      }
      const cols = Object.keys(t.set);
      const sets = cols.map((col, i) => `${c.escapeIdentifier(col)} = $${i + 3}`).join(', ');
      const r = await c.query(`UPDATE ${t.table} SET ${sets} WHERE replica = $1 AND id = $2`, [...key, ...cols.map((col) => t.set[col])]);
      expect(r.rowCount).toBe(1);
    });
  },
};

storeConformance(backend);
tokenRequestStoreConformance(backend);

describe('postgres: audit store, what only PostgreSQL has', () => {
  // Fresh stores on a fresh database per test, and its URL for sessions of the test's own.
  let f: { stores: Stores; url: string };
  let drop: (() => Promise<void>) | undefined;
  beforeEach(async () => {
    const db = await freshDatabase('audit');
    const { stores } = await openPostgresStores({ url: db.url, poolSize: 4, replica: 'replica-a' });
    f = { stores, url: db.url };
    drop = async () => {
      await stores.close();
      await db.drop();
    };
  });
  afterEach(async () => {
    await drop?.();
    drop = undefined;
  });
  const rows = (n: number, over: Partial<Parameters<typeof encodeRow>[0]> = {}) =>
    Array.from({ length: n }, (_, i) =>
      encodeRow({
        time: T0 + i, requestId: `r${i}`, decision: 'allow', reason: 'allowed', status: 200, method: 'GET', path: `/rest/api/2/issue/A-${i % 50}`,
        clientIp: `10.0.${i % 7}.1`, user: `user${i % 40}`, credentialKind: 'jwt', tokenId: i % 3 ? null : `tok_${i % 9}`, clientId: `app-${i % 5}`,
        issuer: null, latencyMs: i % 100, upstreamStatus: 200, route: 'guarded', stage: null, rule: null, wouldDeny: null, userAgent: null, facts: null, ...over,
      }),
    );

  it('a writer waits for another session holding its chain, then answers busy (55P03), and writes once it is free', async () => {
    await withClient(f.url, async (other) => {
      await other.query(`SELECT pg_advisory_lock(hashtextextended('audit:request:' || $1, 0))`, ['replica-a']);
      const w = f.stores.audit.requestWriter('inline');
      const started = Date.now();
      expect(await w.write(rows(3), 1000)).toMatchObject({ kind: 'busy', code: '55P03' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
      expect(await f.stores.audit.count({})).toBe(0);
      await other.query(`SELECT pg_advisory_unlock(hashtextextended('audit:request:' || $1, 0))`, ['replica-a']);
      expect(await w.write(rows(3), 1000)).toBeUndefined();
      expect(await f.stores.audit.verify({ kind: 'request', replica: 'replica-a' })).toMatchObject({ ok: true, count: 3 });
    });
  });

  it("retention returns zeros while another replica's pass holds the lock, and runs once it is released", async () => {
    const w = f.stores.audit.requestWriter('inline');
    expect(await w.write(rows(5, { time: T0 - 40 * 86_400_000 }), 1000)).toBeUndefined();
    const settings = { retentionDays: 30, maxEntries: 1000, now: T0 };
    await withClient(f.url, async (other) => {
      await other.query('SELECT pg_advisory_lock($1::bigint)', [PRUNE_LOCK_KEY]);
      expect(await f.stores.audit.prune(settings)).toEqual({ deletedByAge: 0, deletedByCount: 0 });
      expect(await f.stores.audit.count({})).toBe(5);
      await other.query('SELECT pg_advisory_unlock($1::bigint)', [PRUNE_LOCK_KEY]);
    });
    expect(await f.stores.audit.prune(settings)).toEqual({ deletedByAge: 5, deletedByCount: 0 });
    // The pass released its session lock: the lock is free for the next pass, on any connection.
    await withClient(f.url, async (other) => {
      expect((await other.query('SELECT pg_try_advisory_lock($1::bigint) AS ok', [PRUNE_LOCK_KEY])).rows[0].ok).toBe(true);
    });
  });

  it('maps SQLSTATEs to what the sink does with a failed batch', () => {
    expect(['53100', '53200', '53300'].map(pgWriteErrorKind)).toEqual(['storage_full', 'storage_full', 'storage_full']);
    expect(['55P03', '40001', '40P01'].map(pgWriteErrorKind)).toEqual(['busy', 'busy', 'busy']);
    expect(['23505', '57014', '', 'ECONNREFUSED'].map(pgWriteErrorKind)).toEqual(['write_failed', 'write_failed', 'write_failed', 'write_failed']);
  });

  it('a lost database answers write_failed from write and throws from appendAdmin', async () => {
    await withClient(f.url, (c) => c.query('DROP TABLE audit_log, admin_audit'));
    expect(await f.stores.audit.requestWriter('inline').write(rows(1), 1000)).toMatchObject({ kind: 'write_failed', code: '42P01' });
    await expect(f.stores.audit.appendAdmin({ time: T0, actor: 'a', action: 'x', target: null, beforeJson: null, afterJson: null })).rejects.toMatchObject({ code: '42P01' });
  });

  it("a period's later chunks start their index scan at the cursor, not at the period's start (no re-walk per chunk), and a cursor outside the period changes nothing", async () => {
    const w = f.stores.audit.requestWriter('inline');
    for (let b = 0; b < 4; b++) expect(await w.write(rows(1000), 1000)).toBeUndefined();
    const period = { from: T0 + 10, to: T0 + 900 };
    await withClient(f.url, async (c) => {
      // Before autovacuum has analysed a freshly written table (as after a burst, or in a replay right
      // after an import), the planner cannot tell that the period holds nearly every row: with the
      // period's own start in the query too, it sorted the whole period for every chunk (measured on
      // 1,000,000 rows: 1.2 s per chunk near the start; a replay took minutes). With the keyset alone
      // as the lower bound it walks the time index from the cursor.
      for (const at of [20, 450, 850]) {
        const q = listQuery(period, { limit: 20, after: { time: T0 + at, replica: f.stores.audit.replica, id: 1 } }, 'ASC');
        const plan = JSON.stringify((await c.query(`EXPLAIN (FORMAT JSON) ${q.sql}`, q.values)).rows[0]['QUERY PLAN']);
        expect(plan, `cursor at ${at}`).toContain('"Index Name":"audit_log_time"');
        expect(plan, `cursor at ${at}`).not.toContain('"Node Type":"Sort"');
        expect(plan, `cursor at ${at}`).toMatch(/"Index Cond":".*?ROW\(\\"time\\", replica, id\) > ROW/);
      }
    });
    // Same rows as without the shortcut: every chunk in the period, in order, once.
    const all: number[] = [];
    let after: { time: number; replica: string; id: number } | undefined;
    for (;;) {
      const chunk = await f.stores.audit.chunk(period, after ? { limit: 97, after } : { limit: 97 });
      all.push(...chunk.map((r) => r.time));
      if (chunk.length < 97) break;
      const last = chunk[chunk.length - 1]!;
      after = { time: last.time, replica: last.replica, id: last.id };
    }
    expect(all.length).toBe(await f.stores.audit.count(period));
    expect(all.every((t, i) => t >= period.from && t < period.to && (i === 0 || t >= all[i - 1]!))).toBe(true);
    // A cursor before the period (a client may send any): the period still bounds the rows.
    const early = await f.stores.audit.chunk(period, { limit: 5, after: { time: T0 - 1000, replica: 'a', id: 1 } });
    expect(early.every((r) => r.time >= period.from)).toBe(true);
    const late = await f.stores.audit.page(period, { limit: 5, after: { time: T0 + 99_999, replica: 'z', id: 1 } });
    expect(late.every((r) => r.time < period.to)).toBe(true);
  });

  it('pages can walk one index in (time, replica, id) order, the cursor in its bounds: for each equality filter and none', async () => {
    const w = f.stores.audit.requestWriter('inline');
    for (let b = 0; b < 4; b++) expect(await w.write(rows(1000), 1000)).toBeUndefined();
    await withClient(f.url, async (c) => {
      await c.query('ANALYZE audit_log');
      // With few matches a bitmap scan and a sort is cheaper, and the planner rightly takes it; with
      // those paths off, a plan without a Sort exists only if the index yields rows in page order.
      await c.query('SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_sort = off');
      const after = { time: T0 + 500, replica: 'replica-a', id: 2000 };
      const cases: Array<[AuditFilters, string]> = [
        [{}, 'audit_log_time'],
        [{ user: 'user3' }, 'audit_log_user'],
        [{ client: 'app-1' }, 'audit_log_client'],
        [{ token: 'tok_3' }, 'audit_log_token'],
        [{ ip: '10.0.3.1' }, 'audit_log_ip'],
        [{ replica: 'replica-a' }, 'audit_log_replica'],
        [{ decision: 'deny' }, 'audit_log_decision'],
        [{ status: 404 }, 'audit_log_status'],
      ];
      for (const [filters, index] of cases) {
        for (const dir of ['DESC', 'ASC'] as const) {
          const q = listQuery(filters, { limit: 100, after }, dir);
          const plan = JSON.stringify((await c.query(`EXPLAIN (FORMAT JSON) ${q.sql}`, q.values)).rows[0]['QUERY PLAN']);
          expect(plan, `${JSON.stringify(filters)} ${dir}`).toContain(`"Index Name":"${index}"`);
          expect(plan, `${JSON.stringify(filters)} ${dir}`).not.toContain('Sort');
          expect(plan, `${JSON.stringify(filters)} ${dir}`).toMatch(/"Index Cond":".*?ROW\(\\"time\\", replica, id\) [<>] ROW/);
        }
      }
    });
  });
});
