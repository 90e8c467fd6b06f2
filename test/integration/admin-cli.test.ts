// The real entry point: a first start without SIDECAR_ADMIN_PASSWORD generates and prints an admin
// password once; `admin set-password --password-stdin` and `admin create-key` work on the same data
// dir while the sidecar runs.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT, spawnSidecar, tempDir, type SpawnedSidecar } from '../helpers/sidecar.js';
import { AdminClient } from '../helpers/admin.js';

const dataDir = tempDir();
const env = { SIDECAR_DATA_DIR: dataDir, SIDECAR_ADMIN_PASSWORD: '', SIDECAR_CONFIG: '' };
const running: SpawnedSidecar[] = [];
const cli = (args: string[], input?: string) =>
  spawnSync(process.execPath, [path.join(ROOT, 'dist', 'main.js'), ...args], { env: { ...process.env, ...env }, input, encoding: 'utf8' });

afterAll(async () => {
  for (const s of running) {
    s.child.kill('SIGTERM');
    await s.exited;
  }
});

describe('admin bootstrap and CLI', () => {
  it('generates a password on first start, prints it once, and the CLI changes it', async () => {
    const s = await spawnSidecar(env);
    running.push(s);
    await expect.poll(() => s.stdout().includes('Admin login (shown once)')).toBe(true);
    const m = /password "([^"]+)"/.exec(s.stdout());
    expect(m).not.toBeNull();
    const generated = m![1]!;
    // Printed once as a plain line, never inside a structured (JSON) log line.
    expect(s.stdout().split('\n').filter((l) => l.startsWith('{') && l.includes(generated))).toEqual([]);
    expect((await new AdminClient(s.adminUrl).login('admin', generated)).status).toBe(200);

    const set = cli(['admin', 'set-password', '--password-stdin'], 'a-brand-new-password\n');
    expect(set.status).toBe(0);
    expect((await new AdminClient(s.adminUrl).login('admin', generated)).body.error).toBe('login_failed');
    expect((await new AdminClient(s.adminUrl).login('admin', 'a-brand-new-password')).status).toBe(200);
    expect(cli(['admin', 'set-password', '--password-stdin'], 'short\n').status).toBe(1);

    const key = cli(['admin', 'create-key', '--name', 'ci']);
    expect(key.status).toBe(0);
    const r = await new AdminClient(s.adminUrl).call('GET', '/api/session', undefined, { auth: `Bearer ${key.stdout.trim()}` });
    expect(r.status).toBe(200);
    expect(r.body.via).toBe('api-key');

    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    // An admin exists now: the next start prints no password.
    const again = await spawnSidecar(env);
    running.push(again);
    expect(again.stdout()).not.toContain('shown once');
  });
});
