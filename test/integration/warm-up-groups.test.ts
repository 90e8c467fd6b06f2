// The start-up warm-up where access.allowedGroups is set and anonymous callers are refused: its
// valid JWTs carry the first allowed group (three in four; one in four carries none), so they are
// allowed and the path to Jira and back (to the warm-up's own stand-in) is compiled before real
// traffic. With no group at all they were all refused, and nothing reached the forward stage.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';
import { until } from '../helpers/http.js';
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
    access: { allowedGroups: ['jira-software-users', 'jira-admins'] },
    jwt: { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl } }] },
  });
});
afterAll(async () => {
  vi.restoreAllMocks();
  await sc?.close();
  await upstream?.close();
  await issuer?.close();
});

describe('start-up warm-up with access.allowedGroups', () => {
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
  });
});
