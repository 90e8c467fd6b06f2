// server.workers: 2 through the real entry point (`node dist/main.js serve`, a node:cluster primary
// and two worker processes on the same ports) against the fake Jira and a JWKS issuer: both workers
// serve, a memory rate limit counts for the group, SIGHUP reaches every worker, a killed worker is
// replaced, SIGTERM lets a slow request finish and exits 0, and the audit log holds every request
// once in one chain that `audit verify` accepts (both workers append to it). POST /api/reload,
// answered by one worker, reaches the other through the primary. Each request goes on a new connection (agent:
// false), so the cluster's round-robin hands them to both workers.
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';
import { ROOT, spawnSidecar, tempDir, type SpawnedSidecar } from '../helpers/sidecar.js';
import { rawRequest, until } from '../helpers/http.js';
import { AdminClient } from '../helpers/admin.js';

let upstream: JiraUpstream;
let issuer: TokenIssuer;
let s: SpawnedSidecar;
let dir: string;
let cfgFile: string;
/** Every request id this file sent through the proxy (each must be one audit row). */
const sent: string[] = [];

/**
 * Before the SIGHUP: anonymous passes, a window of 5. After: anonymous refused, a token bucket of 4.
 * After POST /api/reload (anonymousAgain): anonymous passes again, the same token bucket.
 */
const config = (reloaded: boolean, anonymousAgain = false) => ({
  server: { workers: 2, warmupRequests: 0 },
  credentials: { anonymous: reloaded && !anonymousAgain ? 'deny' : 'passthrough' },
  jwt: { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira'], keys: { jwksUri: issuer.jwksUrl } }] },
  rateLimit: reloaded
    ? { enabled: true, store: 'memory', algorithm: 'token-bucket', maxRequests: 4, fillRate: 1, intervalSec: 3600 }
    : { enabled: true, store: 'memory', points: 5, durationSec: 3600 },
  audit: { enabled: true, flushIntervalMs: 50 },
});

/** Structured log lines of the whole group (primary and workers share stdout). */
const lines = () =>
  s
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, any>);

let n = 0;
function get(p: string, token?: string) {
  const id = `workers-test-${++n}`;
  sent.push(id);
  const headers: Array<[string, string]> = [['X-Request-Id', id]];
  if (token) headers.push(['Authorization', `Bearer ${token}`]);
  return rawRequest(s.proxyUrl, { path: p, headers });
}
const token = (user: string, groups: string[] = []) => issuer.sign({ sub: user, preferred_username: user, aud: 'jira', groups });

beforeAll(async () => {
  upstream = await startJiraUpstream();
  issuer = await startTestIssuer();
  dir = tempDir();
  cfgFile = path.join(dir, 'config.json');
  writeFileSync(cfgFile, JSON.stringify(config(false)));
  s = await spawnSidecar({ SIDECAR_UPSTREAM: upstream.url, SIDECAR_DATA_DIR: dir, SIDECAR_CONFIG: cfgFile, SIDECAR_ADMIN_PASSWORD: 'workers-test-password' });
  await until(() => s.stdout().includes('all workers listening'), 'both workers listening', 30_000);
}, 60_000);
afterAll(async () => {
  if (s && s.child.exitCode === null) s.child.kill('SIGKILL');
  await upstream?.close();
  await issuer?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('server.workers: 2', () => {
  it('starts a primary and two workers on the same ports', () => {
    const listening = lines().filter((l) => l.msg === 'worker listening');
    expect(listening.map((l) => l.worker).sort()).toEqual([0, 1]);
    expect(new Set(listening.map((l) => l.workerPid)).size).toBe(2);
    expect(new Set(listening.map((l) => l.proxy))).toEqual(new Set([s.proxyUrl]));
    const primary = lines().find((l) => l.msg === 'all workers listening')!;
    expect(primary.role).toBe('primary');
    expect(listening.map((l) => l.workerPid)).not.toContain(primary.pid);
  });

  it('a memory rate limit of 5 per window lets exactly 5 through across both workers', async () => {
    const t = token('rl-window');
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await get('/rest/api/2/myself', t)).status);
    expect(statuses.filter((x) => x === 429)).toHaveLength(7);
    expect(statuses.slice(0, 5).every((x) => x !== 429)).toBe(true);
  });

  it('/metrics sums the workers', async () => {
    const text = await (await fetch(`${s.adminUrl}/metrics`)).text();
    expect(text).not.toContain('this worker only');
    // The 12 requests of the test before, whichever worker answered them: 5 allowed, 7 refused.
    const count = (re: RegExp) => [...text.matchAll(re)].reduce((sum, m) => sum + Number(m[1]), 0);
    expect(count(/^sidecar_requests_total\{[^}]*status="429"[^}]*\} (\d+)$/gm)).toBe(7);
    expect(count(/^sidecar_requests_total\{decision="allow"[^}]*\} (\d+)$/gm)).toBe(5);
  });

  it('SIGHUP to the primary reloads every worker', async () => {
    expect((await get('/rest/api/2/serverInfo')).status).toBe(200);
    writeFileSync(cfgFile, JSON.stringify(config(true)));
    s.child.kill('SIGHUP');
    await until(() => lines().filter((l) => l.msg === 'config reloaded' && l.result === 'ok').length >= 2, 'both workers reloaded');
    const reloaded = lines().filter((l) => l.msg === 'config reloaded' && l.result === 'ok');
    expect(new Set(reloaded.map((l) => l.worker))).toEqual(new Set([0, 1]));
    for (let i = 0; i < 6; i++) expect((await get('/rest/api/2/serverInfo')).status).toBe(401);
  });

  it('so does the token bucket of 4 the reload brought, also when the checks come at once', async () => {
    const t = token('rl-bucket');
    const statuses = (await Promise.all(Array.from({ length: 10 }, () => get('/rest/api/2/myself', t)))).map((r) => r.status);
    expect(statuses.filter((x) => x === 429)).toHaveLength(6);
  });

  it('POST /api/reload, answered by one worker, reaches the other through the primary', async () => {
    const admin = new AdminClient(s.adminUrl);
    expect((await admin.login('admin', 'workers-test-password')).status).toBe(200);
    const reloadedBefore = lines().filter((l) => l.msg === 'config reloaded' && l.result === 'ok').length;
    writeFileSync(cfgFile, JSON.stringify(config(true, true)));
    const r = await admin.call('POST', '/api/reload');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.result).toBe('ok');
    await until(() => lines().filter((l) => l.msg === 'config reloaded' && l.result === 'ok').length >= reloadedBefore + 2, 'both workers reloaded');
    const reloaded = lines().filter((l) => l.msg === 'config reloaded' && l.result === 'ok').slice(reloadedBefore);
    expect(new Set(reloaded.map((l) => l.worker))).toEqual(new Set([0, 1]));
    // Each request on a new connection: the round-robin hands them to both workers.
    for (let i = 0; i < 6; i++) expect((await get('/rest/api/2/serverInfo')).status).toBe(200);
  });

  it('a killed worker is replaced in its slot', async () => {
    // Its audit queue is written first (a SIGKILL loses what a worker has not written yet).
    await until(async () => /^sidecar_audit_queue_length 0$/m.test(await (await fetch(`${s.adminUrl}/metrics`)).text()), 'audit queues empty');
    const w1 = lines().find((l) => l.msg === 'worker listening' && l.worker === 1)!;
    process.kill(w1.workerPid, 'SIGKILL');
    await until(() => lines().some((l) => l.msg === 'worker listening' && l.worker === 1 && l.workerPid !== w1.workerPid), 'a replacement worker 1', 30_000);
    expect(lines().some((l) => l.msg === 'worker exited unexpectedly; starting a replacement' && l.workerPid === w1.workerPid && l.signal === 'SIGKILL')).toBe(true);
    const t = token('after-restart');
    for (let i = 0; i < 4; i++) expect((await get('/rest/api/2/myself', t)).status).toBe(200);
  });

  it('SIGTERM lets an in-flight slow request finish, stops both workers and exits 0; the audit log has every request once', async () => {
    const slowPath = '/rest/test/slow?ms=1500&id=workers-sigterm';
    const inFlight = get(slowPath, token('slow-user'));
    await until(() => upstream.seen.some((r) => r.url === slowPath) && upstream.open() >= 1, 'slow request in flight upstream');
    s.child.kill('SIGTERM');
    const r = await inFlight;
    expect(r.status).toBe(200);
    expect(await s.exited).toBe(0);
    const stopping = lines().filter((l) => l.msg === 'shutting down');
    expect(stopping).toHaveLength(2);
    // Both workers served requests (the replacement too, since it started).
    expect(new Set(stopping.map((l) => l.pid)).size).toBe(2);
    for (const l of stopping) expect(l.served).toBeGreaterThan(0);
    await until(() => lines().some((l) => l.role === 'primary' && l.msg === 'stopped'), 'the primary says stopped');

    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [path.join(ROOT, 'dist', 'main.js'), ...args], { env: { ...process.env, SIDECAR_DATA_DIR: dir, SIDECAR_CONFIG: cfgFile }, encoding: 'utf8' });
    const verify = cli('audit', 'verify');
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/OK, \d+ row/);
    const rows = cli('audit', 'export', '--format', 'ndjson')
      .stdout.split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { requestId: string });
    const ids = rows.map((x) => x.requestId).filter((id) => id.startsWith('workers-test-'));
    expect(ids.sort()).toEqual([...sent].sort());
  }, 60_000);
});
