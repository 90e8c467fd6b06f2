// server.workers: 2 with the start-up warm-up on: the proxy port is shared by the workers through
// the cluster primary, so a worker's warm-up requests must not land on the other worker, which knows
// neither its marker nor its throw-away key and would judge them as real traffic (audit them, and
// forward the anonymous ones to Jira). Each worker warms up through a listener of its own.
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';
import { killIfRunning, logLines, ROOT, spawnSidecar, tempDir, type SpawnedSidecar } from '../helpers/sidecar.js';
import { until } from '../helpers/http.js';

let upstream: JiraUpstream | undefined;
let issuer: TokenIssuer | undefined;
let s: SpawnedSidecar | undefined;
const dir = tempDir('workers-warm-up-');
afterAll(async () => {
  killIfRunning(s);
  await upstream?.close();
  await issuer?.close();
  rmSync(dir, { recursive: true, force: true });
});

const lines = () => logLines(s!);

describe('server.workers: 2 with the warm-up on', () => {
  it('each worker warms up on its own: Jira sees nothing, the audit log stays empty', { timeout: 90_000 }, async () => {
    upstream = await startJiraUpstream();
    issuer = await startTestIssuer();
    const cfgFile = path.join(dir, 'config.json');
    writeFileSync(
      cfgFile,
      JSON.stringify({
        server: { workers: 2, warmupRequests: 400 },
        credentials: { anonymous: 'passthrough' },
        jwt: { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira'], keys: { jwksUri: issuer.jwksUrl } }] },
        audit: { enabled: true, flushIntervalMs: 20 },
      }),
    );
    s = await spawnSidecar({ SIDECAR_UPSTREAM: upstream.url, SIDECAR_DATA_DIR: dir, SIDECAR_CONFIG: cfgFile, SIDECAR_ADMIN_PASSWORD: 'workers-warm-up-1' });
    await until(() => lines().filter((l) => l.msg === 'warm-up done').length === 2, 'both workers warmed up', 60_000);
    const done = lines().filter((l) => l.msg === 'warm-up done');
    for (const l of done) expect(l.sent).toBe(400);
    await new Promise((r) => setTimeout(r, 200)); // a few flush intervals: rows would be written by now
    expect(upstream.seen.map((r) => r.url)).toEqual([]);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    const exp = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'main.js'), 'audit', 'export', '--format', 'ndjson'], { env: { ...process.env, SIDECAR_DATA_DIR: dir, SIDECAR_CONFIG: cfgFile }, encoding: 'utf8' });
    expect(exp.status, exp.stderr).toBe(0);
    expect(exp.stdout.split('\n').filter(Boolean)).toEqual([]);
  });
});
