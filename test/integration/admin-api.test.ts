// Admin API: authentication (session + CSRF, API keys, login backoff), config GET/PUT (validation,
// secrets write-only, no ${VAR} expansion, persistence), the test route, tokens, security headers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestSidecar, tempDir, type TestSidecar } from '../helpers/sidecar.js';
import { AdminClient, ADMIN_PASSWORD } from '../helpers/admin.js';
import { startTokenIssuer } from '../helpers/issuer.js';
import { startSidecar } from '../../src/http/server.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';

process.env.SIDECAR_ADMIN_PASSWORD = ADMIN_PASSWORD;

let upstream: JiraUpstream;
let sc: TestSidecar;
let admin: AdminClient;

beforeAll(async () => {
  upstream = await startJiraUpstream();
  sc = await startTestSidecar(upstream.url, { credentials: { anonymous: 'deny' } });
  admin = new AdminClient(sc.adminUrl);
  expect((await admin.login()).status).toBe(200);
});
afterAll(async () => {
  await sc?.close();
  await upstream?.close();
});

const proxyGet = (base: string, p: string, token?: string, method = 'GET') =>
  fetch(base + p, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });

describe('admin authentication', () => {
  it('refuses the API without a session or key (401 admin_auth_required, JSON with requestId)', async () => {
    const anon = new AdminClient(sc.adminUrl);
    for (const [m, p] of [['GET', '/api/config'], ['PUT', '/api/config'], ['GET', '/api/tokens'], ['POST', '/api/test'], ['GET', '/api/audit']] as const) {
      const r = await anon.call(m, p, m === 'GET' ? undefined : {});
      expect(r.status, `${m} ${p}`).toBe(401);
      expect(r.body.error).toBe('admin_auth_required');
      expect(typeof r.body.requestId).toBe('string');
    }
  });

  it('sets an HttpOnly SameSite=Strict session cookie and returns a CSRF token', async () => {
    const c = new AdminClient(sc.adminUrl);
    const r = await c.login();
    const cookie = r.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(r.body.csrfToken).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    const s = await c.get('/api/session');
    expect(s.body).toMatchObject({ username: 'admin', via: 'session', csrfToken: r.body.csrfToken });
  });

  it('refuses a write without the CSRF token and changes nothing', async () => {
    const before = (await admin.get('/api/config')).body.config;
    const c = structuredClone(before);
    c.access.readOnlyGroups = ['csrf-victims'];
    const r = await admin.call('PUT', '/api/config', c, { csrf: false });
    expect(r.status).toBe(403);
    expect(r.body.error).toBe('csrf_invalid');
    const wrong = await admin.call('PUT', '/api/config', c, { csrf: false, headers: { 'x-csrf-token': 'x'.repeat(43) } });
    expect(wrong.body.error).toBe('csrf_invalid');
    const foreign = await admin.call('PUT', '/api/config', c, { headers: { origin: 'https://evil.example' } });
    expect(foreign.body.error).toBe('csrf_invalid');
    const tok = await admin.call('POST', '/api/tokens', { owner: 'alice', name: 'x' }, { csrf: false });
    expect(tok.body.error).toBe('csrf_invalid');
    expect((await admin.get('/api/config')).body.config.access.readOnlyGroups).toEqual(before.access.readOnlyGroups);
  });

  it('refuses a JSON write sent as a form (no CORS-free cross-site body)', async () => {
    const r = await admin.call('POST', '/api/test', undefined, { headers: { 'content-type': 'text/plain' } });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('bad_request');
  });

  it('admin API keys work for scripts without CSRF, and stop working when revoked', async () => {
    const created = await admin.call('POST', '/api/admin-keys', { name: 'ci-script' });
    expect(created.status).toBe(201);
    const key = created.body.key as string;
    expect(key).toMatch(/^jasadm_/);
    const list = await admin.get('/api/admin-keys');
    expect(JSON.stringify(list.body)).not.toContain(key);
    const auth = `Bearer ${key}`;
    const put = await admin.call('PUT', '/api/config', (await admin.get('/api/config')).body.config, { auth });
    expect(put.status).toBe(200);
    expect((await admin.call('DELETE', `/api/admin-keys/${created.body.apiKey.id}`)).status).toBe(200);
    const after = await admin.call('GET', '/api/config', undefined, { auth });
    expect(after.status).toBe(401);
    expect(after.body.error).toBe('admin_auth_required');
    const bogus = await admin.call('GET', '/api/config', undefined, { auth: 'Bearer jasadm_nope' });
    expect(bogus.body.error).toBe('admin_auth_required');
  });

  it('logout ends the session', async () => {
    const c = new AdminClient(sc.adminUrl);
    await c.login();
    expect((await c.call('POST', '/api/logout', {})).status).toBe(200);
    const r = await c.get('/api/config');
    expect(r.body.error).toBe('admin_auth_required');
  });
});

describe('login backoff and password change', () => {
  it('throttles after repeated failures, even for the right password', async () => {
    const s = await startTestSidecar(upstream.url);
    try {
      const c = new AdminClient(s.adminUrl);
      const codes: string[] = [];
      for (let i = 0; i < 6; i++) codes.push((await c.login('admin', 'wrong-password-123')).body.error);
      expect(codes.slice(0, 5)).toEqual(Array(5).fill('login_failed'));
      expect(codes[5]).toBe('login_throttled');
      const right = await c.login();
      expect(right.status).toBe(429);
      expect(right.body.error).toBe('login_throttled');
      expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await s.close();
    }
  });

  it('changes the password: old one refused, new one works, other sessions end', async () => {
    const s = await startTestSidecar(upstream.url);
    try {
      const a = new AdminClient(s.adminUrl);
      const b = new AdminClient(s.adminUrl);
      await a.login();
      await b.login();
      const weak = await a.call('POST', '/api/password', { currentPassword: ADMIN_PASSWORD, newPassword: 'short' });
      expect(weak.status).toBe(400);
      expect(weak.body.issues[0].path).toBe('newPassword');
      const ok = await a.call('POST', '/api/password', { currentPassword: ADMIN_PASSWORD, newPassword: 'a-new-long-password' });
      expect(ok.status).toBe(200);
      a.csrf = ok.body.csrfToken;
      a.cookie = ok.headers.get('set-cookie')!.split(';')[0];
      expect((await a.get('/api/config')).status).toBe(200);
      expect((await b.get('/api/config')).body.error).toBe('admin_auth_required');
      expect((await new AdminClient(s.adminUrl).login('admin', ADMIN_PASSWORD)).body.error).toBe('login_failed');
      expect((await new AdminClient(s.adminUrl).login('admin', 'a-new-long-password')).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});

describe('GET/PUT /api/config', () => {
  it('reports every bad field as issues[] {path, message} and changes nothing', async () => {
    const before = (await admin.get('/api/config')).body;
    const c = structuredClone(before.config);
    c.access.ipAllowlist = ['10.0.0.0/8', '300.1.1.1/33'];
    c.rateLimit.points = 0;
    c.rateLimtTypo = true;
    const r = await admin.call('PUT', '/api/config', c);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('config_invalid');
    const paths = (r.body.issues as Array<{ path: string; message: string }>).map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['rateLimit.points']));
    expect(paths.some((p) => p === 'rateLimtTypo' || p === '(root)')).toBe(true);
    delete c.rateLimtTypo;
    c.rateLimit.points = 10;
    const r2 = await admin.call('PUT', '/api/config', c);
    expect(r2.body.issues).toEqual([expect.objectContaining({ path: 'access.ipAllowlist[1]' })]);
    expect((await admin.get('/api/config')).body.version).toBe(before.version);
  });

  it('refuses issuers sharing an iss and identity overrides naming no issuer, by path', async () => {
    const before = (await admin.get('/api/config')).body;
    const c = structuredClone(before.config);
    const issuer = { issuer: 'https://idp.example.test/', audiences: ['api://jira'], keys: { jwksUri: 'https://idp.example.test/keys' } };
    c.jwt.issuers = [{ name: 'corp', ...issuer }, { name: 'corp-too', ...issuer }];
    c.upstream.identity.issuers = { crop: 'header' };
    const r = await admin.call('PUT', '/api/config', c);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('config_invalid');
    expect(r.body.issues).toEqual([
      { path: 'jwt.issuers[1].issuer', message: expect.stringContaining('"corp"') },
      { path: 'upstream.identity.issuers.crop', message: expect.stringContaining('did you mean "corp"') },
    ]);
    expect((await admin.get('/api/config')).body.version).toBe(before.version);
  });

  it('applies a saved change without a restart, and records it in admin activity', async () => {
    const created = await admin.call('POST', '/api/tokens', { owner: 'bob', name: 'ro-test', groups: ['auditors'] });
    expect(created.status).toBe(201);
    const token = created.body.token as string;
    expect((await proxyGet(sc.proxyUrl, '/rest/api/2/issue', token, 'POST')).status).not.toBe(403);
    const put = await admin.editConfig((c) => (c.access.readOnlyGroups = ['auditors']));
    expect(put.status).toBe(200);
    expect(put.body.changes).toEqual([expect.objectContaining({ path: 'access.readOnlyGroups', after: ['auditors'] })]);
    const refused = await proxyGet(sc.proxyUrl, '/rest/api/2/issue', token, 'POST');
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: string }).error).toBe('read_only');
    const act = await admin.get('/api/admin-activity');
    expect(act.body.items.some((i: any) => i.action === 'config.update')).toBe(true);
  });

  it('PATCH /api/tokens/:id edits name, paths, IP list, rate limit and expiry (never beyond maxLifetimeDays), one activity row per change, no secret', async () => {
    const created = await admin.call('POST', '/api/tokens', { owner: 'bob', name: 'edit-me', days: 5 });
    expect(created.status).toBe(201);
    const { id, token } = created.body as { id: string; token: string };
    const max = (await admin.get('/api/config')).body.config.apiTokens.maxLifetimeDays as number;
    const later = new Date(Date.now() + (max - 1) * 86_400_000).toISOString();
    const ok = await admin.call('PATCH', `/api/tokens/${id}`, { name: 'edited', paths: ['/rest/api/2/search'], ipAllowlist: ['127.0.0.1/32', '::1'], rateLimit: { points: 100, durationSec: 60 }, expiresAt: later });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ id, name: 'edited', paths: ['/rest/api/2/search'], ipAllowlist: ['127.0.0.1/32', '::1'], rateLimit: { points: 100, durationSec: 60 } });
    expect(Date.parse(ok.body.expiresAt)).toBe(Date.parse(later));
    // The narrowed paths apply at once.
    expect((await proxyGet(sc.proxyUrl, '/rest/api/2/myself', token)).status).toBe(403);
    const tooLong = await admin.call('PATCH', `/api/tokens/${id}`, { expiresAt: new Date(Date.now() + (max + 1) * 86_400_000).toISOString() });
    expect(tooLong.status).toBe(400);
    expect(JSON.stringify(tooLong.body)).toContain('expiresAt');
    expect((await admin.call('PATCH', `/api/tokens/${id}`, { owner: 'mallory' })).status).toBe(400);
    expect((await admin.call('PATCH', `/api/tokens/${id}`, { rateLimit: null })).body.rateLimit ?? null).toBeNull();
    const act = (await admin.get('/api/admin-activity?limit=100')).body.items.filter((i: any) => i.action === 'token.update' && i.target === id);
    expect(act).toHaveLength(2);
    expect(JSON.stringify(act)).not.toContain(token);
    expect(JSON.stringify(act)).toContain('edit-me');
    await admin.call('DELETE', `/api/tokens/${id}`);
    expect((await admin.call('PATCH', `/api/tokens/${id}`, { name: 'x' })).status).toBe(404);
  });

  it('keeps secrets write-only: masked on GET, kept when the mask is sent back, never in activity', async () => {
    const secret = 'shared-secret-value-42';
    const set = await admin.editConfig((c) => (c.upstream.sharedSecret = secret));
    expect(set.status).toBe(200);
    const got = await admin.get('/api/config');
    expect(got.body.config.upstream.sharedSecret).toBe('********');
    expect(got.body.secrets).toContain('upstream.sharedSecret');
    expect(got.body.config.upstream.sharedSecretHeader).toBe('X-Sidecar-Secret'); // a header name, not a secret
    expect(JSON.stringify(got.body)).not.toContain(secret);
    // Send everything back (mask included) with another change: the secret survives.
    const again = await admin.editConfig((c) => (c.upstream.timeoutMs = 4000));
    expect(again.status).toBe(200);
    const created = await admin.call('POST', '/api/tokens', { owner: 'alice', name: 'secret-check' });
    const before = upstream.seen.length;
    expect((await proxyGet(sc.proxyUrl, '/rest/api/2/myself', created.body.token)).status).toBe(200);
    const seen = upstream.seen.slice(before).find((s) => s.url.startsWith('/rest/api/2/myself'))!;
    expect(seen.headers['x-sidecar-secret']).toBe(secret);
    const act = await admin.get('/api/admin-activity?limit=100');
    expect(JSON.stringify(act.body)).not.toContain(secret);
    const exported = await fetch(`${sc.adminUrl}/api/audit/export?format=ndjson`, { headers: { cookie: admin.cookie! } });
    expect(await exported.text()).not.toContain(secret);
  });

  it('never expands ${VAR} in values sent through the API', async () => {
    process.env.ADMIN_TEST_SECRET = 'expanded-value';
    const r = await admin.editConfig((c) => (c.upstream.sharedSecret = '${ADMIN_TEST_SECRET}'));
    expect(r.status).toBe(200);
    const created = await admin.call('POST', '/api/tokens', { owner: 'alice', name: 'var-check' });
    const before = upstream.seen.length;
    await proxyGet(sc.proxyUrl, '/rest/api/2/myself', created.body.token);
    const seen = upstream.seen.slice(before).find((s) => s.url.startsWith('/rest/api/2/myself'))!;
    expect(seen.headers['x-sidecar-secret']).toBe('${ADMIN_TEST_SECRET}');
  });

  it('persists changes in the database without a config file, replayed at the next start', async () => {
    const dataDir = tempDir();
    const s1 = await startTestSidecar(upstream.url, {}, { dataDir });
    const c1 = new AdminClient(s1.adminUrl);
    await c1.login();
    expect((await c1.editConfig((c) => (c.access.allowedGroups = ['jira-users']))).status).toBe(200);
    await s1.close();
    const s2 = await startTestSidecar(upstream.url, {}, { dataDir });
    try {
      const c2 = new AdminClient(s2.adminUrl);
      await c2.login();
      const got = await c2.get('/api/config');
      expect(got.body.config.access.allowedGroups).toEqual(['jira-users']);
      expect(got.body.source).toBe('database');
    } finally {
      await s2.close();
    }
  });

  it('writes a config file atomically, keeping comments and ${VAR} placeholders it did not change', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'sidecar.yaml');
    process.env.ADMIN_FILE_SECRET = 'from-env-secret';
    writeFileSync(
      file,
      [
        '# production sidecar',
        'server: { host: 127.0.0.1, port: 0, adminHost: 127.0.0.1, adminPort: 0, dataDir: ' + JSON.stringify(path.join(dir, 'data')) + ' }',
        'log: { level: silent }',
        'upstream:',
        `  url: ${upstream.url}`,
        '  sharedSecret: ${ADMIN_FILE_SECRET}  # from the vault',
        'access:',
        '  readOnlyGroups: [auditors] # keep me',
        '',
      ].join('\n'),
    );
    const loaded = loadConfig(file);
    if (!loaded.result.ok) throw new Error(JSON.stringify(loaded.result.issues));
    const s = await startSidecar({ config: loaded.result.config, raw: loaded.raw, configFile: file, logger: createLogger('silent') });
    try {
      const c = new AdminClient(s.adminUrl);
      await c.login();
      const meta = (await c.get('/api/config')).body;
      expect(meta.source).toBe('file');
      expect(meta.placeholders).toContain('upstream.sharedSecret');
      expect((await c.editConfig((x) => (x.access.allowedGroups = ['jira-users']))).status).toBe(200);
      const text = readFileSync(file, 'utf8');
      expect(text).toContain('# production sidecar');
      expect(text).toContain('sharedSecret: ${ADMIN_FILE_SECRET}');
      expect(text).toContain('# keep me');
      expect(text).toMatch(/allowedGroups:[\s\S]*jira-users/);
      expect(text).not.toContain('from-env-secret');
      const reloaded = loadConfig(file);
      expect(reloaded.result.ok && reloaded.result.config.access.allowedGroups).toEqual(['jira-users']);
      // A placeholder value cannot be changed here, and "${" cannot be injected into the file.
      const ph = await c.editConfig((x) => (x.upstream.sharedSecret = 'new-secret'));
      expect(ph.status).toBe(400);
      expect(ph.body.issues[0].path).toBe('upstream.sharedSecret');
      const inj = await c.editConfig((x) => (x.upstream.identityHeader = 'X-${HOME}'));
      expect(inj.status).toBe(400);
    } finally {
      await s.close();
    }
  });
});

describe('POST /api/test, tokens, UI headers', () => {
  it('explains a decision with verdicts and never calls Jira', async () => {
    const created = await admin.call('POST', '/api/tokens', { owner: 'alice', name: 'probe' });
    const before = upstream.seen.length;
    const r = await admin.call('POST', '/api/test', { token: created.body.token, method: 'GET', path: '/rest/api/2/myself', ip: '10.1.2.3' });
    expect(r.status).toBe(200);
    expect(r.body.decision.allow).toBe(true);
    expect(r.body.decision.identity.username).toBe('alice');
    expect(Array.isArray(r.body.decision.verdicts)).toBe(true);
    const bad = await admin.call('POST', '/api/test', { method: 'GET', path: 'no-slash', ip: 'nope' });
    expect(bad.status).toBe(400);
    expect(upstream.seen.length).toBe(before);
  });

  it('lists, searches and revokes tokens; the secret is shown once', async () => {
    const created = await admin.call('POST', '/api/tokens', { owner: 'carol', name: 'findme-token', access: 'read', days: 7 });
    expect(created.status).toBe(201);
    const list = await admin.get('/api/tokens?q=findme');
    expect(list.body.tokens.map((t: any) => t.id)).toEqual([created.body.id]);
    expect(JSON.stringify(list.body)).not.toContain(created.body.token);
    const bad = await admin.call('POST', '/api/tokens', { owner: 'carol', name: 'x', ipAllowlist: ['not-a-cidr'] });
    expect(bad.status).toBe(400);
    expect(bad.body.issues[0].path).toBe('ipAllowlist');
    const del = await admin.call('DELETE', `/api/tokens/${created.body.id}`);
    expect(del.body.status).toBe('revoked');
    expect((await proxyGet(sc.proxyUrl, '/rest/api/2/myself', created.body.token)).status).toBe(401);
  });

  it('reads an OpenID discovery document for the issuer editor', async () => {
    const idp = http.createServer((req, res) => {
      if (req.url === '/tenant/v2.0/.well-known/openid-configuration') {
        const base = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ issuer: `${base}/tenant/v2.0`, jwks_uri: `${base}/keys`, id_token_signing_alg_values_supported: ['RS256', 'HS256'] }));
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    try {
      const base = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
      const ok = await admin.call('POST', '/api/discovery', { url: `${base}/tenant/v2.0/` });
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ issuer: `${base}/tenant/v2.0`, jwksUri: `${base}/keys`, algorithms: ['RS256', 'HS256'] });
      const missing = await admin.call('POST', '/api/discovery', { url: `${base}/nope` });
      expect(missing.status).toBe(400);
      expect(missing.body.issues[0].path).toBe('url');
      const bad = await admin.call('POST', '/api/discovery', { url: 'file:///etc/passwd' });
      expect(bad.status).toBe(400);
    } finally {
      idp.close();
    }
  });

  it('an issuer added through the API is used at once: /api/test explains a JWT, the proxy accepts it', async () => {
    const idp = await startTokenIssuer();
    try {
      const disc = await admin.call('POST', '/api/discovery', { url: idp.url });
      expect(disc.status).toBe(200);
      const put = await admin.editConfig((c) =>
        c.jwt.issuers.push({ name: 'test-idp', issuer: disc.body.issuer, audiences: ['api://jira'], keys: { jwksUri: disc.body.jwksUri }, usernameClaim: 'preferred_username' }),
      );
      expect(put.status).toBe(200);
      const jwt = idp.sign({ aud: 'api://jira', preferred_username: 'alice', groups: ['jira-users'] });
      const t = await admin.call('POST', '/api/test', { token: jwt, method: 'GET', path: '/rest/api/2/myself' });
      expect(t.body.decision).toMatchObject({ allow: true, credentialKind: 'jwt', identity: { username: 'alice', issuer: 'test-idp' } });
      expect(t.body.decision.verdicts.some((v: any) => v.stage === 'verify')).toBe(true);
      expect((await proxyGet(sc.proxyUrl, '/rest/api/2/myself', jwt)).status).toBe(200);
      const wrongAud = idp.sign({ aud: 'api://other', preferred_username: 'alice' });
      const denied = await admin.call('POST', '/api/test', { token: wrongAud, method: 'GET', path: '/rest/api/2/myself' });
      expect(denied.body.decision.allow).toBe(false);
      expect(denied.body.decision.status).toBe(401);
    } finally {
      await admin.editConfig((c) => (c.jwt.issuers = c.jwt.issuers.filter((i: any) => i.name !== 'test-idp')));
      await idp.close();
    }
  });

  it('overview counts the last hour from the audit log in one-minute buckets', async () => {
    const before = (await admin.get('/api/overview')).body;
    expect(before.buckets).toHaveLength(60);
    const sent = Date.now();
    const r = await fetch(`${sc.proxyUrl}/rest/api/2/myself`);
    const answered = Date.now();
    expect(r.status).toBe(401);
    await expect.poll(async () => (await admin.get('/api/overview')).body.totals.denied, { timeout: 10_000 }).toBeGreaterThan(before.totals.denied);
    const after = (await admin.get('/api/overview')).body;
    expect(after.denialsByReason.map((d: any) => d.reason)).toContain('credential_kind_denied');
    // The bucket of the minute the request arrived in: by now not always the last one (a minute may have begun since).
    const minuteOf = (t: number) => t - (t % 60_000);
    const [bucket] = after.buckets.filter((b: any) => {
      const start = Date.parse(b.start);
      return start >= minuteOf(sent) && start <= minuteOf(answered) && b.requests > 0;
    });
    expect(bucket).toBeDefined();
    expect(typeof bucket.p50Ms).toBe('number');
  });

  it('serves the UI with a strict CSP, nosniff and no framing', async () => {
    const r = await fetch(`${sc.adminUrl}/`);
    expect(r.status).toBe(200);
    const csp = r.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    const trav = await fetch(`${sc.adminUrl}/..%2f..%2fpackage.json`);
    expect(trav.status).toBe(404);
  });
});

describe('settings read at start cannot be changed through the API', () => {
  it('store.*, server.replicaName and (without a config file) server.workers are refused with the path named; nothing changes', async () => {
    const before = (await admin.get('/api/config')).body.config;
    for (const [edit, path] of [
      [(c: any) => Object.assign(c.store, { kind: 'postgres', url: 'postgres://sidecar@db.example/sidecar' }), 'store.kind'],
      [(c: any) => (c.store.poolSize = 3), 'store.poolSize'],
      [(c: any) => (c.server.replicaName = 'renamed'), 'server.replicaName'],
      [(c: any) => (c.server.workers = 2), 'server.workers'],
    ] as Array<[(c: any) => void, string]>) {
      const r = await admin.editConfig(edit);
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('config_invalid');
      expect((r.body.issues as Array<{ path: string }>).map((i) => i.path)).toContain(path);
    }
    expect((await admin.get('/api/config')).body.config).toEqual(before);
  });
});
