// The rollout tools at their edges: `report credentials` and `replay` through the built CLI (as an
// admin runs them), and GET /api/readiness, its CSV export and POST /api/replay through the admin API,
// over traffic that really went through the proxy (Basic users, a read-only group in report mode).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { ROOT, startTestSidecar, tempDir, type TestSidecar } from '../helpers/sidecar.js';
import { ADMIN_PASSWORD, AdminClient } from '../helpers/admin.js';
import { rawRequest, until } from '../helpers/http.js';

process.env.SIDECAR_ADMIN_PASSWORD = ADMIN_PASSWORD;
let upstream: JiraUpstream;
let sc: TestSidecar;
let admin: AdminClient;
const dataDir = tempDir('rollout-cli-');
const candidateFile = path.join(dataDir, 'candidate.yaml');
const harmlessFile = path.join(dataDir, 'harmless.yaml');
const brokenFile = path.join(dataDir, 'broken.yaml');

const cli = (args: string[]) =>
  spawnSync(process.execPath, [path.join(ROOT, 'dist', 'main.js'), ...args], { env: { ...process.env, SIDECAR_DATA_DIR: dataDir, SIDECAR_CONFIG: '', SIDECAR_LOG_LEVEL: 'warn' }, encoding: 'utf8' });
const basic = (u: string) => `Basic ${Buffer.from(`${u}:pw-${u}`).toString('base64')}`;

beforeAll(async () => {
  upstream = await startJiraUpstream();
  sc = await startTestSidecar(upstream.url, { credentials: { basic: 'passthrough' }, audit: { flushIntervalMs: 10, writer: 'inline' } }, { dataDir });
  let n = 0;
  for (const u of ['alice', 'bob', 'alice', 'carol']) {
    for (const method of ['GET', 'POST']) {
      await rawRequest(sc.proxyUrl, { method, path: `/rest/api/2/issue/DEMO-${++n}`, headers: [['Authorization', basic(u)], ['User-Agent', `script-${u}`], ['Content-Type', 'application/json']], body: method === 'POST' ? '{}' : undefined });
    }
  }
  await rawRequest(sc.proxyUrl, { method: 'GET', path: '/rest/api/2/myself?os_username=dora&os_password=pw', headers: [] });
  await until(async () => (await sc.runtime.stores.audit.count({})) >= 9, 'nine audit rows');
  admin = new AdminClient(sc.adminUrl);
  await admin.login();
  writeFileSync(candidateFile, `server: { dataDir: ${JSON.stringify(dataDir)} }\ncredentials: { basic: deny }\n`);
  writeFileSync(harmlessFile, `server: { dataDir: ${JSON.stringify(dataDir)} }\ncredentials: { basic: passthrough }\n`);
  writeFileSync(brokenFile, `credentials: { basic: maybe }\n`);
}, 60_000);

afterAll(async () => {
  await sc?.close();
  await upstream?.close();
});

describe('jira-auth-sidecar report credentials', () => {
  it('names the switch, who used it and how, in words', () => {
    const r = cli(['report', 'credentials', '--since', '1h']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('9 request(s) recorded in the last 1h');
    expect(r.stdout).toContain('Turn off Basic auth (Jira passwords) [credentials:basic]');
    expect(r.stdout).toMatch(/4 user\(s\), 0 integration\(s\), 1 address\(es\), 4 user agent\(s\) used it in the last 1h: 9 request\(s\) that would be refused with credential_kind_denied/);
    expect(r.stdout).toContain('sent as: Authorization: Basic 8, os_username/os_password 1');
    expect(r.stdout).toContain('users: alice (4), bob (2), carol (2), dora (1)');
    expect(r.stdout).not.toMatch(/pw-/);
  });

  it('--json is the whole report; --switch ID --csv one switch as a spreadsheet-safe CSV', () => {
    const j = JSON.parse(cli(['report', 'credentials', '--since', '1h', '--json']).stdout);
    expect(j.switches.map((s: { id: string }) => s.id)).toEqual(['credentials:basic']);
    expect(j.switches[0]).toMatchObject({ requests: 9, users: 4, refused: 0 });
    const csv = cli(['report', 'credentials', '--since', '1h', '--switch', 'credentials:basic', '--csv']);
    expect(csv.status).toBe(0);
    expect(csv.stdout.split('\r\n')[0]).toBe('dimension,name,requests,first_seen,last_seen');
    expect(csv.stdout).toMatch(/\r\nusers,alice,4,/);
    expect(csv.stdout).toMatch(/\r\npaths,POST \/rest\/api\/2\/issue\/\{key\},4,/);
  });

  it('refuses bad input with a clear message', () => {
    const bad = cli(['report', 'credentials', '--since', 'a week']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('--since must be a duration such as 7d, 24h or 90m');
    expect(cli(['report', 'credentials', '--csv']).stderr).toContain('--csv needs --switch');
    expect(cli(['report', 'credentials', '--switch', 'credentials:nope']).stderr).toContain('no switch "credentials:nope"');
    expect(cli(['report', 'credentials', '--help']).stdout).toContain('--since <duration>');
  });
});

describe('jira-auth-sidecar replay', () => {
  it('says what the candidate would have refused, by code and user, and exits 2 with --fail-on-change', () => {
    const r = cli(['replay', '--config', candidateFile, '--since', '1h']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('replayed 9 of 9 request(s) recorded in the last 1h');
    expect(r.stdout).toContain('allowed -> denied: 9 (4 user(s) changed)');
    expect(r.stdout).toContain('credential_kind_denied: 9 allowed -> denied');
    expect(r.stdout).toMatch(/top users:\n {2}alice: 4 allowed -> denied/);
    expect(cli(['replay', '--config', candidateFile, '--since', '1h', '--fail-on-change']).status).toBe(2);
    expect(cli(['replay', '--config', harmlessFile, '--since', '1h', '--fail-on-change']).status).toBe(0);
    const j = JSON.parse(cli(['replay', '--config', candidateFile, '--since', '1h', '--json']).stdout);
    expect(j).toMatchObject({ against: 'recorded', scanned: 9, allowedToDenied: 9, deniedToAllowed: 0, undetermined: 0 });
  });

  it('an invalid candidate is refused naming the field; --config is required', () => {
    const r = cli(['replay', '--config', brokenFile]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('credentials.basic');
    expect(cli(['replay']).stderr).toContain("required option '--config <file>'");
  });
});

describe('admin API', () => {
  it('GET /api/readiness answers the report; the export is CSV; an unknown switch is 404', async () => {
    const r = await admin.call('GET', '/api/readiness?since=1h');
    expect(r.status).toBe(200);
    expect(r.body.switches[0]).toMatchObject({ id: 'credentials:basic', requests: 9, users: 4 });
    const csv = await fetch(`${sc.adminUrl}/api/readiness/export?since=1h&switch=credentials:basic`, { headers: { cookie: admin.cookie ?? '' } });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect(csv.headers.get('content-disposition')).toContain('readiness-credentials-basic.csv');
    expect(await csv.text()).toMatch(/^dimension,name,requests/);
    expect((await admin.call('GET', '/api/readiness/export?since=1h&switch=nope')).body.error).toBe('not_found');
  });

  it('POST /api/replay judges a candidate without saving it; bad input is 400 naming the field', async () => {
    const cfg = (await admin.call('GET', '/api/config')).body.config;
    const versionBefore = (await admin.call('GET', '/api/config')).body.version;
    const r = await admin.call('POST', '/api/replay', { config: { ...cfg, credentials: { ...cfg.credentials, basic: 'deny' } }, since: '1h' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ against: 'recorded', allowedToDenied: 9 });
    expect((await admin.call('GET', '/api/config')).body).toMatchObject({ version: versionBefore, config: { credentials: { basic: 'passthrough' } } });
    // Against the current config: the same change, the same answer (nothing else changed since).
    expect((await admin.call('POST', '/api/replay', { config: { ...cfg, credentials: { ...cfg.credentials, basic: 'deny' } }, since: '1h', against: 'current' })).body).toMatchObject({ against: 'current', allowedToDenied: 9 });
    const cases: Array<[unknown, string, string]> = [
      [{ since: '1h' }, 'bad_request', 'config'],
      [{ config: cfg, since: 'forever' }, 'bad_request', 'since'],
      [{ config: cfg, since: '401d' }, 'bad_request', 'since'],
      [{ config: cfg, against: 'yesterday' }, 'bad_request', 'against'],
      [{ config: { ...cfg, enforcement: { rules: { readonlyGroups: 'report' } } } }, 'config_invalid', 'enforcement.rules.readonlyGroups'],
    ];
    for (const [body, code, field] of cases) {
      const bad = await admin.call('POST', '/api/replay', body);
      expect(bad.status, field).toBe(400);
      expect(bad.body.error, field).toBe(code);
      expect(JSON.stringify(bad.body.issues), field).toContain(field);
    }
  });
});
