// server.workers: 2 on a PostgreSQL store: both worker processes append to the replica's one
// request chain (each batch under the chain's advisory lock, the head read inside it), under
// concurrent load spread over both workers. After SIGTERM: every answered request has exactly one
// audit row, no row exists for a request nobody sent, and the chains verify.
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { Pool } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { verifyAll } from '../../src/audit/verify.js';
import { openPostgresStores } from '../../src/store/postgres/stores.js';
import { killIfRunning, logLines, spawnSidecar, tempDir, type SpawnedSidecar } from '../helpers/sidecar.js';
import { freshDatabase } from '../helpers/postgres.js';
import { until } from '../helpers/http.js';

const LOAD_MS = 4_000;
const CLIENTS = 8;

let upstream: JiraUpstream | undefined;
let db: { url: string; drop(): Promise<void> } | undefined;
let s: SpawnedSidecar | undefined;
const dir = tempDir('workers-pg-');
afterAll(async () => {
  killIfRunning(s);
  await upstream?.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const lines = () => logLines(s!);

describe('server.workers: 2 on PostgreSQL', () => {
  it('both workers write one verifiable chain: every answered request once, nothing else', { timeout: 90_000 }, async () => {
    upstream = await startJiraUpstream({ keepSeen: 0 });
    db = await freshDatabase('workers');
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ server: { workers: 2, warmupRequests: 0, replicaName: 'workers-pg' }, audit: { flushIntervalMs: 20, batchSize: 10 } }));
    s = await spawnSidecar({ SIDECAR_CONFIG: file, SIDECAR_UPSTREAM: upstream.url, SIDECAR_DATABASE_URL: db.url, SIDECAR_ADMIN_PASSWORD: 'workers-postgres-1' });
    await until(() => s!.stdout().includes('all workers listening'), 'both workers listening', 30_000);

    // Many short-lived connections: the cluster's round-robin hands them to both workers, whose
    // small batches (10 rows, every 20 ms) then interleave on the one chain.
    const sent = new Set<string>();
    const answered = new Set<string>();
    let seq = 0;
    const start = Date.now();
    const loadClient = async (c: number) => {
      while (Date.now() - start < LOAD_MS) {
        const pool = new Pool(s!.proxyUrl, { connections: 1 });
        try {
          for (let k = 0; k < 5; k++) {
            const id = `wpg-${c}-${seq++}`;
            sent.add(id);
            const r = await pool.request({ method: 'GET', path: '/rest/test/echo', headers: { 'x-request-id': id } });
            await r.body.text();
            if (r.statusCode === 200) answered.add(id);
          }
        } finally {
          await pool.close();
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, c) => loadClient(c)));
    expect(answered.size).toBeGreaterThan(100);

    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    const stopping = lines().filter((l) => l.msg === 'shutting down');
    expect(new Set(stopping.map((l) => l.pid)).size).toBe(2);
    for (const l of stopping) expect(l.served).toBeGreaterThan(10); // both workers carried load

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    let ids: string[];
    try {
      ids = (await client.query<{ request_id: string }>("SELECT request_id FROM audit_log WHERE replica = 'workers-pg'")).rows.map((r) => r.request_id);
    } finally {
      await client.end();
    }
    console.log(`workers on PostgreSQL: ${answered.size} answered, ${ids.length} audit rows, served per worker ${stopping.map((l) => l.served).join(' + ')}`);
    expect(ids.length).toBe(answered.size); // no request twice
    expect(new Set(ids)).toEqual(answered); // every answered one, and none nobody sent
    expect(ids.every((id) => sent.has(id))).toBe(true);

    const { stores } = await openPostgresStores({ url: db.url, poolSize: 2, migrate: false });
    try {
      const reports = await verifyAll(stores.audit);
      const request = reports.filter((r) => r.chain.kind === 'request');
      expect(request.map((r) => r.chain.replica)).toEqual(['workers-pg']); // one chain, both workers in it
      for (const r of reports) expect(r.ok, JSON.stringify(r)).toBe(true);
    } finally {
      await stores.close();
    }
  });
});
