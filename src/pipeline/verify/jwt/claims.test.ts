import { describe, expect, it } from 'vitest';
import { issuerSchema } from '../../../config/schema.js';
import { identityFromClaims, isServicePrincipalToken } from './claims.js';
import { compileIssuer, pickIssuer } from './issuers.js';

const T1 = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const T2 = 'aaaaaaaa-1111-2222-3333-bbbbbbbbbbbb';
const issuer = (over: Record<string, unknown> = {}) =>
  compileIssuer(issuerSchema.parse({ name: 'entra', issuer: `https://login.microsoftonline.com/${T1}/v2.0`, audiences: ['api://x'], keys: { jwksUri: 'https://idp/keys' }, ...over }));

describe('pickIssuer', () => {
  const exact = issuer();
  const v1 = compileIssuer(issuerSchema.parse({ name: 'v1', issuer: `https://sts.windows.net/${T1}/`, audiences: ['a'], keys: { jwksUri: 'https://idp/keys' } }));
  const multi = compileIssuer(
    issuerSchema.parse({ name: 'multi', issuer: ['https://login.microsoftonline.com/{tenantid}/v2.0'], allowedTenants: [T2.toUpperCase()], audiences: ['a'], keys: { jwksUri: 'https://idp/keys' } }),
  );
  const star = compileIssuer(issuerSchema.parse({ name: 'env', issuer: '*', audiences: ['*'], keys: { jwksUri: 'https://idp/keys' } }));
  it.each([
    ['exact v2', [exact, v1, multi], `https://login.microsoftonline.com/${T1}/v2.0`, 'entra'],
    ['exact v1', [exact, v1, multi], `https://sts.windows.net/${T1}/`, 'v1'],
    ['v1 without the trailing slash', [exact, v1, multi], `https://sts.windows.net/${T1}`, undefined],
    ['template, allowed tenant (case-insensitive)', [exact, v1, multi], `https://login.microsoftonline.com/${T2}/v2.0`, 'multi'],
    ['template, other tenant', [exact, v1, multi], 'https://login.microsoftonline.com/99999999-0000-0000-0000-000000000000/v2.0', undefined],
    ['template cannot swallow a path', [multi], `https://login.microsoftonline.com/${T2}/x/v2.0`, undefined],
    ['regex characters in iss are literal', [exact], `https://login.microsoftonlineXcom/${T1}/v2.0`, undefined],
    ['non-string iss', [exact], ['x'], undefined],
    ['wildcard takes what nothing else names', [exact, star], 'https://anything', 'env'],
    ['a specific issuer wins over the wildcard', [star, exact], `https://login.microsoftonline.com/${T1}/v2.0`, 'entra'],
  ] as const)('%s', (_n, list, iss, expected) => {
    expect(pickIssuer(list, iss)?.issuer.name).toBe(expected);
  });
  it('audiences ["*"] means not checked', () => {
    expect(star.audiences).toBeUndefined();
    expect(exact.audiences).toEqual(['api://x']);
  });
});

describe('isServicePrincipalToken', () => {
  it.each([
    ['Entra idtyp=app', { idtyp: 'app', azp: 'a' }, true],
    ['Entra idtyp=user', { idtyp: 'user', roles: ['r'], tid: T1 }, false],
    ['Entra roles without scp', { tid: T1, roles: ['Jira.ReadWrite'], azp: 'a', sub: 'oid' }, true],
    ['Entra user with scp and roles', { tid: T1, roles: ['r'], scp: 'user_impersonation', sub: 'oid' }, false],
    ['RFC 9068: sub equals client_id', { sub: 'bot', client_id: 'bot' }, true],
    ['Auth0 gty', { gty: 'client-credentials', sub: 'x@clients' }, true],
    ['ordinary user', { sub: 'u1', azp: 'web', preferred_username: 'a@b' }, false],
    ['roles without tid (not Entra) is a user', { roles: ['admin'], sub: 'u1' }, false],
  ])('%s', (_n, claims, expected) => {
    expect(isServicePrincipalToken(claims)).toBe(expected);
  });
});

describe('identityFromClaims', () => {
  const entra = issuer({
    usernameClaim: ['preferred_username', 'upn'],
    usernameRegex: '^([^@]+)@',
    clients: { claim: 'azp', allow: ['app-a', 'app-b'], jiraAccounts: { 'app-a': 'svc-a' } },
  });
  const m = { issuer: entra };
  type R = ReturnType<typeof identityFromClaims>;
  const summary = (r: R) => (r.ok ? `${r.identity.username}${r.identity.isServicePrincipal ? ' (sp)' : ''}${r.overage ? ' overage' : ''}` : `${r.code} ${r.rule}`);
  it.each([
    ['first username claim', { preferred_username: 'alice@x.com', upn: 'other@x.com', tid: T1 }, 'alice'],
    ['falls back to the next claim', { upn: 'bob@x.com', tid: T1 }, 'bob'],
    ['empty claim is skipped', { preferred_username: '', upn: 'bob@x.com' }, 'bob'],
    ['no username claim', { sub: 'x' }, 'username_missing usernameClaim'],
    ['regex does not match', { preferred_username: 'alice' }, 'username_missing usernameRegex'],
    ['control characters', { preferred_username: 'al\nice@x.com' }, 'username_missing usernameClaim'],
    ['numeric claim is not a username', { preferred_username: 42, upn: 'carol@x.com' }, 'carol'],
    ['app-only allowed client', { idtyp: 'app', azp: 'app-a' }, 'svc-a (sp)'],
    ['app-only client not allowed', { idtyp: 'app', azp: 'app-z' }, 'client_not_allowed client-acl'],
    ['app-only client without account', { idtyp: 'app', azp: 'app-b' }, 'client_not_allowed client-account'],
    ['app-only reads only the configured claim', { idtyp: 'app', appid: 'app-a' }, 'client_not_allowed client-acl'],
    ['groups overage via _claim_names', { preferred_username: 'a@x', _claim_names: { groups: 'src1' } }, 'a overage'],
    ['groups overage via hasgroups', { preferred_username: 'a@x', hasgroups: true }, 'a overage'],
  ])('%s', (_n, claims, expected) => {
    expect(summary(identityFromClaims(claims, m))).toBe(expected);
  });

  it('maps groups, roles, client and expiry', () => {
    const r = identityFromClaims({ preferred_username: 'a@x', groups: ['g1', 7, 'g2'], roles: 'Reader', azp: 'web', exp: 123 }, m);
    expect(r.ok && r.identity).toMatchObject({ username: 'a', groups: ['g1', 'g2'], roles: ['Reader'], clientId: 'web', expiresAt: 123, issuer: 'entra', source: 'jwt' });
  });

  it('a template match requires tid to equal the tenant in iss', () => {
    const multi = issuer({ issuer: 'https://login.microsoftonline.com/{tenantid}/v2.0', allowedTenants: [T2] });
    expect(summary(identityFromClaims({ preferred_username: 'a', tid: T1 }, { issuer: multi, tenant: T2 }))).toBe('token_invalid tenant');
    expect(summary(identityFromClaims({ preferred_username: 'a', tid: T2 }, { issuer: multi, tenant: T2 }))).toBe('a');
  });
});
