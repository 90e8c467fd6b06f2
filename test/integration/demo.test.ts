// `npm run demo` (= node dist/demo/run.js after the build): starts, answers through the sidecar,
// and Ctrl-C (SIGINT) stops all of it with exit 0.
import { spawn, spawnSync } from 'node:child_process';
import { rmSync, existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers/sidecar.js';
import { json, rawRequest, until } from '../helpers/http.js';

const dataDir = path.join(tempDir('demo-'), 'data-demo');
afterAll(() => rmSync(path.dirname(dataDir), { recursive: true, force: true }));

describe('demo runner', () => {
  it('prints the URLs and curl lines, proxies to the demo Jira, and stops cleanly on SIGINT', async () => {
    const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'demo', 'run.js')], {
      env: { ...process.env, DEMO_UPSTREAM_PORT: '0', DEMO_PORT: '0', DEMO_ADMIN_PORT: '0', DEMO_DATA_DIR: dataDir, SIDECAR_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await until(() => out.includes('demo ready') || child.exitCode !== null, 'demo ready');
      expect(err).toBe('');
      const proxy = /Sidecar proxy\s+(http:\/\/\S+)/.exec(out)?.[1];
      const admin = /Admin listener\s+(http:\/\/\S+)/.exec(out)?.[1];
      expect(proxy).toBeDefined();
      expect(admin).toBeDefined();
      expect(out).toContain(`curl -i ${proxy}/rest/api/2/myself`);

      const info = await rawRequest(proxy!, { path: '/rest/api/2/serverInfo' });
      expect(info.status).toBe(200);
      expect(json(info).serverTitle).toBe('Demo Jira');
      const sse = await rawRequest(proxy!, { path: '/rest/llm/stream?events=2&gapMs=1' });
      expect(sse.body.toString()).toContain('id: 2');
      expect((await rawRequest(admin!, { path: '/healthz' })).status).toBe(200);
      expect(existsSync(path.join(dataDir, 'sidecar.db'))).toBe(true);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(out).toContain('demo stopped');
  });
});

describe('demo runner --cluster', () => {
  it('three replicas on one embedded PostgreSQL: a token made by the CLI works on every replica, a revoke is seen by all; SIGINT stops all of it', async () => {
    const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'demo', 'run.js'), '--cluster'], {
      env: { ...process.env, DEMO_UPSTREAM_PORT: '0', DEMO_PORT: '0', DEMO_ADMIN_PORT: '0', DEMO_DATA_DIR: dataDir, SIDECAR_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await until(() => out.includes('demo ready') || child.exitCode !== null, 'cluster demo ready', 60_000);
      expect(err).toBe('');
      const proxies = [...out.matchAll(/Replica \d\s+proxy (http:\/\/\S+)/g)].map((m) => m[1]!);
      expect(proxies).toHaveLength(3);
      const databaseUrl = /export SIDECAR_DATABASE_URL='([^']+)'/.exec(out)?.[1];
      expect(databaseUrl).toMatch(/^postgres:\/\//);
      const cli = (...args: string[]) => {
        const clean: Record<string, string> = {};
        for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SIDECAR_') && v !== undefined) clean[k] = v;
        return spawnSync(process.execPath, [path.join(ROOT, 'dist', 'main.js'), ...args], { env: { ...clean, SIDECAR_DATABASE_URL: databaseUrl! }, encoding: 'utf8' });
      };
      const created = cli('token', 'create', '--owner', 'alice', '--name', 'cluster-demo', '--groups', 'jira-users', '--json');
      expect(created.status, created.stderr).toBe(0);
      const { token, id } = JSON.parse(created.stdout) as { token: string; id: string };
      for (const p of proxies) expect((await rawRequest(p, { path: '/rest/api/2/myself', headers: [['Authorization', `Bearer ${token}`]] })).status).toBe(200);
      expect(cli('token', 'revoke', id).status).toBe(0);
      // Seen by every replica within apiTokens.cacheMs (500 ms on PostgreSQL): polled, not timed.
      const refused = async (p: string) => json(await rawRequest(p, { path: '/rest/api/2/myself', headers: [['Authorization', `Bearer ${token}`]] })).error === 'token_revoked';
      for (const p of proxies) await until(() => refused(p), `${p} refuses the revoked token`);
      const verify = cli('audit', 'verify');
      expect(verify.status, verify.stdout + verify.stderr).toBe(0);
      for (const r of ['demo-1', 'demo-2', 'demo-3']) expect(verify.stdout).toContain(`[${r}] request log: OK`);
      expect(verify.stdout).not.toContain(databaseUrl!.split('@')[0]!.split(':').pop()!);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(out).toContain('demo stopped');
  });
});
