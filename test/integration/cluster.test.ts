// Two sidecar replicas on one PostgreSQL database (the run's real server, a fresh database): what
// one replica stores, the other enforces. Tokens, admin sessions, saved configuration and one audit
// log with a chain per replica. Each replica is the real startSidecar, on its own ports.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { verifyAll } from '../../src/audit/verify.js';
import { merge, startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { AdminClient, ADMIN_PASSWORD } from '../helpers/admin.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';
import { freshDatabase } from '../helpers/postgres.js';
import { rawRequest, until } from '../helpers/http.js';

process.env.SIDECAR_ADMIN_PASSWORD = ADMIN_PASSWORD;

let upstream: JiraUpstream;
let issuer: TokenIssuer;
let db: { url: string; drop(): Promise<void> };
let a: TestSidecar;
let b: TestSidecar;
let adminA: AdminClient;

const replica = (name: string) => ({
  server: { replicaName: name },
  store: { kind: 'postgres', url: db.url, poolSize: 4, syncIntervalMs: 200 },
  audit: { flushIntervalMs: 20 },
  rateLimit: { store: 'postgres', onStoreFailure: 'deny', groups: { 'limited-group': { points: 5, durationSec: 300 } } },
  jwt: { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl } }] },
});

beforeAll(async () => {
  upstream = await startJiraUpstream();
  issuer = await startTestIssuer();
  db = await freshDatabase('cluster');
  a = await startTestSidecar(upstream.url, replica('replica-a'));
  b = await startTestSidecar(upstream.url, replica('replica-b'));
  adminA = new AdminClient(a.adminUrl);
  expect((await adminA.login()).status).toBe(200);
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  await db?.drop();
  await upstream?.close();
  await issuer?.close();
});

const call = async (s: TestSidecar, method: string, path: string, headers: Array<[string, string]> = [], body?: string) => {
  const before = upstream.seen.length;
  const r = await rawRequest(s.proxyUrl, { method, path, headers, body });
  const text = r.body.toString();
  return { status: r.status, error: r.status >= 400 && text.startsWith('{') ? (JSON.parse(text) as { error?: string }).error : undefined, reached: upstream.seen.length - before };
};

describe('two replicas, one PostgreSQL store', () => {
  it('both are ready and say which store they use', async () => {
    for (const s of [a, b]) {
      const r = await fetch(`${s.adminUrl}/readyz`);
      const body = (await r.json()) as { checks: Array<{ name: string; ok: boolean; detail?: string }>; replica: string; store: string; config: { stored: number } };
      expect(r.status).toBe(200);
      expect(body.checks).toContainEqual({ name: 'store', ok: true, detail: 'postgres' });
      expect(body.checks.find((c) => c.name === 'config-sync')).toMatchObject({ ok: true });
      expect(body).toMatchObject({ replica: s === a ? 'replica-a' : 'replica-b', store: 'postgres', config: { stored: 0 } });
    }
  });

  it('an API token created on A works on B; revoked on B it is refused on A at the next request', async () => {
    const created = await adminA.call('POST', '/api/tokens', { owner: 'alice', name: 'cluster', groups: ['jira-users'] });
    expect(created.status).toBe(201);
    const bearer: [string, string] = ['Authorization', `Bearer ${created.body.token as string}`];
    expect(await call(b, 'GET', '/rest/api/2/myself', [bearer])).toMatchObject({ status: 200, reached: 1 });
    // A's admin session is B's too: the session lives in the shared store.
    const adminB = new AdminClient(b.adminUrl);
    adminB.cookie = adminA.cookie;
    adminB.csrf = adminA.csrf;
    expect((await adminB.call('DELETE', `/api/tokens/${created.body.id as string}`)).status).toBe(200);
    expect(await call(a, 'GET', '/rest/api/2/myself', [bearer])).toMatchObject({ status: 401, error: 'token_revoked', reached: 0 });
    expect(await call(b, 'GET', '/rest/api/2/myself', [bearer])).toMatchObject({ status: 401, error: 'token_revoked', reached: 0 });
  });

  it('a read-only group saved on A is enforced on B within the sync interval', async () => {
    const bob = ['Authorization', `Bearer ${issuer.sign({ aud: 'jira-sidecar', sub: 'id-bob', preferred_username: 'bob', groups: ['jira-users', 'auditors'] })}`] as [string, string];
    const write = () => call(b, 'POST', '/rest/api/2/issue', [bob, ['Content-Type', 'application/json']], '{}');
    expect((await write()).status).toBe(201);
    const saved = await adminA.editConfig((c) => (c.access.readOnlyGroups = ['auditors']));
    expect(saved.status).toBe(200);
    const t0 = Date.now();
    await until(async () => (await write()).error === 'read_only', 'B refuses the write as read_only');
    console.log(`config propagation A -> B: ${Date.now() - t0} ms (store.syncIntervalMs 200)`);
    const readyB = (await (await fetch(`${b.adminUrl}/readyz`)).json()) as { config: { stored: number } };
    expect(readyB.config.stored).toBe(1); // the first save in this database, applied on B
    expect(await write()).toMatchObject({ status: 403, error: 'read_only', reached: 0 });
  });

  it('a logout on B ends the session on A', async () => {
    const other = new AdminClient(b.adminUrl);
    expect((await other.login()).status).toBe(200);
    const onA = new AdminClient(a.adminUrl);
    onA.cookie = other.cookie;
    expect((await onA.get('/api/tokens')).status).toBe(200);
    expect((await other.call('POST', '/api/logout')).status).toBe(200);
    expect((await onA.get('/api/tokens')).status).toBe(401);
  });

  it('one rate limit for the cluster: exactly N of M requests spread over both replicas pass', async () => {
    const t = ['Authorization', `Bearer ${issuer.sign({ aud: 'jira-sidecar', sub: 'id-carol', preferred_username: 'carol', groups: ['limited-group'] })}`] as [string, string];
    const before = upstream.seen.length;
    const rs = await Promise.all(Array.from({ length: 16 }, (_, i) => call(i % 2 ? a : b, 'GET', '/rest/api/2/myself', [t])));
    expect(rs.filter((r) => r.status === 200).length).toBe(5);
    expect(rs.filter((r) => r.status === 429).map((r) => r.error)).toEqual(Array(11).fill('rate_limited'));
    expect(upstream.seen.length - before).toBe(5);
  });

  it('one audit log: rows of both replicas, each chain verifies', async () => {
    const t = ['Authorization', `Bearer ${issuer.sign({ aud: 'jira-sidecar', sub: 'id-alice', preferred_username: 'alice', groups: ['jira-users'] })}`] as [string, string];
    for (const s of [a, b, a, b]) expect((await call(s, 'GET', '/rest/api/2/myself', [t])).status).toBe(200);
    await until(async () => {
      const page = await adminA.get('/api/audit?user=alice&limit=100');
      return new Set((page.body.items as Array<{ replica: string }>).map((i) => i.replica)).size === 2;
    }, 'rows of both replicas in the audit log');
    const reports = await verifyAll(a.runtime.stores.audit);
    expect(reports.map((r) => `${r.chain.replica}/${r.chain.kind}`).sort()).toEqual(['replica-a/admin', 'replica-a/request', 'replica-b/admin', 'replica-b/request']);
    expect(reports.every((r) => r.ok)).toBe(true);
  });
});

describe('announced changes (PostgreSQL NOTIFY): no waiting for the periodic checks', () => {
  let c: TestSidecar;
  let d: TestSidecar;
  // Periodic checks a minute apart: whatever arrives within seconds came through the notification.
  const slow = (name: string) => merge(replica(name), { store: { syncIntervalMs: 60_000 }, apiTokens: { cacheMs: 60_000 } });
  beforeAll(async () => {
    c = await startTestSidecar(upstream.url, slow('replica-c'));
    d = await startTestSidecar(upstream.url, slow('replica-d'));
  });
  afterAll(async () => {
    await c?.close();
    await d?.close();
  });

  it("a revocation on C drops D's cached row at once", async () => {
    const settings = { prefix: 'jas_', maxLifetimeDays: 90 };
    const created = await c.runtime.deps.services.apiTokens!.create({ owner: 'dave', name: 'notify', groups: ['jira-users'], createdBy: 'test' }, settings);
    const bearer: [string, string] = ['Authorization', `Bearer ${created.token}`];
    expect((await call(d, 'GET', '/rest/api/2/myself', [bearer])).status).toBe(200); // cached on D for a minute
    await c.runtime.deps.services.apiTokens!.revoke(created.id);
    const t0 = Date.now();
    await until(async () => (await call(d, 'GET', '/rest/api/2/myself', [bearer])).error === 'token_revoked', 'D refuses the revoked token', 10_000);
    console.log(`revocation C -> D through NOTIFY: ${Date.now() - t0} ms (apiTokens.cacheMs 60000)`);
  });

  it('a configuration saved on C is applied on D at once', async () => {
    const adminC = new AdminClient(c.adminUrl);
    expect((await adminC.login()).status).toBe(200);
    const eve = ['Authorization', `Bearer ${issuer.sign({ aud: 'jira-sidecar', sub: 'id-eve', preferred_username: 'eve', groups: ['jira-users', 'notify-readers'] })}`] as [string, string];
    const write = () => call(d, 'POST', '/rest/api/2/issue', [eve, ['Content-Type', 'application/json']], '{}');
    expect((await write()).status).toBe(201);
    expect((await adminC.editConfig((cfg) => (cfg.access.readOnlyGroups = [...cfg.access.readOnlyGroups, 'notify-readers']))).status).toBe(200);
    const t0 = Date.now();
    await until(async () => (await write()).error === 'read_only', 'D applies the saved configuration', 10_000);
    console.log(`config C -> D through NOTIFY: ${Date.now() - t0} ms (store.syncIntervalMs 60000)`);
  });
});
