// sidecar_idp_request_duration_seconds{kind,outcome}: every outbound call of the verifiers (JWKS,
// discovery, introspection, Jira group lookup) is timed and labelled by how it ended, with real
// endpoints on 127.0.0.1 that answer, refuse (503) or never answer. Counts are read from /metrics.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { rawRequest } from '../helpers/http.js';
import { nowSec, startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';

const AUD = 'api://jira-sidecar';
let upstream: JiraUpstream;
let keys: TokenIssuer; // JWKS answers; also the introspection endpoint
let disc: TokenIssuer; // keys through OIDC discovery
let hangs: TokenIssuer; // JWKS never answers
let down: TokenIssuer; // JWKS answers 503
let sc: TestSidecar;

/** count of sidecar_idp_request_duration_seconds per "kind/outcome", from the admin /metrics text. */
async function idpCounts(): Promise<Record<string, number>> {
  const text = await (await fetch(`${sc.adminUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^sidecar_idp_request_duration_seconds_count\{(.*)\} (\d+)$/gm)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    expect(Object.keys(labels).sort()).toEqual(['kind', 'outcome']); // no URL or other high-cardinality label
    out[`${labels.kind}/${labels.outcome}`] = Number(m[2]);
  }
  return out;
}

const call = (token: string) => rawRequest(sc.proxyUrl, { path: '/rest/test/echo', headers: [['Authorization', `Bearer ${token}`]] });
const errorOf = (r: { status: number; body: Buffer }) => (r.status === 200 ? 'ok' : (JSON.parse(r.body.toString()) as { error: string }).error);

beforeAll(async () => {
  upstream = await startJiraUpstream();
  [keys, disc, hangs, down] = await Promise.all([startTestIssuer(), startTestIssuer(), startTestIssuer(), startTestIssuer()]);
  hangs.jwksMode = 'hang';
  down.jwksMode = 'down';
  keys.clients.set('sidecar', { secret: 'introspection-secret' });
  const issuer = (name: string, idp: TokenIssuer, k: Record<string, string>) => ({
    name,
    issuer: idp.url,
    audiences: [AUD],
    keys: k,
    keyCache: { timeoutMs: 300 }, // cooldownSec stays 30: one fetch per source in this test
  });
  sc = await startTestSidecar(upstream.url, {
    jwt: {
      issuers: [
        { ...issuer('keys', keys, { jwksUri: keys.jwksUrl }), groupsOverage: 'jira' },
        issuer('disc', disc, { discovery: disc.url }),
        issuer('hangs', hangs, { jwksUri: hangs.jwksUrl }),
        issuer('down', down, { jwksUri: down.jwksUrl }),
      ],
    },
    jiraGroupLookup: { authorization: `Basic ${Buffer.from('svc-integration:secret').toString('base64')}`, timeoutMs: 2000 },
    introspection: { enabled: true, endpoint: keys.introspectionUrl, clientId: 'sidecar', clientSecret: 'introspection-secret', timeoutMs: 300 },
  });
});

afterAll(async () => {
  await sc?.close();
  await Promise.all([upstream?.close(), keys?.close(), disc?.close(), hangs?.close(), down?.close()]);
});

describe('sidecar_idp_request_duration_seconds', () => {
  it('times the key fetches of the start-up warm-up: ok, error (503) and timeout (no answer)', async () => {
    const want = { 'jwks/ok': 2, 'discovery/ok': 1, 'jwks/error': 1, 'jwks/timeout': 1 };
    await vi.waitFor(async () => expect(await idpCounts()).toMatchObject(want), { timeout: 15_000, interval: 50 });
    // The sources answered from memory (or cooldown) afterwards: no further fetch was timed.
    expect(errorOf(await call(disc.sign({ aud: AUD, preferred_username: 'bob' })))).toBe('ok');
    expect(errorOf(await call(hangs.sign({ aud: AUD, preferred_username: 'bob' })))).toBe('auth_unavailable');
    expect(errorOf(await call(down.sign({ aud: AUD, preferred_username: 'bob' })))).toBe('auth_unavailable');
    expect(await idpCounts()).toEqual(want);
  });

  it('times the Jira group lookup of a groups-overage token', async () => {
    const overage = { _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: 'https://graph.windows.net/x' } } };
    expect(errorOf(await call(keys.sign({ aud: AUD, preferred_username: 'alice', ...overage })))).toBe('ok');
    expect(await idpCounts()).toMatchObject({ 'jira_groups/ok': 1 });
  });

  it('times introspection: answered, refused (503) and not answered', async () => {
    const opaque = () => keys.issueOpaque({ username: 'alice', exp: nowSec() + 600 });
    expect(errorOf(await call(opaque()))).toBe('ok');
    keys.introspectionMode = 'down';
    expect(errorOf(await call(opaque()))).toBe('auth_unavailable');
    keys.introspectionMode = 'hang';
    expect(errorOf(await call(opaque()))).toBe('auth_unavailable');
    keys.introspectionMode = 'up';
    expect(await idpCounts()).toMatchObject({ 'introspection/ok': 1, 'introspection/error': 1, 'introspection/timeout': 1 });
  });
});
