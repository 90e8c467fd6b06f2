// Without a config file, server.* settings saved in the admin console are kept in the database and
// bind the listeners at the next start of the real `node dist/main.js serve` (built by pretest);
// a SIDECAR_* variable set at that start still wins over the saved value, without erasing it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { rmSync } from 'node:fs';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { spawnSidecar, startTestSidecar, tempDir, type SpawnedSidecar } from '../helpers/sidecar.js';
import { AdminClient, ADMIN_PASSWORD } from '../helpers/admin.js';
import { freePort } from '../helpers/redis.js';

process.env.SIDECAR_ADMIN_PASSWORD = ADMIN_PASSWORD;

let upstream: JiraUpstream;
const dataDir = tempDir('sidecar-listeners-');
const running: SpawnedSidecar[] = [];

beforeAll(async () => {
  upstream = await startJiraUpstream();
});
afterAll(async () => {
  for (const s of running) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  await upstream?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const portOf = (url: string) => Number(new URL(url).port);

/** GET with one header of `bytes` bytes: status and JSON error code. */
function withHeader(base: string, bytes: number): Promise<{ status: number; error?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/rest/api/2/myself`, { headers: { 'x-padding': 'a'.repeat(bytes) }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        let error: string | undefined;
        try {
          error = (JSON.parse(body) as { error?: string }).error;
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, error });
      });
    });
    req.on('error', reject);
  });
}

/** `serve` without SIDECAR_CONFIG on the shared data dir; '' unsets a variable spawnSidecar would set. */
async function serve(env: Record<string, string>): Promise<SpawnedSidecar> {
  const s = await spawnSidecar({ SIDECAR_CONFIG: '', SIDECAR_DATA_DIR: dataDir, SIDECAR_UPSTREAM: upstream.url, SIDECAR_LOG_LEVEL: 'info', ...env });
  running.push(s);
  return s;
}

async function stop(s: SpawnedSidecar): Promise<void> {
  s.child.kill('SIGTERM');
  expect(await s.exited).toBe(0);
}

async function adminOf(url: string): Promise<AdminClient> {
  const c = new AdminClient(url);
  expect((await c.login()).status).toBe(200);
  return c;
}

describe('listener settings saved without a config file', () => {
  it('bind the listeners at the next start; SIDECAR_PORT wins over the saved port and does not erase it', async () => {
    const [savedPort, savedAdminPort, envPort] = [await freePort(), await freePort(), await freePort()];

    // 1. Save listener settings through the admin API (no config file: they go to the database).
    const first = await startTestSidecar(upstream.url, {}, { dataDir });
    try {
      const a = await adminOf(first.adminUrl);
      const put = await a.editConfig((c) => {
        c.server.port = savedPort;
        c.server.adminPort = savedAdminPort;
        c.server.maxHeaderBytes = 2048;
      });
      expect(put.status).toBe(200);
      expect(put.body.source).toBe('database');
      expect([...put.body.restartRequired].sort()).toEqual(['server.adminPort', 'server.maxHeaderBytes', 'server.port']);
      // Saved, not applied: this process keeps listening where it started, with the old head limit.
      expect((await withHeader(first.proxyUrl, 3000)).status).not.toBe(431);
      // The database holding these changes lives in dataDir: it cannot be moved from here.
      const moved = await a.editConfig((c) => (c.server.dataDir = `${dataDir}-elsewhere`));
      expect(moved.status).toBe(400);
      expect(moved.body.error).toBe('config_invalid');
      expect(moved.body.issues.map((i: { path: string }) => i.path)).toEqual(['server.dataDir']);
    } finally {
      await first.close();
    }

    // 2. The real `serve`, no SIDECAR_PORT / SIDECAR_ADMIN_PORT: listens where the admin saved.
    const second = await serve({ SIDECAR_PORT: '', SIDECAR_ADMIN_PORT: '' });
    expect(portOf(second.proxyUrl)).toBe(savedPort);
    expect(portOf(second.adminUrl)).toBe(savedAdminPort);
    expect(await withHeader(second.proxyUrl, 3000)).toEqual({ status: 431, error: 'header_too_large' });
    expect((await withHeader(second.proxyUrl, 500)).status).not.toBe(431);
    const seen = (await (await adminOf(second.adminUrl)).get('/api/config')).body;
    expect(seen.source).toBe('database');
    expect(seen.config.server).toMatchObject({ port: savedPort, adminPort: savedAdminPort, maxHeaderBytes: 2048 });
    await stop(second);

    // 3. SIDECAR_PORT set: env wins for the port; the other saved settings still apply. A save made
    //    meanwhile (maxHeaderBytes) must not drop the saved port the variable hides.
    const third = await serve({ SIDECAR_PORT: String(envPort), SIDECAR_ADMIN_PORT: '' });
    expect(portOf(third.proxyUrl)).toBe(envPort);
    expect(portOf(third.adminUrl)).toBe(savedAdminPort);
    expect((await withHeader(third.proxyUrl, 3000)).status).toBe(431);
    const a3 = await adminOf(third.adminUrl);
    const meta = (await a3.get('/api/config')).body;
    expect(meta.config.server.port).toBe(envPort);
    expect(meta.envOverrides).toContainEqual({ path: 'server.port', variable: 'SIDECAR_PORT' });
    const refused = await a3.editConfig((c) => (c.server.port = savedPort));
    expect(refused.status).toBe(400);
    expect(refused.body.issues.map((i: { path: string }) => i.path)).toContain('server.port');
    const put3 = await a3.editConfig((c) => (c.server.maxHeaderBytes = 4096));
    expect(put3.status).toBe(200);
    expect(put3.body.restartRequired).toEqual(['server.maxHeaderBytes']);
    await stop(third);

    // 4. Variable unset again: the saved port is back, with the head limit saved in step 3.
    const fourth = await serve({ SIDECAR_PORT: '', SIDECAR_ADMIN_PORT: '' });
    expect(portOf(fourth.proxyUrl)).toBe(savedPort);
    expect((await withHeader(fourth.proxyUrl, 3000)).status).not.toBe(431);
    expect(await withHeader(fourth.proxyUrl, 5000)).toEqual({ status: 431, error: 'header_too_large' });
    await stop(fourth);
  }, 90_000);
});
