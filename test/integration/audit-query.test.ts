// The query API: contract filters, keyset paging, the streamed export over HTTP, and an index for
// every filter (EXPLAIN QUERY PLAN: no full scan, no sort).
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import { hostname } from 'node:os';
import Koa from 'koa';
import Router from '@koa/router';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { startTestSidecar, tempDir, type TestSidecar } from '../helpers/sidecar.js';
import { openDb, type Db } from '../../src/store/sqlite/db.js';
import { auditRecord } from '../helpers/audit.js';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { DEFERRED_INDEXES, deferredIndexFiller } from '../../src/store/sqlite/audit-index.js';
import { auditQuerySql } from '../../src/store/sqlite/audit-query.js';
import type { AuditFilters } from '../../src/store/audit-store.js';
import { parseAuditFilters } from '../../src/audit/filters.js';
import type { AuditEntry } from '../../src/audit/query.js';
import { registerAuditRoutes } from '../../src/admin/audit-routes.js';
import { toErrorResponse } from '../../src/errors.js';

const T0 = 1_767_225_600_000;
let upstream: JiraUpstream;
let s: TestSidecar;
let api: http.Server;
let apiUrl: string;

beforeAll(async () => {
  upstream = await startJiraUpstream();
  // indexBatchRows 150 with 100-row batches: rows 1-200 get user-index entries, 201-302 stay
  // without (checked below), so every user query reads both arms (store/sqlite/audit-index.ts).
  s = await startTestSidecar(upstream.url, { audit: { batchSize: 100, indexBatchRows: 150 } });
  const audit = s.runtime.deps.services.audit!;
  for (let i = 1; i <= 300; i++) audit.sink.write(auditRecord(i, { tokenId: i % 10 === 0 ? `tok${i % 20}` : null }));
  // Adversarial values for the CSV/NDJSON cases.
  audit.sink.write(auditRecord(301, { user: '=cmd|"/c calc"!A1', path: '/rest/api/2/search,x', clientIp: '10.9.9.9' }));
  audit.sink.write(auditRecord(302, { user: 'multi\r\nline', clientIp: '10.9.9.9' }));
  while (audit.sink.queued) await new Promise((r) => setTimeout(r, 10));
  expect(s.runtime.db!.prepare("SELECT through_id FROM audit_index_state WHERE name = 'audit_by_user'").pluck().get()).toBe(200);
  // Mounted here the way the admin API mounts them (behind its auth), with the same JSON errors.
  const app = new Koa();
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (e) {
      const r = toErrorResponse(e, 'test');
      ctx.status = r.status;
      ctx.body = r.body;
    }
  });
  const router = new Router();
  registerAuditRoutes(router, s.runtime);
  app.use(router.routes());
  api = http.createServer(app.callback()).listen(0, '127.0.0.1');
  await new Promise((r) => api.once('listening', r));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});
afterAll(async () => {
  api?.close();
  await s?.close();
  await upstream?.close();
});

const getJson = async (q: string) => {
  const r = await fetch(`${apiUrl}/api/audit?${q}`);
  return { status: r.status, body: (await r.json()) as { items: AuditEntry[]; nextCursor: string | null; total?: number; error?: string } };
};

describe('GET /api/audit', () => {
  it('pages newest first with a keyset cursor, every row exactly once', async () => {
    const seen: number[] = [];
    let cursor: string | null = '';
    let pages = 0;
    while (cursor !== null) {
      const { status, body } = await getJson(`limit=40${cursor ? `&cursor=${cursor}` : ''}`);
      expect(status).toBe(200);
      seen.push(...body.items.map((e) => e.id));
      cursor = body.nextCursor;
      pages++;
    }
    expect(pages).toBe(Math.ceil(302 / 40));
    expect(seen).toEqual(Array.from({ length: 302 }, (_, i) => 302 - i));
  });

  it('pages a time range exactly (the cursor replaces the upper bound)', async () => {
    const from = T0 + 50_000;
    const to = T0 + 250_000; // rows 50..249
    const seen: number[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const { body } = await getJson(`from=${from}&to=${to}&limit=33${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...body.items.map((e) => e.id));
      cursor = body.nextCursor;
    }
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => 249 - i));
  });

  it.each<[string, string, (e: AuditEntry) => boolean]>([
    ['user', 'user=user3', (e) => e.user === 'user3'],
    ['user + time range', `user=user2&from=${T0 + 150_000}&to=${T0 + 250_000}`, (e) => e.user === 'user2' && Date.parse(e.time) >= T0 + 150_000 && Date.parse(e.time) < T0 + 250_000],
    ['client', 'client=app-1', (e) => e.clientId === 'app-1'],
    ['token', 'token=tok10', (e) => e.tokenId === 'tok10'],
    ['ip', 'ip=10.9.9.9', (e) => e.clientIp === '10.9.9.9'],
    ['decision', 'decision=deny', (e) => e.decision === 'deny'],
    ['status', 'status=403', (e) => e.status === 403],
    ['status class', 'status=2xx', (e) => e.status >= 200 && e.status < 300],
    ['status class 4xx', 'status=4xx', (e) => e.status >= 400 && e.status < 500],
    ['status 200', 'status=200', (e) => e.status === 200],
    ['decision allow', 'decision=allow', (e) => e.decision === 'allow'],
    ['path prefix', 'path=/rest/api/2/issue/DEMO-1', (e) => e.path.startsWith('/rest/api/2/issue/DEMO-1')],
    ['time range', `from=${new Date(T0 + 100_000).toISOString()}&to=${T0 + 200_000}`, (e) => Date.parse(e.time) >= T0 + 100_000 && Date.parse(e.time) < T0 + 200_000],
    ['combined', 'user=user1&decision=allow&status=200', (e) => e.user === 'user1' && e.decision === 'allow' && e.status === 200],
  ])('filters by %s', async (_n, q, pred) => {
    const { status, body } = await getJson(`${q}&limit=1000`);
    expect(status).toBe(200);
    expect(body.items.length).toBeGreaterThan(0);
    const all = (await getJson('limit=1000')).body.items;
    // The same rows in the same (newest first) order as filtering everything.
    expect(body.items.map((e) => e.id)).toEqual(all.filter(pred).map((e) => e.id));
    // Paged in small pages: every row once, in the same order.
    const paged: number[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const r: { items: AuditEntry[]; nextCursor: string | null } = (await getJson(`${q}&limit=7${cursor ? `&cursor=${cursor}` : ''}`)).body;
      paged.push(...r.items.map((e) => e.id));
      cursor = r.nextCursor;
    }
    expect(paged).toEqual(body.items.map((e) => e.id));
  });

  it('names the replica of every row (server.replicaName, else host:port) and filters by it', async () => {
    const replica = s.runtime.stores.audit.replica;
    expect(replica).toBe(`${hostname()}:0`); // the test config's port
    const all = (await getJson('limit=1000')).body.items;
    expect(all).toHaveLength(302);
    expect(all.every((e) => e.replica === replica)).toBe(true);
    expect((await getJson(`replica=${encodeURIComponent(replica)}&limit=1000`)).body.items.map((e) => e.id)).toEqual(all.map((e) => e.id));
    // The first page (no cursor) says how many rows match in all.
    expect((await getJson('replica=elsewhere%3A8090&limit=1000')).body).toEqual({ items: [], nextCursor: null, total: 0 });
    expect((await getJson(`replica=${encodeURIComponent(replica)}&limit=10`)).body.total).toBe(302);
  });

  it.each([['decision=maybe'], ['status=abc'], ['from=yesterday'], ['cursor=bm9wZQ'], ['limit=0']])('refuses %s with 400 bad_request', async (q) => {
    const { status, body } = await getJson(q);
    expect(status).toBe(400);
    expect(body.error).toBe('bad_request');
  });
});

describe('GET /api/audit/export', () => {
  it('streams CSV per RFC 4180 with formula cells neutralised', async () => {
    const r = await fetch(`${apiUrl}/api/audit/export?format=csv&ip=10.9.9.9`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(r.headers.get('content-disposition')).toMatch(/^attachment; filename="audit-.*\.csv"$/);
    const text = await r.text();
    const lines = text.split('\r\n');
    expect(lines[0]!.startsWith('id,time,request_id,decision,reason,status,method,path,client_ip,user,')).toBe(true);
    expect(lines[0]!.endsWith(',prev_hash,row_hash,replica,would_deny,user_agent,facts')).toBe(true);
    expect(lines[1]!).toContain(`,${s.runtime.stores.audit.replica},`); // then would_deny, user_agent, facts
    expect(text).toContain(`,"/rest/api/2/search,x",10.9.9.9,"'=cmd|""/c calc""!A1",`);
    expect(text).toContain(',"multi\r\nline",');
    expect(text.endsWith('\r\n')).toBe(true);
  });

  it('streams NDJSON, one parseable object per line, oldest first', async () => {
    const r = await fetch(`${apiUrl}/api/audit/export?format=ndjson&decision=deny`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const objs = (await r.text()).trimEnd().split('\n').map((l) => JSON.parse(l) as AuditEntry);
    expect(objs.length).toBe(100);
    expect(objs.every((o) => o.decision === 'deny')).toBe(true);
    expect(objs.map((o) => o.id)).toEqual([...objs.map((o) => o.id)].sort((a, b) => a - b));
  });

  it('exports a time range exactly (from inclusive, to exclusive)', async () => {
    const r = await fetch(`${apiUrl}/api/audit/export?format=ndjson&from=${T0 + 1000}&to=${T0 + 302_000}`);
    const ids = (await r.text()).trimEnd().split('\n').map((l) => (JSON.parse(l) as AuditEntry).id);
    expect(ids).toEqual(Array.from({ length: 301 }, (_, i) => i + 1));
  });

  it('refuses an unknown format', async () => {
    const r = await fetch(`${apiUrl}/api/audit/export?format=xlsx`);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).toBe('bad_request');
  });
});

describe('indexes', () => {
  // The plan SQLite picks for each filter: an index search, never a full table scan or a sort.
  const cases: Array<[string, AuditFilters]> = [
    ['no filter', {}],
    ['time range', parseAuditFilters({ from: '2026-01-01', to: '2026-02-01' })],
    ['user', { user: 'alice' }],
    ['user + time', { user: 'alice', from: T0 }],
    ['client', { client: 'app' }],
    ['token', { token: 'tok' }],
    ['ip', { ip: '10.0.0.1' }],
    ['decision', { decision: 'deny' }],
    ['decision allow (left out of its index: the time index)', { decision: 'allow' }],
    ['status', { status: 403 }],
    ['status 200 (left out of its index: the time index)', { status: 200 }],
    ['status class 4xx', { statusClass: 4 }],
    ['path prefix', { path: '/rest/api/2/' }],
  ];
  const planOf = (db: Db, f: AuditFilters) => {
    const { sql, params } = auditQuerySql(db, f);
    return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((p) => p.detail).join(' | ');
  };
  // Filters with a deferred index table (audit-index.ts): a path prefix sorts its few matches instead.
  const merged = (f: AuditFilters) => [f.user, f.ip, f.client, f.token].some((v) => v !== undefined);
  const keyOf = (f: AuditFilters) => (f.token ? 'token_id' : f.user ? 'user' : f.client ? 'client_id' : 'client_ip');
  it.each(cases.filter(([, f]) => !merged(f)))('%s uses an index', (_n, f) => {
    const plan = planOf(s.runtime.db!, f);
    expect(plan).toMatch(/USING (COVERING )?INDEX|USING INTEGER PRIMARY KEY/);
    expect(plan).not.toMatch(/SCAN audit_log/);
    // A narrow range (path prefix, status class: fewer than 10,000 rows here) sorts its few matches;
    // everything else walks an index in time order.
    if (!f.path && f.statusClass === undefined) expect(plan).not.toMatch(/TEMP B-TREE/);
  });

  it.each(cases.filter(([, f]) => merged(f)))('%s merges both tables of its index in order with the newest rows read by rowid', (_n, f) => {
    const plan = planOf(s.runtime.db!, f);
    // The main tier merged with the recent tier (audit-index.ts), each walked in key order, then with the newest rows.
    expect(plan.startsWith(`MERGE (UNION ALL) | LEFT | MERGE (UNION ALL) | LEFT | SEARCH x USING PRIMARY KEY (${keyOf(f)}=?`), plan).toBe(true);
    expect(plan.split(`SEARCH x USING PRIMARY KEY (${keyOf(f)}=?`)).toHaveLength(3);
    expect(plan.match(/SEARCH a USING INTEGER PRIMARY KEY \(rowid=\?\)/g)).toHaveLength(2);
    expect(plan).toMatch(/RIGHT \| SEARCH audit_log USING INTEGER PRIMARY KEY \(rowid>\?\)/);
    expect(plan).not.toMatch(/SCAN/);
    // The only sort is the last arm's (the rows the index has no entries for yet).
    expect(plan.match(/TEMP B-TREE/g)).toHaveLength(1);
    expect(plan.indexOf('TEMP B-TREE')).toBeGreaterThan(plan.lastIndexOf('RIGHT'));
  });

  it('a broad range filter (path prefix, status class) walks the time index instead of sorting every match', () => {
    const dir = tempDir('audit-plan-');
    const { db } = openDb(dir);
    try {
      const ins = db.prepare("INSERT INTO audit_log VALUES (?, ?, ?, 'allow', 'allowed', 200, 'GET', ?, '10.0.0.1', 'u', 'jwt', NULL, NULL, NULL, 1, 200, 'guarded', NULL, NULL, '', '', NULL, NULL, NULL)"); // the 0.7 columns were added after the hashes (migration 0008)
      db.transaction(() => {
        for (let i = 1; i <= 12_000; i++) ins.run(i, T0 + i, `r${i}`, i % 1000 === 0 ? '/rest/rare/x' : `/rest/api/2/issue/${i}`);
      })();
      // What the writer does every audit.indexBatchRows rows, one index per batch.
      const fill = deferredIndexFiller(db);
      for (let i = 0; i < Object.keys(DEFERRED_INDEXES).length; i++) fill(12_000, 1);
      expect(planOf(db, { path: '/rest/rare/' })).toMatch(/SEARCH x USING PRIMARY KEY \(path>\? AND path<\?\)/);
      for (const f of [{ path: '/rest/' }, { statusClass: 2 }, { path: '/rest/api/', statusClass: 2 }]) {
        const plan = planOf(db, f);
        expect(plan).toMatch(/USING INDEX audit_log_time/);
        expect(plan).not.toMatch(/TEMP B-TREE/);
      }
      expect(planOf(db, { decision: 'deny' })).toMatch(/USING INDEX audit_log_decision/);
      expect(planOf(db, { status: 403 })).toMatch(/USING INDEX audit_log_status/);
      expect(planOf(db, { statusClass: 4 })).toMatch(/USING INDEX audit_log_status/);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
