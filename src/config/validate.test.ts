// validate() is the one gate for the file, `config validate` and PUT /api/config. Messages are user
// interface, so they are pinned (STYLE §6).
import { describe, expect, it } from 'vitest';
import { formatPath, isValidCidr, validate, type ConfigIssue } from './validate.js';
import { expandEnv, applyEnvOverrides } from './load.js';

/** A jwt.issuers entry with the fields every case needs (audience "x", JWKS at https://k); `extra` overrides. */
const issuer = (name: string, iss: string | string[], extra: Record<string, unknown> = {}) => ({ name, issuer: iss, audiences: ['x'], keys: { jwksUri: 'https://k' }, ...extra });

const issuesOf = (input: unknown): ConfigIssue[] => {
  const r = validate(input);
  if (r.ok) throw new Error('expected the config to be invalid');
  return r.issues;
};

describe('validate: valid input', () => {
  it('an empty document is valid and gets every default', () => {
    const r = validate({});
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.upstream).toMatchObject({ url: 'http://127.0.0.1:8080', identityHeader: 'X-Forwarded-User', timeoutMs: 30000 });
    expect(r.config.server).toMatchObject({ port: 8090, host: '0.0.0.0', adminPort: 8091, adminHost: '127.0.0.1', dataDir: './data' });
    expect(r.config.protectedPaths).toEqual(['/rest/']);
    expect(r.config.credentials.basic).toBe('deny');
    expect(r.config.rateLimit).toMatchObject({ enabled: true, points: 600, durationSec: 60, store: 'memory' });
    expect(r.config.audit).toMatchObject({ enabled: true, retentionDays: 90, maxEntries: 5_000_000 });
  });

  it('null and undefined mean "no file": defaults', () => {
    expect(validate(null).ok).toBe(true);
    expect(validate(undefined).ok).toBe(true);
  });

  it('the contract example issuer is valid', () => {
    const r = validate({
      jwt: {
        issuers: [
          {
            name: 'entra',
            issuer: 'https://login.microsoftonline.com/{tenantid}/v2.0',
            allowedTenants: ['t1'],
            audiences: ['api://jira-sidecar'],
            keys: { jwksUri: 'https://login.microsoftonline.com/common/discovery/v2.0/keys' },
            usernameRegex: '^([^@]+)@',
            clients: { claim: 'azp', allow: ['app'], jiraAccounts: { app: 'svc-integration' } },
          },
        ],
      },
    });
    expect(r.ok).toBe(true);
  });
});

describe('validate: every bad field by path, with pinned messages', () => {
  const rows: Array<[string, unknown, ConfigIssue[]]> = [
    ['wrong type', { server: { port: 'eighty' } }, [{ path: 'server.port', message: 'must be a number, not a string' }]],
    ['not a whole number', { server: { port: 80.5 } }, [{ path: 'server.port', message: 'must be a whole number' }]],
    ['a list where a group of settings belongs', { log: [] }, [{ path: 'log', message: 'must be a group of settings (name: value), not a list' }]],
    ['a string where "name: value" entries belong', { access: { groupIpAllowlists: 'x' } }, [{ path: 'access.groupIpAllowlists', message: 'must be a group of "name: value" entries, not a string' }]],
    ['a rate limit in words that cannot be read', { rateLimit: { groups: { 'jira-users': 'lots per minute' } } }, [{ path: 'rateLimit.groups.jira-users', message: 'write a rate limit like "100 per minute" (or "5 per second", "1000 per hour", "10 per 30 seconds")' }]],
    ['a scalar where a list belongs', { upstream: { stripHeaders: 'X-A' } }, [{ path: 'upstream.stripHeaders', message: 'must be a list, not a string' }]],
    ['below the minimum', { upstream: { timeoutMs: 0 } }, [{ path: 'upstream.timeoutMs', message: 'must be at least 1' }]],
    ['above the maximum', { server: { maxHeaderBytes: 99999999 } }, [{ path: 'server.maxHeaderBytes', message: 'must be at most 1048576' }]],
    ['not one of the options', { credentials: { basic: 'maybe' } }, [{ path: 'credentials.basic', message: 'must be one of "passthrough", "deny"' }]],
    ['empty string', { server: { dataDir: '' } }, [{ path: 'server.dataDir', message: 'must not be empty' }]],
    ['a secret of the wrong type is not echoed', { upstream: { sharedSecret: 123456 } }, [{ path: 'upstream.sharedSecret', message: 'must be a string, not a number' }]],
    ['not a URL', { upstream: { url: 'jira' } }, [{ path: 'upstream.url', message: 'must be an absolute http(s) URL, e.g. https://jira.example.com' }]],
    ['non-http URL', { upstream: { url: 'ftp://jira.example.com' } }, [{ path: 'upstream.url', message: 'must be an absolute http(s) URL, e.g. https://jira.example.com' }]],
    ['bad header name', { upstream: { stripHeaders: ['X Remote'] } }, [{ path: 'upstream.stripHeaders[0]', message: 'must be a valid HTTP header name' }]],
    ['unknown top-level key, close to a real one', { rateLimt: {} }, [{ path: 'rateLimt', message: 'unknown setting (did you mean "rateLimit"?)' }]],
    ['unknown nested key', { upstream: { urll: 'x' } }, [{ path: 'upstream.urll', message: 'unknown setting (did you mean "url"?)' }]],
    ['unknown key, nothing close', { zzzzzzzz: 1 }, [{ path: 'zzzzzzzz', message: 'unknown setting' }]],
    [
      'bad bypass pattern',
      { bypass: ['rest/x'] },
      [{ path: 'bypass[0]', message: 'use an exact path "/rest/x", a prefix "/rest/x/*", or "METHOD /path" (e.g. "GET /rest/api/2/serverInfo")' }],
    ],
    ['bad CIDR', { access: { trustedProxies: ['10.0.0.0/33'] } }, [{ path: 'access.trustedProxies[0]', message: '"10.0.0.0/33" is not an IPv4/IPv6 address or CIDR (e.g. 10.0.0.0/8, 2001:db8::/32)' }]],
    [
      'issuer without keys',
      { jwt: { issuers: [{ name: 'a', issuer: 'https://i', audiences: ['x'], keys: {} }] } },
      [{ path: 'jwt.issuers[0].keys', message: 'set one of jwksUri, discovery, publicKeyPem, certificatePem' }],
    ],
    [
      'issuer with two key sources',
      { jwt: { issuers: [issuer('a', 'https://i', { keys: { jwksUri: 'https://k', publicKeyPem: 'x' } })] } },
      [{ path: 'jwt.issuers[0].keys', message: 'set only one of jwksUri, discovery, publicKeyPem, certificatePem (found jwksUri, publicKeyPem)' }],
    ],
    [
      'HMAC algorithm',
      { jwt: { issuers: [issuer('a', 'https://i', { algorithms: ['HS256'] })] } },
      [
        {
          path: 'jwt.issuers[0].algorithms[0]',
          message: 'must be an asymmetric algorithm (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA); "none" and HMAC are never accepted',
        },
      ],
    ],
    [
      'username regex without a group',
      { jwt: { issuers: [issuer('a', 'https://i', { usernameRegex: '^[^@]+' })] } },
      [{ path: 'jwt.issuers[0].usernameRegex', message: 'needs a capture group: group 1 becomes the Jira username' }],
    ],
    [
      'duplicate issuer names',
      { jwt: { issuers: [issuer('a', 'https://i'), issuer('a', 'https://j')] } },
      [{ path: 'jwt.issuers[1].name', message: 'duplicate issuer name "a"' }],
    ],
    [
      'two issuers with the same iss: reported at the second, naming the first',
      { jwt: { issuers: [issuer('corp', 'https://idp.example.com/'), issuer('corp2', 'https://idp.example.com/', { audiences: ['y'], keys: { jwksUri: 'https://k2' } })] } },
      [{ path: 'jwt.issuers[1].issuer', message: 'issuer "corp" (jwt.issuers[0]) already accepts iss "https://idp.example.com/": a token\'s iss must select one issuer' }],
    ],
    [
      'an exact iss inside a list, shadowed by an allowed tenant of an earlier template',
      { jwt: { issuers: [issuer('entra', 'https://login.microsoftonline.com/{tenantid}/v2.0', { allowedTenants: ['T1'] }), issuer('old', ['https://sts.windows.net/t1/', 'https://login.microsoftonline.com/t1/v2.0'])] } },
      [{ path: 'jwt.issuers[1].issuer[1]', message: 'issuer "entra" (jwt.issuers[0]) already accepts iss "https://login.microsoftonline.com/t1/v2.0": a token\'s iss must select one issuer' }],
    ],
    [
      'two templates sharing an allowed tenant',
      { jwt: { issuers: [issuer('a', 'https://login.microsoftonline.com/{tenantid}/v2.0', { allowedTenants: ['t1', 't2'] }), issuer('b', 'https://login.microsoftonline.com/{tenantid}/v2.0', { allowedTenants: ['t2'], audiences: ['y'] })] } },
      [{ path: 'jwt.issuers[1].issuer', message: 'issuer "a" (jwt.issuers[0]) already accepts iss "https://login.microsoftonline.com/t2/v2.0": a token\'s iss must select one issuer' }],
    ],
    [
      'two "any iss" issuers',
      { jwt: { issuers: [issuer('a', '*'), issuer('env', '*', { audiences: ['*'], keys: { jwksUri: 'https://k2' } })] } },
      [{ path: 'jwt.issuers[1].issuer', message: 'issuer "a" (jwt.issuers[0]) already accepts any iss ("*"): only one issuer may' }],
    ],
    [
      'an identity-mode override for an unknown issuer, close to a real one',
      {
        jwt: { issuers: [issuer('entra', 'https://i')] },
        upstream: { identity: { issuers: { entar: 'credential-map' } } },
      },
      [{ path: 'upstream.identity.issuers.entar', message: 'no issuer named "entar" (did you mean "entra"?)' }],
    ],
    [
      'an identity-mode override for an unknown issuer, nothing close',
      { upstream: { identity: { issuers: { partners: 'header' } } } },
      [{ path: 'upstream.identity.issuers.partners', message: 'no issuer named "partners": use a jwt.issuers[].name or "introspection"' }],
    ],
    ['redis without URL', { rateLimit: { store: 'redis' } }, [{ path: 'rateLimit.redisUrl', message: 'required when store is "redis" (e.g. redis://127.0.0.1:6379)' }]],
    [
      'admin on the proxy port',
      { server: { port: 9000, adminPort: 9000, host: '127.0.0.1', adminHost: '127.0.0.1' } },
      [{ path: 'server.adminPort', message: 'the admin listener must not share the proxy port' }],
    ],
  ];
  for (const [name, input, expected] of rows) {
    it(name, () => {
      expect(issuesOf(input)).toEqual(expected);
    });
  }

  it('issuers whose iss differ only by a trailing slash, or by tenants, are distinct (pickIssuer compares exactly)', () => {
    const r = validate({
      jwt: {
        issuers: [
          issuer('a', 'https://idp.example.com'),
          issuer('b', 'https://idp.example.com/'),
          issuer('c', 'https://login.microsoftonline.com/{tenantid}/v2.0', { allowedTenants: ['t1'] }),
          issuer('d', 'https://login.microsoftonline.com/{tenantid}/v2.0', { allowedTenants: ['t2'] }),
          issuer('e', '*'),
        ],
      },
      upstream: { identity: { issuers: { a: 'header', e: 'header', introspection: 'header' } } },
    });
    expect(r.ok ? [] : r.issues).toEqual([]);
  });

  it('a shared iss is found even when the schema refused another field of the issuer', () => {
    const issues = issuesOf({
      jwt: {
        issuers: [
          issuer('a', 'https://i', { audiences: [] }),
          issuer('b', 'https://i'),
        ],
      },
    });
    expect(issues).toEqual([
      { path: 'jwt.issuers[0].audiences', message: 'list at least one audience (the aud your API is registered with)' },
      { path: 'jwt.issuers[1].issuer', message: 'issuer "a" (jwt.issuers[0]) already accepts iss "https://i": a token\'s iss must select one issuer' },
    ]);
  });

  it('schema errors and semantic errors are reported together, in one run', () => {
    const issues = issuesOf({ server: { port: -1 }, access: { ipAllowlist: ['300.1.1.1', '10.0.0.0/8'] } });
    expect(issues.map((i) => i.path).sort()).toEqual(['access.ipAllowlist[0]', 'server.port']);
  });

  it('semantic checks skip values the schema already refused (no double report)', () => {
    const issues = issuesOf({ access: { ipAllowlist: [42] } });
    expect(issues).toEqual([{ path: 'access.ipAllowlist[0]', message: 'must be a string, not a number' }]);
  });
});

describe('formatPath', () => {
  it.each([
    [['jwt', 'issuers', 0, 'keys'], 'jwt.issuers[0].keys'],
    [[], '(root)'],
    [['bypass', 3], 'bypass[3]'],
  ])('%j -> %s', (path, out) => expect(formatPath(path)).toBe(out));
});

describe('isValidCidr', () => {
  it.each([
    ['10.0.0.0/8', true],
    ['192.168.1.1', true],
    ['2001:db8::/32', true],
    ['::1', true],
    ['10.0.0.0/33', false],
    ['10.0.0', false],
    ['0x0a.0.0.1', false],
    ['167772161', false],
    ['010.0.0.1/8', false],
    ['::ffff:10.0.0.1', true],
    ['example.com', false],
  ])('%s -> %s', (v, ok) => expect(isValidCidr(v)).toBe(ok));
});

describe('${VAR} expansion (load.ts)', () => {
  it('expands in every string value, with :- fallbacks, and reports a missing variable by path', () => {
    const issues: ConfigIssue[] = [];
    const out = expandEnv(
      { upstream: { url: '${URL}', sharedSecret: '${MISSING}' }, list: ['${A:-fallback}', 'x${A:-}y'], n: 3 },
      { URL: 'http://j' },
      '',
      issues,
    );
    expect(out).toEqual({ upstream: { url: 'http://j', sharedSecret: '' }, list: ['fallback', 'xy'], n: 3 });
    expect(issues).toEqual([{ path: 'upstream.sharedSecret', message: 'environment variable MISSING is not set' }]);
  });

  it('never expands recursively (a value containing ${X} stays literal)', () => {
    expect(expandEnv('${A}', { A: '${B}', B: 'boom' })).toBe('${B}');
  });

  it('SIDECAR_* overrides win over the file and are typed', () => {
    const out = applyEnvOverrides({ server: { port: 1 } }, { SIDECAR_PORT: '9000', SIDECAR_UPSTREAM: 'http://u', SIDECAR_DATA_DIR: '/d' });
    expect(out).toEqual({ server: { port: 9000, dataDir: '/d' }, upstream: { url: 'http://u' } });
  });
});

describe('apiTokens.groupsFrom', () => {
  it('"jira" needs the Jira service credential; unset or "creation" does not', () => {
    const v = validate({ apiTokens: { groupsFrom: 'jira' } });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.issues).toEqual([expect.objectContaining({ path: 'apiTokens.groupsFrom', message: expect.stringContaining('jiraGroupLookup.authorization') })]);
    expect(validate({ apiTokens: { groupsFrom: 'jira' }, jiraGroupLookup: { authorization: 'Bearer pat' } }).ok).toBe(true);
    expect(validate({ apiTokens: { groupsFrom: 'creation' } }).ok).toBe(true);
  });
});
