// Start-up warm-up (rolling restarts): /readyz says ready only after the sidecar has sent itself
// server.warmupRequests requests through its real listener; none of them reached Jira or an
// identity provider, none was audited or counted, and afterwards the marker header means nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';
import { rawRequest, until } from '../helpers/http.js';

let upstream: JiraUpstream;
let issuer: TokenIssuer;
let sc: TestSidecar;
let readyAtFirstLook: number;

beforeAll(async () => {
  upstream = await startJiraUpstream();
  issuer = await startTestIssuer();
  sc = await startTestSidecar(upstream.url, {
    server: { warmupRequests: 600 },
    audit: { flushIntervalMs: 20 },
    jwt: { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl } }] },
  });
  readyAtFirstLook = (await fetch(`${sc.adminUrl}/readyz`)).status;
});
afterAll(async () => {
  await sc?.close();
  await upstream?.close();
  await issuer?.close();
});

describe('start-up warm-up', () => {
  it('is ready once warmed, and the warm-up reached neither Jira nor the IdP and left no audit row or count', async () => {
    await until(async () => (await fetch(`${sc.adminUrl}/readyz`)).status === 200, 'ready after the warm-up');
    const checks = ((await (await fetch(`${sc.adminUrl}/readyz`)).json()) as { checks: Array<{ name: string; ok: boolean }> }).checks;
    expect(checks).toContainEqual({ name: 'warm-up', ok: true });
    expect([200, 503]).toContain(readyAtFirstLook);
    expect(upstream.seen).toHaveLength(0);
    expect(issuer.jwksFetches).toBeLessThanOrEqual(1); // the start-up key fetch only: the warm-up asked no key source
    expect(issuer.introspections).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 100)); // a flush interval: rows would be written by now
    expect(await sc.runtime.stores.audit.count({})).toBe(0);
    const metrics = await (await fetch(`${sc.adminUrl}/metrics`)).text();
    expect(metrics).not.toMatch(/^sidecar_requests_total\{/m);
  });

  it('afterwards the marker header means nothing: the request is judged, forwarded and audited as any other', async () => {
    const before = upstream.seen.length;
    const r = await rawRequest(sc.proxyUrl, { path: '/rest/api/2/myself', headers: [['X-Sidecar-Warmup', 'a'.repeat(32)]] });
    expect(r.status).not.toBe(204);
    expect(upstream.seen.length).toBe(before + 1);
    await until(async () => (await sc.runtime.stores.audit.count({})) === 1, 'the request is audited');
  });
});
