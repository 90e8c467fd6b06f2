// A burst of 10,000 requests through the real entry point (`node dist/main.js serve`), SIGTERM in
// the middle of it: every request the client got an answer for has exactly one audit row, and no
// other rows exist. Request ids are chosen by the client, so the two sets are compared exactly.
import { rmSync } from 'node:fs';
import { Pool } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSidecar, tempDir } from '../helpers/sidecar.js';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { openDb } from '../../src/store/sqlite/db.js';
import { verifyChain } from '../helpers/audit.js';

const TOTAL = 10_000;
const SIGTERM_AT = 3_000;
let upstream: JiraUpstream | undefined;
const dataDir = tempDir('audit-burst-');
afterAll(async () => {
  await upstream?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('audit under a burst with SIGTERM', () => {
  it('leaves exactly one row per answered request', { timeout: 180_000 }, async () => {
    upstream = await startJiraUpstream();
    const sc = await spawnSidecar({ SIDECAR_UPSTREAM: upstream.url, SIDECAR_DATA_DIR: dataDir, SIDECAR_ADMIN_PASSWORD: 'burst-test-password-1' });
    const pool = new Pool(sc.proxyUrl, { connections: 32 });
    const answered = new Set<string>();
    let failed = 0;
    let next = 0;
    let killedAt = -1;
    const worker = async () => {
      while (next < TOTAL) {
        const i = next++;
        if (i === SIGTERM_AT) {
          killedAt = answered.size;
          sc.child.kill('SIGTERM');
        }
        const id = `burst-${i}`;
        try {
          const r = await pool.request({ method: 'GET', path: `/rest/test/echo?i=${i}`, headers: { 'x-request-id': id } });
          await r.body.text();
          expect(r.statusCode).toBe(200);
          answered.add(id);
        } catch {
          failed++;
        }
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    await pool.close();
    const code = await sc.exited;
    expect(code, sc.stderr()).toBe(0);
    const { db } = openDb(dataDir);
    try {
      const ids = (db.prepare('SELECT request_id FROM audit_log').all() as Array<{ request_id: string }>).map((r) => r.request_id);
      console.log(`burst: ${answered.size} answered (${killedAt} before SIGTERM), ${failed} refused/reset after shutdown began, ${ids.length} audit rows`);
      expect(answered.size).toBeGreaterThan(SIGTERM_AT - 32);
      expect(failed).toBeGreaterThan(0); // the burst really outlived the listener
      expect(ids.length).toBe(answered.size);
      expect(new Set(ids)).toEqual(answered);
      expect(await verifyChain(db, 'request')).toMatchObject({ ok: true, count: answered.size });
    } finally {
      db.close();
    }
  });
});
