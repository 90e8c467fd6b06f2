// Microsoft Entra ID token shapes against a real sidecar: v1 and v2 issuers, the {tenantid} template,
// service principals (client ACL + Jira account), groups/roles, and the groups-overage marker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { evaluate } from '../../src/pipeline/evaluate.js';
import type { RequestFacts } from '../../src/pipeline/state.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { rawRequest, type RawResponse } from '../helpers/http.js';
import { nowSec, startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';

const T1 = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const T2 = 'aaaaaaaa-1111-2222-3333-bbbbbbbbbbbb';
const T3 = 'cccccccc-4444-5555-6666-dddddddddddd';
const AUD = 'api://jira-sidecar';
const APP_A = '11111111-aaaa-4aaa-8aaa-111111111111';
const APP_NO_ACCOUNT = '22222222-bbbb-4bbb-8bbb-222222222222';
const APP_OTHER = '33333333-cccc-4ccc-8ccc-333333333333';
const V2 = (t: string) => `https://login.microsoftonline.com/${t}/v2.0`;
const V1 = (t: string) => `https://sts.windows.net/${t}/`;

let upstream: JiraUpstream;
let idp: TokenIssuer;
let sidecar: TestSidecar;

const bodyOf = (r: RawResponse) => JSON.parse(r.body.toString()) as Record<string, any>;
const call = (token: string) => rawRequest(sidecar.proxyUrl, { path: '/rest/test/echo', headers: [['Authorization', `Bearer ${token}`]] });
const outcome = (r: RawResponse) => (r.status === 200 ? `200 ${bodyOf(r).headers['x-forwarded-user']}` : `${r.status} ${bodyOf(r).error}`);

function facts(token: string): RequestFacts {
  return {
    method: 'GET',
    rawTarget: '/rest/api/2/myself',
    headers: { authorization: `Bearer ${token}` },
    rawHeaders: ['Authorization', `Bearer ${token}`],
    peerIp: '127.0.0.1',
    receivedAt: Date.now(),
  };
}

const v2User = (over: Record<string, unknown> = {}) => ({
  iss: V2(T1), tid: T1, aud: AUD, azp: 'web-client', scp: 'user_impersonation', ver: '2.0',
  oid: 'oid-alice', sub: 'pairwise-alice', preferred_username: 'alice@contoso.com', groups: ['g-eng'], roles: ['Jira.Reader'],
  exp: nowSec() + 600, nbf: nowSec() - 10, ...over,
});
const v1User = (over: Record<string, unknown> = {}) => ({
  iss: V1(T1), tid: T1, aud: AUD, appid: 'web-client', scp: 'user_impersonation', ver: '1.0',
  oid: 'oid-alice', upn: 'alice@contoso.com', unique_name: 'alice@contoso.com', exp: nowSec() + 600, ...over,
});
const v2App = (azp: string, over: Record<string, unknown> = {}) => ({
  iss: V2(T1), tid: T1, aud: AUD, azp, azpacr: '2', idtyp: 'app', roles: ['Jira.ReadWrite'], oid: 'oid-sp', sub: 'oid-sp', ver: '2.0', exp: nowSec() + 600, ...over,
});

beforeAll(async () => {
  upstream = await startJiraUpstream();
  idp = await startTestIssuer();
  const keys = { jwksUri: idp.jwksUrl };
  const common = { audiences: [AUD], keys, keyCache: { cooldownSec: 0 }, usernameRegex: '^([^@]+)@' };
  sidecar = await startTestSidecar(upstream.url, {
    jiraGroupLookup: { authorization: `Basic ${Buffer.from('svc-integration:secret').toString('base64')}`, cacheSec: 300 },
    jwt: {
      issuers: [
        {
          ...common,
          name: 'entra',
          issuer: V2(T1),
          usernameClaim: ['preferred_username', 'upn'],
          clients: { claim: 'azp', allow: [APP_A, APP_NO_ACCOUNT], jiraAccounts: { [APP_A]: 'svc-integration' } },
          groupsOverage: 'jira',
        },
        {
          ...common,
          name: 'entra-v1',
          issuer: V1(T1),
          usernameClaim: ['upn', 'unique_name'],
          clients: { claim: 'appid', allow: [APP_A], jiraAccounts: { [APP_A]: 'svc-integration' } },
          groupsOverage: 'deny',
        },
        {
          ...common,
          name: 'entra-multi',
          issuer: ['https://login.microsoftonline.com/{tenantid}/v2.0', 'https://sts.windows.net/{tenantid}/'],
          allowedTenants: [T2, T3],
          usernameClaim: ['preferred_username', 'upn'],
        },
      ],
    },
  });
});

afterAll(async () => {
  await sidecar?.close();
  await Promise.all([upstream?.close(), idp?.close()]);
});

describe('Entra ID user tokens', () => {
  it('v2: preferred_username, azp, groups and roles', async () => {
    const t = idp.sign(v2User());
    expect(outcome(await call(t))).toBe('200 alice');
    const { decision } = await evaluate(facts(t), sidecar.runtime.deps);
    expect(decision.identity).toMatchObject({ username: 'alice', issuer: 'entra', clientId: 'web-client', isServicePrincipal: false, groups: ['g-eng'], roles: ['Jira.Reader'] });
    expect(decision.identity?.expiresAt).toBeGreaterThan(nowSec());
  });

  it('v1: upn and appid', async () => {
    const t = idp.sign(v1User());
    expect(outcome(await call(t))).toBe('200 alice');
    const { decision } = await evaluate(facts(t), sidecar.runtime.deps);
    expect(decision.identity).toMatchObject({ username: 'alice', issuer: 'entra-v1', clientId: 'web-client', isServicePrincipal: false });
  });
});

describe('multi-tenant {tenantid} template', () => {
  it('accepts an allowed tenant in the v2 and v1 forms', async () => {
    expect(outcome(await call(idp.sign(v2User({ iss: V2(T2), tid: T2 }))))).toBe('200 alice');
    expect(outcome(await call(idp.sign(v1User({ iss: V1(T3), tid: T3 }))))).toBe('200 alice');
  });
  it('refuses a tenant that is not allowed', async () => {
    const other = '99999999-9999-9999-9999-999999999999';
    expect(outcome(await call(idp.sign(v2User({ iss: V2(other), tid: other }))))).toBe('401 issuer_unknown');
  });
  it('refuses a token whose tid differs from the tenant in iss', async () => {
    expect(outcome(await call(idp.sign(v2User({ iss: V2(T2), tid: T3 }))))).toBe('401 token_invalid');
  });
  it('refuses a template match without tid', async () => {
    expect(outcome(await call(idp.sign(v2User({ iss: V2(T2), tid: undefined }))))).toBe('401 token_invalid');
  });
});

describe('service principals (app-only tokens)', () => {
  it('v2 idtyp=app: allowed client acts as its Jira account', async () => {
    const t = idp.sign(v2App(APP_A));
    expect(outcome(await call(t))).toBe('200 svc-integration');
    const { decision } = await evaluate(facts(t), sidecar.runtime.deps);
    expect(decision.identity).toMatchObject({ username: 'svc-integration', isServicePrincipal: true, clientId: APP_A, roles: ['Jira.ReadWrite'] });
  });
  it('v2 without idtyp: roles and no scp make it app-only', async () => {
    expect(outcome(await call(idp.sign(v2App(APP_A, { idtyp: undefined }))))).toBe('200 svc-integration');
  });
  it('v1 app token: the ACL reads appid', async () => {
    expect(outcome(await call(idp.sign({ ...v2App(APP_A), iss: V1(T1), azp: undefined, appid: APP_A, ver: '1.0' })))).toBe('200 svc-integration');
  });
  it('v1 app token with azp but no appid is refused', async () => {
    expect(outcome(await call(idp.sign({ ...v2App(APP_A), iss: V1(T1), ver: '1.0' })))).toBe('403 client_not_allowed');
  });
  it('a client not in clients.allow is refused (rule client-acl)', async () => {
    const before = upstream.seen.length;
    const t = idp.sign(v2App(APP_OTHER));
    expect(outcome(await call(t))).toBe('403 client_not_allowed');
    const { decision } = await evaluate(facts(t), sidecar.runtime.deps);
    expect(decision.rule).toBe('client-acl');
    expect(upstream.seen.length).toBe(before);
  });
  it('an allowed client without a Jira account is refused', async () => {
    const t = idp.sign(v2App(APP_NO_ACCOUNT));
    expect(outcome(await call(t))).toBe('403 client_not_allowed');
    expect((await evaluate(facts(t), sidecar.runtime.deps)).decision.rule).toBe('client-account');
  });
  it('an app-only token cannot pick its username through preferred_username', async () => {
    expect(outcome(await call(idp.sign(v2App(APP_A, { preferred_username: 'admin@contoso.com' }))))).toBe('200 svc-integration');
  });
});

describe('groups overage', () => {
  const overage = { groups: undefined, _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: 'https://graph.windows.net/x/users/y/getMemberObjects' } } };
  it('deny: _claim_names.groups is refused with groups_overage', async () => {
    expect(outcome(await call(idp.sign(v1User(overage))))).toBe('401 groups_overage');
  });
  it('deny: hasgroups (implicit flow marker) is refused too', async () => {
    expect(outcome(await call(idp.sign(v1User({ hasgroups: true }))))).toBe('401 groups_overage');
  });
  it('jira: groups come from Jira /rest/api/2/user?expand=groups, cached', async () => {
    const t = idp.sign(v2User(overage));
    const lookups = () => upstream.seen.filter((s) => s.url.startsWith('/rest/api/2/user?username=alice&expand=groups'));
    const before = lookups().length;
    expect(outcome(await call(t))).toBe('200 alice');
    const made = lookups().slice(before);
    expect(made).toHaveLength(1);
    expect(made[0]!.headers.authorization).toMatch(/^Basic /);
    const { decision } = await evaluate(facts(idp.sign(v2User({ ...overage, jti: 'another' }))), sidecar.runtime.deps);
    expect(decision.identity?.groups).toEqual(expect.arrayContaining(['jira-users', 'jira-developers']));
    expect(lookups().length - before).toBe(1); // the second token reused the cached groups
  });
});
