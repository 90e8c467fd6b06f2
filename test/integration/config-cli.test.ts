// `jira-auth-sidecar config validate FILE` through the real entry point (dist/main.js).
// Config messages are user interface, so they are pinned here (STYLE §6).
import { writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers/sidecar.js';

const dir = tempDir('config-cli-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** Runs the CLI with a clean SIDECAR_* environment plus `env`. */
function cli(args: string[], env: Record<string, string> = {}) {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SIDECAR_') && v !== undefined) clean[k] = v;
  return spawnSync(process.execPath, [path.join(ROOT, 'dist', 'main.js'), ...args], { env: { ...clean, ...env }, encoding: 'utf8' });
}

describe('config validate', () => {
  it('a good YAML file exits 0', () => {
    const f = file(
      'good.yaml',
      `upstream:
  url: https://jira.example.com
  sharedSecret: \${JIRA_SHARED_SECRET}
  stripHeaders: [X-Remote-User]
bypass: ["/rest/api/2/serverInfo", "GET /rest/api/2/status/*"]
access:
  ipAllowlist: [10.0.0.0/8, "2001:db8::/32"]
rateLimit: { points: 100, durationSec: 60 }
`,
    );
    const r = cli(['config', 'validate', f], { JIRA_SHARED_SECRET: 's3cret' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${f}: valid\n`);
    expect(r.stdout).not.toContain('s3cret');
  });

  it('a good JSON file exits 0', () => {
    const f = file('good.json', JSON.stringify({ upstream: { url: 'http://127.0.0.1:8080', timeoutMs: 1000 }, enabled: false }));
    const r = cli(['config', 'validate', f]);
    expect(r.status).toBe(0);
  });

  it('a bad file exits 1 and names every bad field by its path', () => {
    const f = file(
      'bad.yaml',
      `upstream:
  url: not-a-url
  timeoutMs: 0
  stripHeaders: ["bad header"]
server:
  port: eighty
rateLimt: { points: 5 }
bypass: ["rest/no-slash"]
credentials: { basic: maybe }
access:
  ipAllowlist: ["10.0.0.300"]
jwt:
  issuers:
    - name: entra
      issuer: https://login.example.com/v2.0
      audiences: []
      keys: {}
`,
    );
    const r = cli(['config', 'validate', f]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      [
        `config_invalid: ${f} has 10 problem(s):`,
        '  server.port: must be a number, not a string',
        '  upstream.url: must be an absolute http(s) URL, e.g. https://jira.example.com',
        '  upstream.stripHeaders[0]: must be a valid HTTP header name',
        '  upstream.timeoutMs: must be at least 1',
        '  bypass[0]: use an exact path "/rest/x", a prefix "/rest/x/*", or "METHOD /path" (e.g. "GET /rest/api/2/serverInfo")',
        '  credentials.basic: must be one of "passthrough", "deny"',
        '  jwt.issuers[0].audiences: list at least one audience (the aud your API is registered with)',
        '  jwt.issuers[0].keys: set one of jwksUri, discovery, publicKeyPem, certificatePem',
        '  rateLimt: unknown setting (did you mean "rateLimit"?)',
        '  access.ipAllowlist[0]: "10.0.0.300" is not an IPv4/IPv6 address or CIDR (e.g. 10.0.0.0/8, 2001:db8::/32)',
        '',
      ].join('\n'),
    );
  });

  it('a missing ${VAR} is reported at the path that uses it', () => {
    const f = file('missing-var.yaml', 'upstream:\n  url: ${JIRA_URL}\n  sharedSecret: ${JIRA_SECRET}\n');
    const r = cli(['config', 'validate', f], { JIRA_URL: 'https://jira.example.com' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`config_invalid: ${f} has 1 problem(s):\n  upstream.sharedSecret: environment variable JIRA_SECRET is not set\n`);
  });

  it('${VAR} expands from the environment, ${VAR:-default} falls back', () => {
    const f = file('vars.yaml', 'upstream:\n  url: ${JIRA_URL:-http://127.0.0.1:8080}\n  timeoutMs: 1000\nserver:\n  dataDir: ${DATA}/sub\n');
    expect(cli(['config', 'validate', f], { DATA: '/tmp/x' }).status).toBe(0);
    // An expanded value is validated like any other.
    const bad = cli(['config', 'validate', f], { DATA: '/tmp/x', JIRA_URL: 'nope' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('  upstream.url: must be an absolute http(s) URL, e.g. https://jira.example.com');
  });

  it('SIDECAR_* environment overrides are validated with the file', () => {
    const f = file('env.yaml', 'enabled: true\n');
    const r = cli(['config', 'validate', f], { SIDECAR_PORT: '8091', SIDECAR_HOST: '127.0.0.1' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('  server.adminPort: the admin listener must not share the proxy port');
  });

  it('a bad value from a SIDECAR_* variable is named by the variable', () => {
    const f = file('env2.yaml', 'enabled: true\n');
    const r = cli(['config', 'validate', f], { SIDECAR_PORT: 'abc', SIDECAR_LOG_LEVEL: 'loud' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      `config_invalid: ${f} has 2 problem(s):\n` +
        '  server.port: must be a number, not a string (set by SIDECAR_PORT)\n' +
        '  log.level: must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent" (set by SIDECAR_LOG_LEVEL)\n',
    );
  });

  it('unreadable and unparsable files exit 1 with a reason', () => {
    const missing = cli(['config', 'validate', path.join(dir, 'nope.yaml')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^config_invalid: cannot read config file .*nope\.yaml: ENOENT/);
    const broken = cli(['config', 'validate', file('broken.yaml', 'upstream: [unclosed\n')]);
    expect(broken.status).toBe(1);
    expect(broken.stderr).toMatch(/^config_invalid: .*broken\.yaml: not valid YAML\/JSON/);
    const scalar = cli(['config', 'validate', file('scalar.yaml', '42\n')]);
    expect(scalar.status).toBe(1);
    expect(scalar.stderr).toContain('the top level must be a mapping of settings');
  });
});

describe('admin reset-config', () => {
  it('forgets the changes saved in the database, says so, and moves the config version on', async () => {
    const { openDb } = await import('../../src/store/sqlite/db.js');
    const { SqliteConfigStore } = await import('../../src/store/sqlite/config.js');
    const dataDir = path.join(dir, 'reset-config-data');
    const db = openDb(dataDir).db;
    const store = new SqliteConfigStore(db);
    await store.save({ changes: [{ path: ['access', 'readOnlyGroups'], after: ['auditors'] }], savedAt: 1, savedBy: 'admin' });
    db.close();
    const first = cli(['admin', 'reset-config'], { SIDECAR_DATA_DIR: dataDir });
    expect([first.status, first.stdout]).toEqual([0, 'stored admin configuration changes removed; restart the sidecar\n']);
    const again = cli(['admin', 'reset-config'], { SIDECAR_DATA_DIR: dataDir });
    expect([again.status, again.stdout]).toEqual([0, 'no stored admin configuration changes\n']);
    const after = openDb(dataDir).db;
    try {
      const s = new SqliteConfigStore(after);
      expect(await s.load()).toBeUndefined();
      expect(await s.version()).toBe(2);
    } finally {
      after.close();
    }
  });
});
