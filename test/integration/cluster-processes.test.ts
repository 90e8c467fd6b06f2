// Three sidecar processes (the real `node dist/main.js serve`) on one PostgreSQL database under 20 s
// of load spread over all three; one replica is SIGKILLed at 6 s, another SIGTERMed at 12 s. Then:
// every request answered by the surviving and the terminated replica has exactly one audit row in
// the shared log, the SIGKILLed replica lost at most the rows it had not flushed yet (counted and
// printed), no row exists for a request nobody sent, and every replica's chains verify.
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { Pool } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { verifyAll } from '../../src/audit/verify.js';
import { openPostgresStores } from '../../src/store/postgres/stores.js';
import { spawnSidecar, tempDir, type SpawnedSidecar } from '../helpers/sidecar.js';
import { freshDatabase } from '../helpers/postgres.js';

const LOAD_MS = 20_000;
const KILL_AT = 6_000;
const TERM_AT = 12_000;
const CONNS = 6;

let upstream: JiraUpstream | undefined;
let db: { url: string; drop(): Promise<void> } | undefined;
const replicas: SpawnedSidecar[] = [];
const dir = tempDir('cluster-processes-');
afterAll(async () => {
  for (const r of replicas) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  await upstream?.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a cluster of processes under load, one killed and one stopped', () => {
  it('one audit row per answered request on the surviving and the stopped replica; the killed one loses at most its unflushed rows', { timeout: 120_000 }, async () => {
    upstream = await startJiraUpstream({ keepSeen: 0 });
    db = await freshDatabase('processes');
    const names = ['a', 'b', 'c'] as const;
    for (const name of names) {
      const file = path.join(dir, `${name}.json`);
      writeFileSync(file, JSON.stringify({ server: { replicaName: `proc-${name}` }, audit: { flushIntervalMs: 200 } }));
      replicas.push(
        await spawnSidecar({ SIDECAR_CONFIG: file, SIDECAR_UPSTREAM: upstream.url, SIDECAR_DATABASE_URL: db.url, SIDECAR_ADMIN_PASSWORD: 'cluster-processes-1' }),
      );
    }
    const [a, b, c] = replicas as [SpawnedSidecar, SpawnedSidecar, SpawnedSidecar];
    const pools = replicas.map((r) => new Pool(r.proxyUrl, { connections: CONNS }));
    const sent = names.map(() => new Set<string>());
    const answered = names.map(() => new Map<string, number>()); // request id -> when answered
    let failed = 0;
    const start = Date.now();
    let killedAt = 0;
    const timers = [
      setTimeout(() => {
        killedAt = Date.now();
        c.child.kill('SIGKILL');
      }, KILL_AT),
      setTimeout(() => b.child.kill('SIGTERM'), TERM_AT),
    ];
    let seq = 0;
    const worker = async (w: number) => {
      const r = w % 3;
      while (Date.now() - start < LOAD_MS) {
        if ((r === 2 && killedAt) || (r === 1 && b.child.exitCode !== null)) {
          await new Promise((res) => setTimeout(res, 50));
          continue;
        }
        const id = `${names[r]}-${seq++}`;
        sent[r]!.add(id);
        try {
          const res = await pools[r]!.request({ method: 'GET', path: '/rest/test/echo', headers: { 'x-request-id': id } });
          await res.body.text();
          if (res.statusCode === 200) answered[r]!.set(id, Date.now());
          else failed++;
        } catch {
          failed++;
        }
      }
    };
    await Promise.all(Array.from({ length: 3 * CONNS }, (_, w) => worker(w)));
    timers.forEach(clearTimeout);
    await Promise.all(pools.map((p) => p.destroy()));
    expect(await b.exited, b.stderr()).toBe(0);
    a.child.kill('SIGTERM');
    expect(await a.exited, a.stderr()).toBe(0);

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    let rows: Array<{ replica: string; request_id: string }>;
    try {
      rows = (await client.query<{ replica: string; request_id: string }>('SELECT replica, request_id FROM audit_log')).rows;
    } finally {
      await client.end();
    }
    const logged = names.map((n) => rows.filter((r) => r.replica === `proc-${n}`).map((r) => r.request_id));
    const [ansA, ansB, ansC] = answered;
    // The survivor and the one stopped with SIGTERM: exactly one row per answered request, nothing else.
    for (const [i, ans] of [ansA!, ansB!].entries()) {
      expect(logged[i]!.length).toBe(ans.size);
      expect(new Set(logged[i])).toEqual(new Set(ans.keys()));
    }
    // The killed one: no row for a request it was never sent, none twice, and the rows lost are at most
    // what it answered in the last second before the kill (flushIntervalMs is 200 ms; older rows were written).
    expect(logged[2]!.every((id) => sent[2]!.has(id))).toBe(true);
    const loggedC = new Set(logged[2]);
    expect(loggedC.size).toBe(logged[2]!.length);
    const lost = [...ansC!.keys()].filter((id) => !loggedC.has(id));
    const lastSecond = [...ansC!.values()].filter((t) => t >= killedAt - 1000).length;
    console.log(
      `cluster processes: answered a=${ansA!.size} b=${ansB!.size} c=${ansC!.size}, failed ${failed}; audit rows a=${logged[0]!.length} b=${logged[1]!.length} c=${logged[2]!.length}; ` +
        `lost with the SIGKILLed replica: ${lost.length} (it answered ${lastSecond} in its last second)`,
    );
    expect(ansA!.size).toBeGreaterThan(100);
    expect(ansB!.size).toBeGreaterThan(100);
    expect(ansC!.size).toBeGreaterThan(100);
    expect(lost.length).toBeLessThanOrEqual(lastSecond);

    const { stores } = await openPostgresStores({ url: db.url, poolSize: 2, migrate: false });
    try {
      const reports = await verifyAll(stores.audit);
      expect(reports.filter((r) => r.chain.kind === 'request').map((r) => r.chain.replica).sort()).toEqual(['proc-a', 'proc-b', 'proc-c']);
      expect(reports.every((r) => r.ok)).toBe(true);
    } finally {
      await stores.close();
    }
  });
});
