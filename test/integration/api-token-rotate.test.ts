// Token rotation (issue 19) through the real proxy: a new secret with the same grants, the old one
// accepted for the overlap and refused after it, from the admin API, the self-service API (the
// owner's JWT) and the CLI. The clock is the sidecar's own (injected), so "after the overlap" is exact.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { fixedClock } from '../../src/clock.js';
import { ROOT, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';
import { ADMIN_PASSWORD, AdminClient } from '../helpers/admin.js';

process.env.SIDECAR_ADMIN_PASSWORD = ADMIN_PASSWORD;
const HOUR = 3_600_000;
let upstream: JiraUpstream;
let issuer: TokenIssuer;
let sc: TestSidecar;
let admin: AdminClient;
const clock = fixedClock(Date.now());

const use = async (token: string) => (await fetch(`${sc.proxyUrl}/rest/api/2/myself`, { headers: { authorization: `Bearer ${token}` } })).status;
const errorOf = async (token: string) => ((await (await fetch(`${sc.proxyUrl}/rest/api/2/myself`, { headers: { authorization: `Bearer ${token}` } })).json()) as { error?: string }).error;

beforeAll(async () => {
  upstream = await startJiraUpstream();
  issuer = await startTestIssuer();
  sc = await startTestSidecar(
    upstream.url,
    { admin: { sessionTtlSec: 90 * 86_400 }, apiTokens: { creatorGroups: ['jira-developers'] }, jwt: { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl } }] } },
    { clock },
  );
  admin = new AdminClient(sc.adminUrl);
  await admin.login();
});

afterAll(async () => {
  await sc?.close();
  await upstream?.close();
  await issuer?.close();
});

describe('rotation', () => {
  it('admin API: same grants, the old secret works for the overlap and is refused after it', async () => {
    const made = await admin.call('POST', '/api/tokens', { owner: 'alice', name: 'zapier', access: 'read', paths: ['/rest/api/2/*'], ipAllowlist: ['127.0.0.1/32'], days: 30, rateLimit: { points: 50, durationSec: 60 } });
    expect(made.status).toBe(201);
    clock.advance(HOUR);
    const r = await admin.call('POST', `/api/tokens/${made.body.id}/rotate`, { overlapHours: 2 });
    expect(r.status).toBe(201);
    expect(r.body.token).toMatch(/^jas_/);
    expect(r.body.id).not.toBe(made.body.id);
    // The same grants and the same lifetime (30 days) from now.
    expect(r.body).toMatchObject({ owner: 'alice', name: 'zapier', access: 'read', paths: ['/rest/api/2/*'], ipAllowlist: ['127.0.0.1/32'], rateLimit: { points: 50, durationSec: 60 } });
    expect(Date.parse(r.body.expiresAt) - clock.now()).toBe(30 * 24 * HOUR);
    expect(Date.parse(r.body.rotatedFrom.expiresAt)).toBe(clock.now() + 2 * HOUR);

    expect(await use(made.body.token)).toBe(200);
    expect(await use(r.body.token)).toBe(200);
    clock.advance(2 * HOUR - 1000);
    expect(await use(made.body.token)).toBe(200);
    clock.advance(1000);
    expect(await errorOf(made.body.token)).toBe('token_expired');
    expect(await use(r.body.token)).toBe(200);
    // Every rotation is in admin activity, never with a secret.
    const act = await admin.call('GET', '/api/admin-activity?limit=5');
    const row = act.body.items.find((a: { action: string }) => a.action === 'token.rotate');
    expect(row).toMatchObject({ target: made.body.id, after: { newId: r.body.id } });
    expect(JSON.stringify(act.body)).not.toContain(r.body.token);
  });

  it('without an overlap the old secret is refused at once; revoked or expired tokens cannot be rotated', async () => {
    const made = await admin.call('POST', '/api/tokens', { owner: 'bob', name: 'old' });
    const r = await admin.call('POST', `/api/tokens/${made.body.id}/rotate`, {});
    expect(r.status).toBe(201);
    expect(await errorOf(made.body.token)).toBe('token_expired');
    expect((await admin.call('POST', `/api/tokens/${made.body.id}/rotate`, {})).status).toBe(404);
    await admin.call('DELETE', `/api/tokens/${r.body.id}`);
    expect((await admin.call('POST', `/api/tokens/${r.body.id}/rotate`, {})).status).toBe(404);
    expect((await admin.call('POST', '/api/tokens/tok_nope/rotate', {})).status).toBe(404);
    const bad = await admin.call('POST', `/api/tokens/${made.body.id}/rotate`, { overlapHours: -1 });
    expect(bad.status).toBe(400);
    expect(bad.body.issues[0].path).toBe('overlapHours');
  });

  it("self-service: the owner rotates with their JWT; someone else's token answers as unknown", async () => {
    const jwt = (u: string) => `Bearer ${issuer.sign({ aud: 'jira-sidecar', sub: `id-${u}`, preferred_username: u, groups: ['jira-developers'], exp: Math.floor(clock.now() / 1000) + 30 * 86_400 })}`;
    const mk = await fetch(`${sc.proxyUrl}/_sidecar/tokens`, { method: 'POST', headers: { authorization: jwt('carol'), 'content-type': 'application/json' }, body: JSON.stringify({ name: 'laptop' }) });
    const made = (await mk.json()) as { id: string; token: string };
    const other = await fetch(`${sc.proxyUrl}/_sidecar/tokens/${made.id}/rotate`, { method: 'POST', headers: { authorization: jwt('mallory'), 'content-type': 'application/json' }, body: '{"overlapHours":1}' });
    expect(other.status).toBe(404);
    const res = await fetch(`${sc.proxyUrl}/_sidecar/tokens/${made.id}/rotate`, { method: 'POST', headers: { authorization: jwt('carol'), 'content-type': 'application/json' }, body: '{"overlapHours":1}' });
    expect(res.status).toBe(201);
    const rotated = (await res.json()) as { id: string; token: string; rotatedFrom: { id: string } };
    expect(rotated.rotatedFrom.id).toBe(made.id);
    expect(await use(rotated.token)).toBe(200);
    expect(await use(made.token)).toBe(200);
    clock.advance(HOUR);
    expect(await errorOf(made.token)).toBe('token_expired');
    // An API token cannot rotate tokens (a leaked one must not renew itself).
    const self = await fetch(`${sc.proxyUrl}/_sidecar/tokens/${rotated.id}/rotate`, { method: 'POST', headers: { authorization: `Bearer ${rotated.token}`, 'content-type': 'application/json' }, body: '{}' });
    expect(self.status).toBe(403);
    expect((await fetch(`${sc.proxyUrl}/_sidecar/tokens/${rotated.id}/rotate`, { method: 'GET', headers: { authorization: jwt('carol') } })).status).toBe(400);
    expect((await fetch(`${sc.proxyUrl}/_sidecar/tokens/${rotated.id}/other`, { method: 'POST', headers: { authorization: jwt('carol') } })).status).toBe(404);
  });

  it('the CLI: token rotate ID --overlap 24h prints the new secret once and when the old one stops', async () => {
    const made = await admin.call('POST', '/api/tokens', { owner: 'dave', name: 'cron' });
    const run = promisify(execFile);
    const env = { ...process.env, SIDECAR_DATA_DIR: sc.dataDir, SIDECAR_CONFIG: '', SIDECAR_LOG_LEVEL: 'silent' };
    const out = await run(process.execPath, [path.join(ROOT, 'dist', 'main.js'), 'token', 'rotate', made.body.id, '--overlap', '24h', '--json'], { env });
    const j = JSON.parse(out.stdout) as { token: string; rotatedFrom: string; oldExpiresAt: string };
    expect(j.rotatedFrom).toBe(made.body.id);
    expect(Date.parse(j.oldExpiresAt) - Date.now()).toBeGreaterThan(23 * HOUR);
    await expect(run(process.execPath, [path.join(ROOT, 'dist', 'main.js'), 'token', 'rotate', made.body.id, '--overlap', 'soon'], { env })).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('--overlap must be a duration') });
  });
});
