// Graceful shutdown through the real entry point: `node dist/main.js serve` and a real SIGTERM.
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { spawnSidecar, tempDir } from '../helpers/sidecar.js';
import { json, rawRequest, until } from '../helpers/http.js';

let upstream: JiraUpstream;
const dirs: string[] = [];
beforeAll(async () => {
  upstream = await startJiraUpstream();
});
afterAll(async () => {
  await upstream?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const temp = () => {
  const d = tempDir();
  dirs.push(d);
  return d;
};

describe('graceful shutdown', () => {
  it('SIGTERM during a slow request lets it finish with 200, refuses new connections, then exits 0', async () => {
    const s = await spawnSidecar({ SIDECAR_UPSTREAM: upstream.url, SIDECAR_DATA_DIR: temp() });
    const slowPath = '/rest/test/slow?ms=1500&id=sigterm';
    const inFlight = rawRequest(s.proxyUrl, { path: slowPath });
    await until(() => upstream.seen.some((r) => r.url === slowPath) && upstream.open() >= 1, 'slow request in flight upstream');
    s.child.kill('SIGTERM');
    await until(() => s.stdout().includes('shutting down'), 'shutdown started');
    // The listener is closed: a new connection is refused while the old request is still running
    // (ECONNRESET when the connect raced the close into the kernel's backlog: refused all the same),
    // and nothing of it reaches Jira.
    const seenBefore = upstream.seen.length;
    const refused = await rawRequest(s.proxyUrl, { path: '/rest/test/echo?id=after-sigterm' }).then(
      () => 'answered',
      (e: NodeJS.ErrnoException) => e.code,
    );
    expect(['ECONNREFUSED', 'ECONNRESET']).toContain(refused);
    expect(upstream.seen.slice(seenBefore).some((r) => r.url.includes('after-sigterm'))).toBe(false);
    const r = await inFlight;
    expect(r.status).toBe(200);
    expect(json(r)).toEqual({ slept: 1500 });
    expect(await s.exited).toBe(0);
    expect(s.stdout()).toContain('"msg":"stopped"');
  });

  it('the grace period is bounded: a request longer than shutdownGraceMs is cut and the process still exits 0', async () => {
    const dir = temp();
    const cfg = path.join(dir, 'config.yaml');
    writeFileSync(cfg, 'server:\n  shutdownGraceMs: 300\n');
    const s = await spawnSidecar({ SIDECAR_UPSTREAM: upstream.url, SIDECAR_DATA_DIR: dir, SIDECAR_CONFIG: cfg });
    const slowPath = '/rest/test/slow?ms=60000&id=grace';
    const inFlight = rawRequest(s.proxyUrl, { path: slowPath }).then(
      () => 'answered',
      () => 'cut',
    );
    await until(() => upstream.seen.some((r) => r.url === slowPath) && upstream.open() >= 1, 'slow request in flight upstream');
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(await inFlight).toBe('cut');
    expect(s.stdout()).toContain('shutdown grace elapsed');
  });

  it('SIGINT stops an idle sidecar with exit 0', async () => {
    const s = await spawnSidecar({ SIDECAR_UPSTREAM: upstream.url, SIDECAR_DATA_DIR: temp() });
    s.child.kill('SIGINT');
    expect(await s.exited).toBe(0);
  });

  it('SIGTERM still ends the process when the reader of its stdout has gone (EPIPE on log lines)', async () => {
    const s = await spawnSidecar({ SIDECAR_UPSTREAM: upstream.url, SIDECAR_DATA_DIR: temp() });
    s.child.stdout!.destroy(); // like `serve | head`: the shutdown log lines now hit a closed pipe
    await fetch(`${s.proxyUrl}/rest/api/2/serverInfo`); // and a request in between
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });
});
