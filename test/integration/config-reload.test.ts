// Reload without a restart (issue 21): SIGHUP, POST /api/reload and `jira-auth-sidecar reload` re-read
// the config file and swap it in at once. An invalid file changes nothing (issues by path, /readyz
// stays up, sidecar_config_reloads_total{result="invalid"}); a setting only a restart applies is
// named and keeps its running value; a reload under load loses no request and no audit row.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { loadConfig } from '../../src/config/load.js';
import { startSidecar, type RunningSidecar } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { reloadConfig } from '../../src/admin/config-service.js';
import { ROOT, spawnSidecar, tempDir, type SpawnedSidecar } from '../helpers/sidecar.js';
import { ADMIN_PASSWORD, AdminClient } from '../helpers/admin.js';
import { rawRequest, until } from '../helpers/http.js';

process.env.SIDECAR_ADMIN_PASSWORD = ADMIN_PASSWORD;
let upstream: JiraUpstream;
let sc: RunningSidecar;
const dir = tempDir('reload-');
const file = path.join(dir, 'config.yaml');
const basic = (u: string) => `Basic ${Buffer.from(`${u}:pw`).toString('base64')}`;

const writeConfig = (extra: string, port = 0) =>
  writeFileSync(file, `upstream: { url: ${JSON.stringify(upstream.url)} }\nserver: { dataDir: ${JSON.stringify(dir)}, port: ${port}, adminPort: 0, host: 127.0.0.1, warmupRequests: 0 }\naudit: { flushIntervalMs: 10 }\nlog: { level: warn }\n${extra}`);

const status = async (auth: string) => (await rawRequest(sc.proxyUrl, { path: '/rest/api/2/myself', headers: [['Authorization', auth]] })).status;
const reloads = async (result: string) => (await sc.runtime.deps.metrics.registry.getSingleMetric('sidecar_config_reloads_total')!.get()).values.find((v) => v.labels.result === result)?.value ?? 0;

beforeAll(async () => {
  upstream = await startJiraUpstream();
  writeConfig('credentials: { basic: passthrough }\n');
  const loaded = loadConfig(file, {});
  if (!loaded.result.ok) throw new Error(JSON.stringify(loaded.result.issues));
  sc = await startSidecar({ config: loaded.result.config, raw: loaded.raw, configFile: file, logger: createLogger('silent') });
});

afterAll(async () => {
  await sc?.close();
  await upstream?.close();
});

describe('reload', () => {
  it('applies a changed file at once and says what changed', async () => {
    expect(await status(basic('alice'))).toBe(200);
    writeConfig('credentials: { basic: deny }\n');
    const r = await reloadConfig(sc.runtime, {});
    expect(r).toMatchObject({ result: 'ok', source: 'file', restartRequired: [] });
    expect(r.changes.map((c) => c.path)).toEqual(['credentials.basic']);
    expect(await status(basic('alice'))).toBe(401);
    expect(await reloadConfig(sc.runtime, {})).toMatchObject({ result: 'unchanged' });
  });

  it('an invalid file changes nothing: issues by path, still ready, counted', async () => {
    const before = await reloads('invalid');
    const version = sc.runtime.deps.getPolicy().version;
    writeConfig('credentials: { basic: passthrough }\nrateLimit: { points: -1 }\nenforcement: { rules: { nosuch: report } }\n');
    const r = await reloadConfig(sc.runtime, {});
    expect(r.result).toBe('invalid');
    expect(r.issues.map((i) => i.path).sort()).toEqual(['enforcement.rules.nosuch', 'rateLimit.points']);
    expect(sc.runtime.deps.getPolicy().version).toBe(version);
    expect(await status(basic('alice'))).toBe(401);
    expect((await fetch(`${sc.adminUrl}/readyz`)).status).toBe(200);
    expect(await reloads('invalid')).toBe(before + 1);
    writeFileSync(file, 'this: [is not: yaml');
    expect((await reloadConfig(sc.runtime, {})).result).toBe('invalid');
  });

  it('a listener setting is named as needing a restart and keeps its running value', async () => {
    writeConfig('credentials: { basic: deny }\naccess: { readOnlyGroups: [auditors] }\n', 18099);
    const r = await reloadConfig(sc.runtime, {});
    expect(r.result).toBe('ok');
    expect(r.restartRequired).toEqual(['server.port']);
    expect(r.changes.map((c) => c.path)).toEqual(['access.readOnlyGroups']);
    expect(sc.runtime.deps.getPolicy().config.server.port).toBe(0);
    expect(await status(basic('alice'))).toBe(401); // still listening where it was
  });

  it('under load: every request answered, every one audited, across several reloads', async () => {
    writeConfig('credentials: { basic: passthrough }\n');
    await reloadConfig(sc.runtime, {});
    const sends = Array.from({ length: 300 }, (_, i) =>
      rawRequest(sc.proxyUrl, { path: `/rest/api/2/issue/L-${i}`, headers: [['Authorization', basic('loader')]] }).then((r) => (r.status === 200 ? 200 : `${r.status} ${r.body.toString().slice(0, 200)}`)),
    );
    for (let k = 0; k < 6; k++) {
      writeConfig(`credentials: { basic: passthrough }\nrateLimit: { points: ${1000 + k} }\n`);
      await reloadConfig(sc.runtime, {});
      await new Promise((r) => setTimeout(r, 5));
    }
    const statuses = await Promise.all(sends);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const rows = () => sc.runtime.stores.audit.count({ path: '/rest/api/2/issue/L-' });
    await until(async () => (await rows()) >= 300, '300 audit rows');
    expect(await rows()).toBe(300);
  });
});

describe('SIGHUP and `jira-auth-sidecar reload` on the real process', () => {
  let proc: SpawnedSidecar;
  const pdir = tempDir('reload-proc-');
  const pfile = path.join(pdir, 'config.yaml');
  const pconf = (basicAction: string) => writeFileSync(pfile, `upstream: { url: ${JSON.stringify(upstream.url)} }\nserver: { dataDir: ${JSON.stringify(pdir)}, warmupRequests: 0 }\ncredentials: { basic: ${basicAction} }\n`);
  const pstatus = async () => (await rawRequest(proc.proxyUrl, { path: '/rest/api/2/myself', headers: [['Authorization', basic('bob')]] })).status;

  afterAll(async () => {
    proc?.child.kill('SIGTERM');
    await proc?.exited;
  });

  it('SIGHUP re-reads the file; the CLI does the same through the admin API and reports a bad file', async () => {
    pconf('passthrough');
    proc = await spawnSidecar({ SIDECAR_CONFIG: pfile, SIDECAR_DATA_DIR: pdir });
    expect(await pstatus()).toBe(200);
    pconf('deny');
    proc.child.kill('SIGHUP');
    await until(async () => (await pstatus()) === 401, 'Basic refused after SIGHUP');
    expect(proc.stdout()).toContain('config reloaded');

    const admin = new AdminClient(proc.adminUrl);
    await admin.login();
    const key = (await admin.call('POST', '/api/admin-keys', { name: 'reload' })).body.key as string;
    const cli = (args: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'dist', 'main.js'), 'reload', '--url', proc.adminUrl, ...args], { encoding: 'utf8', env: { ...process.env, SIDECAR_CONFIG: pfile } });
    pconf('passthrough');
    const ok = cli(['--api-key', key]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('applied 1 change(s): credentials.basic');
    expect(await pstatus()).toBe(200);
    writeFileSync(pfile, `upstream: { url: ${JSON.stringify(upstream.url)} }\ncredentials: { basic: sometimes }\n`);
    const bad = cli(['--api-key', key]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('credentials.basic');
    expect(await pstatus()).toBe(200);
    expect(cli([]).stderr).toContain('an admin API key is needed');
    // The process is still up and serving after all of it.
    expect((await fetch(`${proc.adminUrl}/readyz`)).status).toBe(200);
  });
});
