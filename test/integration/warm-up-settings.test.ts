// The start-up warm-up under the settings a real deployment has (the README's Entra example and
// more): a username taken from the claim through usernameRegex, access.allowedGroups, a global
// access.ipAllowlist without loopback, and anonymous callers refused. The warm-up's valid JWTs must
// still be allowed, so the path to Jira and back (to the warm-up's own stand-in) is compiled before
// real traffic: their username claim is one the regex maps, three in four carry the first allowed
// group (one in four none), and the requests are judged as coming from an address of the allow-list.
// Before, each of these settings alone made every one of them a refusal, and nothing reached the
// forward stage.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';
import { rawRequest, until } from '../helpers/http.js';
import { collectRehearsedRows } from '../helpers/audit.js';
import type { AuditRecord } from '../../src/pipeline/audit/sink.js';

let upstream: JiraUpstream;
let issuer: TokenIssuer;
let sc: TestSidecar;
const rehearsed: AuditRecord[] = collectRehearsedRows();

beforeAll(async () => {
  upstream = await startJiraUpstream();
  issuer = await startTestIssuer();
  sc = await startTestSidecar(upstream.url, {
    server: { warmupRequests: 400 },
    credentials: { anonymous: 'deny' },
    access: { allowedGroups: ['jira-software-users', 'jira-admins'], ipAllowlist: ['10.20.0.0/16', '192.0.2.7'] },
    jwt: { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl }, usernameClaim: 'upn', usernameRegex: '^([^@]+)@corp\\.example$' }] },
  });
});
afterAll(async () => {
  vi.restoreAllMocks();
  await sc?.close();
  await upstream?.close();
  await issuer?.close();
});

describe('start-up warm-up under usernameRegex, allowedGroups and an IP allow-list', () => {
  it('its valid JWTs are allowed and reach its stand-in for Jira; Jira sees nothing', async () => {
    await until(async () => (await fetch(`${sc.adminUrl}/readyz`)).status === 200, 'ready after the warm-up');
    const jwtRows = rehearsed.filter((r) => r.credentialKind === 'jwt' && r.user?.startsWith('warm-up-'));
    const allowed = jwtRows.filter((r) => r.decision === 'allow');
    // 400 requests: 200 valid JWTs, three in four of them in the first allowed group.
    expect(allowed.length).toBe(150);
    expect(allowed.every((r) => r.upstreamStatus === 200 && r.status === 200)).toBe(true);
    // The one in four without a group is refused as any such caller would be.
    expect(jwtRows.filter((r) => r.reason === 'group_not_allowed')).toHaveLength(50);
    expect(upstream.seen).toHaveLength(0);
    // Judged as from the allow-list's first entry: only its own marked requests (rehearsed rows).
    expect(allowed.every((r) => r.clientIp === '10.20.0.0')).toBe(true);
  });

  it('afterwards a caller on loopback is judged by its own address, marker header or not', async () => {
    await until(async () => (await fetch(`${sc.adminUrl}/readyz`)).status === 200, 'ready after the warm-up');
    const token = issuer.sign({ aud: 'jira-sidecar', upn: 'alice@corp.example', groups: ['jira-software-users'] });
    for (const extra of [[], [['X-Sidecar-Warmup', 'a'.repeat(32)]]] as Array<Array<[string, string]>>) {
      const r = await rawRequest(sc.proxyUrl, { path: '/rest/api/2/myself', headers: [['Authorization', `Bearer ${token}`], ...extra] });
      expect(r.status).toBe(403);
      expect(JSON.parse(r.body.toString()).error).toBe('ip_not_allowed');
    }
    expect(upstream.seen).toHaveLength(0);
  });
});
