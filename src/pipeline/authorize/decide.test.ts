import { describe, expect, it } from 'vitest';
import { policyFrom } from '../../../test/helpers/policy.js';
import type { Identity } from '../state.js';
import { accessView, decideAccess, findMethodOverride, type AccessFacts } from './decide.js';

const alice = (over: Partial<Identity> = {}): Identity => ({ username: 'alice', source: 'jwt', issuer: 'entra', groups: ['jira-users'], roles: [], isServicePrincipal: false, ...over });
const auditor = (over: Partial<Identity> = {}) => alice({ username: 'bob', groups: ['jira-users', 'auditors'], ...over });
const svc = (clientId: string) => alice({ username: 'svc-integration', groups: [], isServicePrincipal: true, clientId });
const token = (scope: Identity['scope'], over: Partial<Identity> = {}) => alice({ source: 'api-token', tokenId: 't1', issuer: undefined, scope, ...over });

const req = (over: Partial<Omit<AccessFacts, 'facts'>> & { method?: string; target?: string; headers?: Array<[string, string]> } = {}): AccessFacts => {
  const headers = over.headers ?? [];
  const target = over.target ?? '/rest/api/2/myself';
  return {
    facts: { method: over.method ?? 'GET', rawTarget: target, headers: Object.fromEntries(headers.map(([k, v]) => [k.toLowerCase(), v])), rawHeaders: headers.flat() },
    route: over.route ?? 'guarded',
    canonicalPath: over.canonicalPath ?? target.split('?')[0]!,
    pathAltered: over.pathAltered ?? false,
    clientIp: over.clientIp ?? '203.0.113.7',
    credentialKind: 'credentialKind' in over ? over.credentialKind : 'jwt',
  };
};

const base = {
  access: {
    readOnlyGroups: ['auditors'],
    groupIpAllowlists: { contractors: ['10.20.0.0/16', '2001:db8:20::/48'] },
  },
  jwt: {
    issuers: [{ name: 'entra', issuer: 'https://login.example/v2.0', audiences: ['api://jira'], keys: { jwksUri: 'https://login.example/keys' }, clients: { allow: ['app-ok'], jiraAccounts: { 'app-ok': 'svc-integration' } } }],
  },
};
const merge = (over: Record<string, unknown>) => ({ ...base, ...over, access: { ...base.access, ...((over.access as object) ?? {}) } });

type Row = [name: string, cfg: Record<string, unknown>, identity: Identity | undefined, facts: AccessFacts, expected: string];
const rows: Row[] = [
  // each rule alone
  ['plain user allowed', {}, alice(), req(), 'allowed'],
  ['unprotected skips everything', { access: { ipAllowlist: ['10.0.0.0/8'] } }, undefined, req({ route: 'unprotected' }), 'allowed'],
  ['lockdown + anonymous', {}, undefined, req({ route: 'lockdown', credentialKind: 'anonymous' }), 'lockdown'],
  ['lockdown + nothing classified counts as anonymous', {}, undefined, req({ route: 'lockdown', credentialKind: undefined }), 'lockdown'],
  ['lockdown + PAT passthrough: Jira decides', {}, undefined, req({ route: 'lockdown', credentialKind: 'jira-pat' }), 'allowed'],
  ['lockdown + session passthrough', {}, undefined, req({ route: 'lockdown', credentialKind: 'session' }), 'allowed'],
  ['guarded + anonymous passthrough', {}, undefined, req({ credentialKind: 'anonymous' }), 'allowed'],
  ['allowedGroups: member', { access: { allowedGroups: ['jira-users'] } }, alice(), req(), 'allowed'],
  ['allowedGroups: not a member', { access: { allowedGroups: ['jira-admins'] } }, alice(), req(), 'group_not_allowed'],
  ['allowedGroups: service principals use the client ACL', { access: { allowedGroups: ['jira-admins'] } }, svc('app-ok'), req(), 'allowed'],
  ['allowedGroups do not apply to passthrough', { access: { allowedGroups: ['jira-admins'] } }, undefined, req({ credentialKind: 'jira-pat' }), 'allowed'],
  ['client ACL: listed', {}, svc('app-ok'), req({ method: 'DELETE' }), 'allowed'],
  ['client ACL: not listed', {}, svc('app-evil'), req(), 'client_not_allowed'],
  ['client ACL: unknown issuer', {}, { ...svc('app-ok'), issuer: 'other' }, req(), 'client_not_allowed'],
  ['read-only: GET', {}, auditor(), req(), 'allowed'],
  ['read-only: HEAD', {}, auditor(), req({ method: 'HEAD' }), 'allowed'],
  ['read-only: OPTIONS', {}, auditor(), req({ method: 'OPTIONS' }), 'allowed'],
  ['read-only: PUT', {}, auditor(), req({ method: 'PUT', target: '/rest/api/2/issue/X-1' }), 'read_only'],
  ['read-only: DELETE', {}, auditor(), req({ method: 'DELETE', target: '/rest/api/2/issue/X-1' }), 'read_only'],
  ['read-only: lower-case get is not GET', {}, auditor(), req({ method: 'get' }), 'read_only'],
  ['read-only: POST search (readSafePosts)', {}, auditor(), req({ method: 'POST', target: '/rest/api/2/search', headers: [['Content-Type', 'application/json; charset=utf-8']] }), 'allowed'],
  ['read-only: POST search with a form body', {}, auditor(), req({ method: 'POST', target: '/rest/api/2/search', headers: [['Content-Type', 'application/x-www-form-urlencoded']] }), 'read_only'],
  ['read-only: POST search reached through dot-segments', {}, auditor(), req({ method: 'POST', target: '/rest/api/2/issue/..;/search', canonicalPath: '/rest/api/2/search', pathAltered: true }), 'read_only'],
  ['read-only: POST issue', {}, auditor(), req({ method: 'POST', target: '/rest/api/2/issue' }), 'read_only'],
  ['read-only wins over other groups', { access: { allowedGroups: ['jira-users'] } }, auditor({ groups: ['jira-users', 'jira-administrators', 'auditors'] }), req({ method: 'PUT' }), 'read_only'],
  // method override attempts (read-only identities)
  ['override header X-HTTP-Method-Override', {}, auditor(), req({ method: 'POST', target: '/rest/api/2/search', headers: [['X-HTTP-Method-Override', 'DELETE']] }), 'read_only'],
  ['override header X-HTTP-Method', {}, auditor(), req({ method: 'POST', target: '/rest/api/2/search', headers: [['X-HTTP-Method', 'PUT']] }), 'read_only'],
  ['override header X-Method-Override', {}, auditor(), req({ method: 'POST', target: '/rest/api/2/search', headers: [['x-method-override', 'PUT']] }), 'read_only'],
  ['override header, underscore spelling', {}, auditor(), req({ method: 'POST', target: '/rest/api/2/search', headers: [['X_HTTP_METHOD_OVERRIDE', 'DELETE']] }), 'read_only'],
  ['override header on a GET', {}, auditor(), req({ headers: [['X-HTTP-Method-Override', 'DELETE']] }), 'read_only'],
  ['override query _method', {}, auditor(), req({ method: 'POST', target: '/rest/api/2/search?_method=DELETE' }), 'read_only'],
  ['override query %5Fmethod', {}, auditor(), req({ method: 'POST', target: '/rest/api/2/search?a=1&%5Fmethod=PUT' }), 'read_only'],
  ['override query _METHOD', {}, auditor(), req({ target: '/rest/api/2/myself?_METHOD=DELETE' }), 'read_only'],
  ['override is fine for read-write users', {}, alice(), req({ method: 'POST', headers: [['X-HTTP-Method-Override', 'PUT']] }), 'allowed'],
  // API-token scope
  ['read token: GET', {}, token({ access: 'read', paths: [] }), req(), 'allowed'],
  ['read token: POST', {}, token({ access: 'read', paths: [] }), req({ method: 'POST', target: '/rest/api/2/issue' }), 'token_scope'],
  ['read token: POST search', {}, token({ access: 'read', paths: [] }), req({ method: 'POST', target: '/rest/api/2/search' }), 'allowed'],
  ['read token: override header', {}, token({ access: 'read', paths: [] }), req({ method: 'POST', target: '/rest/api/2/search', headers: [['X-HTTP-Method-Override', 'DELETE']] }), 'token_scope'],
  ['token paths: inside', {}, token({ access: 'write', paths: ['/rest/api/2/issue/*'] }), req({ method: 'PUT', target: '/rest/api/2/issue/X-1' }), 'allowed'],
  ['token paths: outside', {}, token({ access: 'write', paths: ['/rest/api/2/issue/*'] }), req({ target: '/rest/api/2/myself' }), 'token_scope'],
  ['token paths: only via dot-segments', {}, token({ access: 'write', paths: ['/rest/api/2/issue/*'] }), req({ canonicalPath: '/rest/api/2/issue/X', pathAltered: true }), 'token_scope'],
  ['token paths: method pattern', {}, token({ access: 'write', paths: ['GET /rest/api/2/*'] }), req({ method: 'DELETE', target: '/rest/api/2/issue/X-1' }), 'token_scope'],
  // IP allow-lists
  ['global allow-list: inside', { access: { ipAllowlist: ['203.0.113.0/24'] } }, alice(), req(), 'allowed'],
  ['global allow-list: outside', { access: { ipAllowlist: ['198.51.100.0/24'] } }, alice(), req(), 'ip_not_allowed'],
  ['global allow-list applies to passthrough kinds', { access: { ipAllowlist: ['198.51.100.0/24'] } }, undefined, req({ credentialKind: 'jira-pat' }), 'ip_not_allowed'],
  ['global allow-list, IPv6 client', { access: { ipAllowlist: ['2001:db8::/32'] } }, alice(), req({ clientIp: '2001:db8:5::1' }), 'allowed'],
  ['global allow-list, IPv4-mapped entry matches IPv4 client', { access: { ipAllowlist: ['::ffff:203.0.113.0/120'] } }, alice(), req(), 'allowed'],
  ['IPv4 list never matches an IPv6 client', { access: { ipAllowlist: ['0.0.0.0/0'] } }, alice(), req({ clientIp: '2001:db8::1' }), 'ip_not_allowed'],
  ['group allow-list: member inside', {}, alice({ groups: ['contractors'] }), req({ clientIp: '10.20.3.4' }), 'allowed'],
  ['group allow-list: member outside', {}, alice({ groups: ['contractors'] }), req(), 'ip_not_allowed'],
  ['group allow-list: member over IPv6', {}, alice({ groups: ['contractors'] }), req({ clientIp: '2001:db8:20::9' }), 'allowed'],
  ['group allow-list: non-member', {}, alice(), req(), 'allowed'],
  ['group list narrows the global one', { access: { ipAllowlist: ['10.0.0.0/8'] } }, alice({ groups: ['contractors'] }), req({ clientIp: '10.30.0.1' }), 'ip_not_allowed'],
  ['token allow-list: inside', {}, token(undefined, { ipAllowlist: ['203.0.113.7'] }), req(), 'allowed'],
  ['token allow-list: outside', {}, token(undefined, { ipAllowlist: ['192.0.2.0/24'] }), req(), 'ip_not_allowed'],
  ['token allow-list: unparsable entries allow nothing', {}, token(undefined, { ipAllowlist: ['nonsense'] }), req(), 'ip_not_allowed'],
  ['unparsable client address', { access: { ipAllowlist: ['0.0.0.0/0'] } }, alice(), req({ clientIp: 'unknown' }), 'ip_not_allowed'],
  // combinations
  ['bypass: allow-list still applies', { access: { ipAllowlist: ['198.51.100.0/24'] } }, undefined, req({ route: 'bypass', credentialKind: 'anonymous' }), 'ip_not_allowed'],
  ['bypass: bypassSkipsIpAllowlist', { access: { ipAllowlist: ['198.51.100.0/24'], bypassSkipsIpAllowlist: true } }, undefined, req({ route: 'bypass', credentialKind: 'anonymous' }), 'allowed'],
  ['read-only + bypass: no identity, not judged read-only', {}, undefined, req({ route: 'bypass', method: 'POST', credentialKind: 'jwt' }), 'allowed'],
  ['lockdown + anonymous + allowed IP', { access: { ipAllowlist: ['203.0.113.0/24'] } }, undefined, req({ route: 'lockdown', credentialKind: 'anonymous' }), 'lockdown'],
  ['lockdown + anonymous + wrong IP: lockdown is named first', { access: { ipAllowlist: ['198.51.100.0/24'] } }, undefined, req({ route: 'lockdown', credentialKind: 'anonymous' }), 'lockdown'],
  ['read-only + wrong IP: IP named first', { access: { ipAllowlist: ['198.51.100.0/24'] } }, auditor(), req({ method: 'PUT' }), 'ip_not_allowed'],
  ['read-only token of a read-only user over IPv6 allow-list', { access: { ipAllowlist: ['2001:db8::/32'] } }, token({ access: 'read', paths: [] }, { groups: ['auditors'] }), req({ clientIp: '2001:db8::7', method: 'POST', target: '/rest/api/2/search' }), 'allowed'],
];

describe('decideAccess', () => {
  for (const [name, cfg, identity, facts, expected] of rows) {
    it(name, () => {
      const d = decideAccess(identity, facts, accessView(policyFrom(merge(cfg))));
      expect(d.refusal?.code ?? 'allowed').toBe(expected);
    });
  }

  it('reports every rule, in order, even after a denial', () => {
    const d = decideAccess(auditor(), req({ method: 'DELETE' }), accessView(policyFrom(merge({ access: { allowedGroups: ['nobody'] } }))));
    expect(d.verdicts.map((v) => `${v.rule}:${v.outcome}`)).toEqual([
      'lockdown:skip',
      'ip-allowlist:skip',
      'client-acl:skip',
      'allowed-groups:deny',
      'read-only:deny',
      'token-scope:skip',
    ]);
    expect(d.refusal).toMatchObject({ code: 'group_not_allowed', rule: 'allowed-groups' });
  });
});

describe('findMethodOverride', () => {
  const f = (rawTarget: string, headers: Array<[string, string]> = []) => ({ method: 'POST', rawTarget, headers: {}, rawHeaders: headers.flat() });
  it('ignores look-alikes', () => {
    expect(findMethodOverride(f('/x?method=DELETE&__method=1&x_method=2'))).toBeUndefined();
    expect(findMethodOverride(f('/x', [['X-HTTP-Methods', 'x']]))).toBeUndefined();
  });
  it('finds the parameter among others', () => expect(findMethodOverride(f('/x?a=1;_method=PUT'))).toContain('_method'));
});
